#!/usr/bin/env bash
# Makes the Debian programs some tests drive for real available, in one apt transaction:
#   chromium      - the dashboard's browser test (tests/server/test_dashboard.py)
#   redis-server  - the Redis state backend tests (tests/state/), each on a throwaway loopback port
#   nginx         - the compose file's balancer config (tests/deploy/test_balancer.py)
#   prometheus    - promtool and the fleet rules (tests/deploy/test_prometheus_fleet.py)
# Sourced by scripts/test. Installs only what is missing and only when this machine can (root
# with apt-get); otherwise the tests that need a missing program are skipped and say why.
# LLM_SIMULATOR_SKIP_SYSTEM_PACKAGES=1 skips the install altogether.
_missing=()
command -v chromium >/dev/null 2>&1 || _missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || _missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || _missing+=(nginx)
command -v prometheus >/dev/null 2>&1 || _missing+=(prometheus)
if [ -z "${LLM_SIMULATOR_SKIP_SYSTEM_PACKAGES:-}" ] && [ "${#_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${_missing[*]} (Debian packages) for the tests that run them"
    if ! { apt-get update -qq >/dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${_missing[@]}" >/dev/null; }; then
      echo "warning: could not install ${_missing[*]}; the tests that need them will be skipped" >&2
    fi
  fi
fi
unset _missing
