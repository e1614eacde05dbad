#!/usr/bin/env bash
# Start llm-simulator in the background and wait for /health; used by action.yml, runnable alone.
# Inputs (environment): SIMULATOR_PORT (8080), SIMULATOR_ARGS (--no-latency), SIMULATOR_FIXTURES,
# SIMULATOR_BIN (llm-simulator), SIMULATOR_LOG (llm-simulator.log). Writes the URLs to
# $GITHUB_ENV / $GITHUB_OUTPUT when they exist, and the server's pid to SIMULATOR_PID_FILE.
set -euo pipefail
port="${SIMULATOR_PORT:-8080}"
url="http://127.0.0.1:${port}"
# shellcheck disable=SC2206  # the flags are meant to split on spaces
args=(${SIMULATOR_ARGS:---no-latency})
if [[ -n "${SIMULATOR_FIXTURES:-}" ]]; then
  args+=(--fixtures "${SIMULATOR_FIXTURES}")
fi
"${SIMULATOR_BIN:-llm-simulator}" serve --host 127.0.0.1 --port "${port}" "${args[@]}" \
  >"${SIMULATOR_LOG:-llm-simulator.log}" 2>&1 &
pid=$!
echo "${pid}" >"${SIMULATOR_PID_FILE:-llm-simulator.pid}"
for _ in $(seq 1 100); do
  if curl -fsS "${url}/health" >/dev/null 2>&1; then
    {
      echo "SIMULATOR_URL=${url}"
      echo "OPENAI_BASE_URL=${url}/v1"
      echo "ANTHROPIC_BASE_URL=${url}"
      echo "OPENAI_API_KEY=sk-test"
      echo "ANTHROPIC_API_KEY=sk-ant-test"
    } >>"${GITHUB_ENV:-/dev/null}"
    echo "url=${url}" >>"${GITHUB_OUTPUT:-/dev/null}"
    echo "llm-simulator is up at ${url} (pid ${pid})"
    exit 0
  fi
  if ! kill -0 "${pid}" 2>/dev/null; then
    echo "llm-simulator exited; its log:" >&2
    cat "${SIMULATOR_LOG:-llm-simulator.log}" >&2
    exit 1
  fi
  sleep 0.2
done
echo "llm-simulator did not answer ${url}/health in 20 s" >&2
kill "${pid}" 2>/dev/null || true
exit 1
