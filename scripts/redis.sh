#!/usr/bin/env bash
# Makes Debian's redis-server available for the state backend tests (tests/state/).
# Sourced by scripts/test. Installs it only when missing and when this machine can (root with
# apt-get); otherwise those tests are skipped and say why. The tests start their own
# throwaway server on a free 127.0.0.1 port; nothing listens after they end.
if [ -z "${LLM_SIMULATOR_SKIP_REDIS_INSTALL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing redis-server (Debian package) for the state backend tests"
    if ! { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }; then
      echo "warning: could not install redis-server; the Redis state tests will be skipped" >&2
    fi
  fi
fi
