#!/usr/bin/env bash
# Fuzzes the JSON API from its own OpenAPI document with schemathesis (issue #17): a real
# `cakupan serve` on a throwaway SQLite database, an administrator's token, and a bounded time
# (CAKUPAN_SCHEMATHESIS_SECONDS, default 60). Fails on any 5xx answer. Installs schemathesis
# from PyPI into a virtual environment under the cache directory; without Python it says so and
# skips.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cakupan/target}"
seconds="${CAKUPAN_SCHEMATHESIS_SECONDS:-60}"
if ! command -v python3 >/dev/null 2>&1; then
  echo "== no python3: the schemathesis run is skipped"
  exit 0
fi
venv="$HOME/.cache/cakupan/venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "== installing schemathesis (PyPI) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi

cargo build --locked -p cakupan --bin cakupan
bin="$CARGO_TARGET_DIR/debug/cakupan"
work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  scripts/kannel.sh stop "$work/kannel" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export CAKUPAN_DB="sqlite://$work/fuzz.db"
export CAKUPAN_KEYS_FILE="$work/keys"
# The cheapest Argon2 cost: the run is about answers, not password hashing.
export CAKUPAN_ARGON2="m=8,t=1,p=1"
export CAKUPAN_LOG=error
"$bin" keys generate --out "$CAKUPAN_KEYS_FILE" >/dev/null
password="schemathesis kebun teh pagi"
printf '%s\n' "$password" > "$work/pw"
"$bin" user add --username fuzzer --role admin --password-file "$work/pw" >/dev/null
# Administrators sign in with a TOTP second factor: its key, and the current code (RFC 6238).
key="$("$bin" user totp --username fuzzer | sed -n 's/^Key: //p')"
code="$(python3 -c '
import base64, hashlib, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = mac[-1] & 15
print("%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000))
' "$key")"
# One-time codes go through Kannel on loopback when it can run (a valid self-registration is
# otherwise answered 503: no SMS gateway).
if scripts/kannel.sh start "$work/kannel" > "$work/kannel.env" 2>/dev/null; then
  export $(cat "$work/kannel.env")
fi
"$bin" serve --listen 127.0.0.1:0 2> "$work/serve.log" &
server=$!
addr=""
for _ in $(seq 1 100); do
  addr="$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$work/serve.log" | head -n1)"
  [ -n "$addr" ] && break
  sleep 0.2
done
if [ -z "$addr" ]; then
  cat "$work/serve.log" >&2
  echo "the server did not start" >&2
  exit 1
fi
token="$(curl -s -X POST -H 'Content-Type: application/json' \
  -d "{\"username\":\"fuzzer\",\"password\":\"$password\",\"totp\":\"$code\"}" "http://$addr/api/v1/sessions" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

echo "== schemathesis against http://$addr for ${seconds}s (fails on any 5xx)"
# Signing out (`logout`) would end the run's own session: everything else is fuzzed. Run from
# the throwaway directory, so that schemathesis's cache (.schemathesis/) stays out of the clone.
(cd "$work" && "$venv/bin/schemathesis" run "http://$addr/api/v1/openapi.json" \
  --checks not_a_server_error \
  --header "Authorization: Bearer $token" \
  --exclude-operation-id logout \
  --max-time "$seconds" \
  --workers 2 \
  --request-timeout 30 \
  --suppress-health-check all \
  --warnings off)
if ! kill -0 "$server" 2>/dev/null; then
  cat "$work/serve.log" >&2
  echo "the server died during the run" >&2
  exit 1
fi
