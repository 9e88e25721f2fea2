#!/usr/bin/env bash
# Kannel on loopback as the SMS gateway of the tests and the demo (issue #20): Debian's
# `kannel` (bearerbox, smsbox) with its SMS-centre simulator `fakesmsc` (package
# `kannel-extras`), which prints every message the gateway carries.
#
#   scripts/kannel.sh install       install the Debian packages when missing (needs root)
#   scripts/kannel.sh start DIR     start the three on free loopback ports, config and logs in
#                                   DIR; prints the settings as shell assignments:
#                                   CAKUPAN_SMS_URL, CAKUPAN_SMS_USER, CAKUPAN_SMS_PASSWORD,
#                                   CAKUPAN_SMS_LOG (fakesmsc's output: "Got message …")
#                                   With CAKUPAN_SMS_INBOUND_BASE set (this server's address as
#                                   Kannel reaches it) replies from phones (the MO path) are
#                                   forwarded to BASE/api/v1/sms/inbound with a token it also
#                                   prints (CAKUPAN_SMS_INBOUND_TOKEN; or set that variable to
#                                   choose it); otherwise they get "Pesan tidak dikenali."
#   scripts/kannel.sh reply DIR FROM TEXT
#                                   a phone FROM (E.164) replies TEXT through the simulated SMS
#                                   centre of `start DIR` (its MO side)
#   scripts/kannel.sh stop DIR      stop what `start DIR` started
set -euo pipefail

FAKESMSC=/usr/lib/kannel/test/fakesmsc

have() { command -v bearerbox >/dev/null 2>&1 && command -v smsbox >/dev/null 2>&1 && [ -x "$FAKESMSC" ]; }

install() {
  have && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "Kannel is not installed: run as root, or apt-get install kannel kannel-extras" >&2
    return 1
  fi
  echo "== installing Debian packages: kannel kannel-extras" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel kannel-extras >/dev/null
  have
}

# A TCP port nobody listens on, on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "kannel: nothing listens on 127.0.0.1:$1" >&2
  return 1
}

start() {
  local dir="$1"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local admin box smsc mo sendsms password service token=""
  admin=$(free_port); box=$(free_port); smsc=$(free_port); mo=$(free_port); sendsms=$(free_port)
  password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  if [ -n "${CAKUPAN_SMS_INBOUND_BASE:-}" ]; then
    token="${CAKUPAN_SMS_INBOUND_TOKEN:-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')}"
    # %p the sender, %a the whole text; the answer's body (if any) is the SMS sent back.
    service="get-url = \"${CAKUPAN_SMS_INBOUND_BASE%/}/api/v1/sms/inbound?from=%p&text=%a&tag=$token\"
max-messages = 1
omit-empty = true"
  else
    service='text = "Pesan tidak dikenali."
max-messages = 0'
  fi
  cat > "$dir/kannel.conf" <<CONF
group = core
admin-port = $admin
admin-password = $password
admin-interface = 127.0.0.1
smsbox-port = $box
box-allow-ip = 127.0.0.1
log-file = "$dir/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = FAKE
port = $smsc
connect-allow-ip = 127.0.0.1

# The replies' side: \`reply\` connects here for a moment to hand in what a phone sent. No
# message from the gateway is routed to it.
group = smsc
smsc = fake
smsc-id = MO
allowed-smsc-id = MO-ONLY
port = $mo
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $box
sendsms-port = $sendsms
sendsms-interface = 127.0.0.1
log-file = "$dir/smsbox.log"
log-level = 1

group = sendsms-user
username = cakupan
password = $password
max-messages = 3
concatenation = true

group = sms-service
keyword = default
catch-all = true
$service
CONF
  bearerbox "$dir/kannel.conf" > "$dir/bearerbox.out" 2>&1 &
  echo $! > "$dir/bearerbox.pid"
  wait_port "$smsc"
  # -m 0: send nothing of its own; every message Kannel delivers is logged with its text
  # ("Got message N: <from to text …>", on its standard error).
  "$FAKESMSC" -H 127.0.0.1 -r "$smsc" -i 0.01 -m 0 "0 0 text nop" > "$dir/fakesmsc.log" 2>&1 &
  echo $! > "$dir/fakesmsc.pid"
  smsbox "$dir/kannel.conf" > "$dir/smsbox.out" 2>&1 &
  echo $! > "$dir/smsbox.pid"
  wait_port "$sendsms"
  echo "CAKUPAN_SMS_URL=http://127.0.0.1:$sendsms/cgi-bin/sendsms"
  echo "CAKUPAN_SMS_USER=cakupan"
  echo "CAKUPAN_SMS_PASSWORD=$password"
  echo "CAKUPAN_SMS_LOG=$dir/fakesmsc.log"
  echo "$mo" > "$dir/mo.port"
  [ -n "$token" ] && echo "CAKUPAN_SMS_INBOUND_TOKEN=$token"
  return 0
}

reply() {
  local dir="$1" from="$2" text="$3"
  # One message from FROM to the agency's number; fakesmsc stays connected afterwards, so it
  # is stopped after a moment (the message goes within its first 0.1 s).
  timeout 3 "$FAKESMSC" -H 127.0.0.1 -r "$(cat "$dir/mo.port")" -i 0.1 -m 1 "$from 1500 text $text" \
    >> "$dir/replies.log" 2>&1 || true
}

stop() {
  local dir="$1"
  for p in smsbox fakesmsc bearerbox; do
    if [ -f "$dir/$p.pid" ]; then
      kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
      rm -f "$dir/$p.pid"
    fi
  done
}

case "${1:-}" in
  install) install ;;
  start) install && start "${2:?start needs a directory}" ;;
  reply) reply "${2:?reply needs a directory}" "${3:?reply needs the sender}" "${4:?reply needs a text}" ;;
  stop) stop "${2:?stop needs a directory}" ;;
  *) echo "usage: $0 install | start DIR | reply DIR FROM TEXT | stop DIR" >&2; exit 2 ;;
esac
