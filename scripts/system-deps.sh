#!/usr/bin/env bash
# Install the Debian packages the test suite and benchmarks need, when they are missing.
# As root this uses apt-get; otherwise it prints what to install and continues, so the tests
# that need a missing program fail with a message naming it.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
command -v node >/dev/null && command -v npm >/dev/null || echo "battletest: node and npm are needed for the Toxiproxy client test (install Node.js 20+)" >&2
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # the packaged services must not run on their own: tests start their own instances
  for svc in nginx haproxy redis-server postgresql; do
    (service "$svc" stop >/dev/null 2>&1 || true)
  done
else
  echo "battletest: missing Debian packages: ${missing[*]}" >&2
  echo "battletest: install them with: sudo apt-get install ${missing[*]}" >&2
fi
