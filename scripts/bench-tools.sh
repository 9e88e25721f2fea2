#!/usr/bin/env bash
# Installs what `cakupan bench http` drives: wrk, the HTTP load generator (Debian's package).
# Needs root for apt; does nothing when wrk is already on the PATH.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  echo "wrk: $(command -v wrk)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "wrk is missing and installing it needs root: apt-get install wrk" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
echo "wrk: $(command -v wrk)"
