#!/usr/bin/env bash
# Makes Debian's Chromium available for the dashboard's browser test (tests/server/test_dashboard.py).
# Sourced by scripts/test. Installs it only when missing and when this machine can (root with
# apt-get); otherwise the browser test is skipped and says why.
if [ -z "${LLM_SIMULATOR_SKIP_BROWSER_INSTALL:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium (Debian package) for the dashboard browser test"
    if ! { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      echo "warning: could not install chromium; the browser test will be skipped" >&2
    fi
  fi
fi
