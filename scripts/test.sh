#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy, unit, property and golden
# tests, the store contract on SQLite and on PostgreSQL, the API, the CLI, the pages, and the
# pages again in a real Chromium; one-time codes go through Kannel on loopback.
#
# PostgreSQL: CAKUPAN_TEST_POSTGRES_URL if set; otherwise the local server on 127.0.0.1:5432
# (user postgres, trust auth), started if it is installed and down. Each test creates and drops
# its own database there. With CAKUPAN_REQUIRE_POSTGRES=1 (as .ci/run sets it) the run fails
# unless the PostgreSQL half really ran.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cakupan/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
require_pg="${CAKUPAN_REQUIRE_POSTGRES:-0}"

pg_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; }

# The tests call these programs: pg_dump (a dump must reveal no one), openssl (a test
# certificate) and curl (an HTTPS request to `serve --tls-cert`).
missing=""
for tool in pg_dump:postgresql-client openssl:openssl curl:curl; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
  echo "== installing Debian packages:$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if [ -z "${CAKUPAN_TEST_POSTGRES_URL:-}" ]; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && [ "$require_pg" = 1 ] && [ "$(id -u)" = 0 ]; then
    echo "== installing PostgreSQL (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "== starting the local PostgreSQL server"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  if pg_up; then
    export CAKUPAN_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
  fi
fi
if [ -n "${CAKUPAN_TEST_POSTGRES_URL:-}" ]; then
  echo "== PostgreSQL half: ${CAKUPAN_TEST_POSTGRES_URL}"
elif [ "$require_pg" = 1 ]; then
  echo "CAKUPAN_REQUIRE_POSTGRES=1 but no PostgreSQL server is reachable" >&2
  exit 1
else
  echo "== no PostgreSQL server: the PostgreSQL half is skipped"
fi

marker="$(mktemp)"
log="$(mktemp)"
kannel="$(mktemp -d)"
trap 'scripts/kannel.sh stop "$kannel"; rm -rf "$marker" "$log" "$kannel"' EXIT
export CAKUPAN_TEST_PG_MARKER="$marker"

# Kannel on loopback (issue #20): bearerbox and smsbox from Debian's `kannel`, the SMS centre
# simulated by `fakesmsc` (kannel-extras), both installed here when missing. The tests send
# one-time codes through it and read them from what the SMS centre received. With
# CAKUPAN_REQUIRE_KANNEL=1 (as .ci/run sets it) the run fails unless it runs.
require_kannel="${CAKUPAN_REQUIRE_KANNEL:-0}"
if scripts/kannel.sh start "$kannel" > "$kannel/env"; then
  echo "== Kannel on loopback: $(sed -n 's/^CAKUPAN_SMS_URL=//p' "$kannel/env")"
  while IFS='=' read -r k v; do export "CAKUPAN_TEST_${k#CAKUPAN_}=$v"; done < "$kannel/env"
  export CAKUPAN_REQUIRE_KANNEL=1
elif [ "$require_kannel" = 1 ]; then
  echo "CAKUPAN_REQUIRE_KANNEL=1 but Kannel cannot be installed or started" >&2
  exit 1
else
  echo "== no Kannel: the SMS tests are skipped"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee "$log"
# The suite again with the clock a year ahead (CAKUPAN_TODAY, the one clock of every command
# and the server): a test that reads the real date instead of fixing its own or building its
# scenario from the day it runs fails here the day it is written, not a year later.
ahead="$(date -u -d '+1 year' +%F)"
echo "== cargo test with the clock a year ahead (CAKUPAN_TODAY=$ahead)"
CAKUPAN_TODAY="$ahead" cargo test --workspace --locked 2>&1 | tee -a "$log"

# The parsers that take outside input, with many more generated cases than the run above
# (issue #17), then coverage-guided with cargo fuzz where a nightly toolchain is installed.
echo "== property tests of the parsers, 20,000 cases each"
PROPTEST_CASES=20000 cargo test --locked -p cakupan --test it parsers:: 2>&1 | tail -n 3
scripts/fuzz.sh
# The API from its own OpenAPI document: no input may get a 5xx.
scripts/schemathesis.sh

ran=$(wc -l < "$marker")
echo "== PostgreSQL contract tests run: $ran"
if [ "$require_pg" = 1 ] && [ "$ran" -lt 10 ]; then
  echo "the PostgreSQL half did not run (expected at least 10 tests, saw $ran)" >&2
  exit 1
fi

# The pages in a real browser: Debian's chromium driven by playwright-core (npm), never a
# downloaded browser. Both are installed here when missing (chromium needs root).
require_browser="${CAKUPAN_REQUIRE_BROWSER:-0}"
browser_ran=0
browser_missing=""
command -v chromium >/dev/null 2>&1 || browser_missing="$browser_missing chromium"
command -v npm >/dev/null 2>&1 || browser_missing="$browser_missing nodejs npm"
if [ -n "$browser_missing" ] && [ "$(id -u)" = 0 ]; then
  echo "== installing Debian packages:$browser_missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $browser_missing >/dev/null
fi
if command -v chromium >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  echo "== browser tests (tests/browser, screenshots in tests/browser/artifacts)"
  (cd tests/browser && { [ -d node_modules/playwright-core ] && [ -d node_modules/axe-core ] || npm ci --no-audit --no-fund --silent; })
  cargo build --locked -p cakupan --bin cakupan
  # The worker's self-registration reads its codes from Kannel (CAKUPAN_SMS_*, CAKUPAN_SMS_LOG).
  (cd tests/browser && env $(cat "$kannel/env") CAKUPAN_BIN="$CARGO_TARGET_DIR/debug/cakupan" CHROMIUM="$(command -v chromium)" node run.mjs)
  browser_ran=1
elif [ "$require_browser" = 1 ]; then
  echo "CAKUPAN_REQUIRE_BROWSER=1 but chromium or npm is missing and cannot be installed" >&2
  exit 1
else
  echo "== no chromium/npm: the browser tests are skipped"
fi

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "cargo: %d passed, %d failed\n", p, f }' "$log"
echo "browser tests run: $browser_ran"
