#!/usr/bin/env bash
# Makes Debian's nginx and prometheus (with promtool) available for the deployment tests
# (tests/deploy/test_balancer.py, test_prometheus_fleet.py), which run the compose balancer
# and Prometheus configs for real. Sourced by scripts/test. Installs only what is missing and
# only when this machine can (root with apt-get); otherwise those tests are skipped and say why.
_deploy_missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || _deploy_missing+=(nginx)
command -v prometheus >/dev/null 2>&1 || _deploy_missing+=(prometheus)
if [ -z "${LLM_SIMULATOR_SKIP_DEPLOY_TOOLS_INSTALL:-}" ] && [ "${#_deploy_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${_deploy_missing[*]} (Debian packages) for the deployment tests"
    if ! { apt-get update -qq >/dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${_deploy_missing[@]}" >/dev/null; }; then
      echo "warning: could not install ${_deploy_missing[*]}; the tests that run them will be skipped" >&2
    fi
  fi
fi
unset _deploy_missing
