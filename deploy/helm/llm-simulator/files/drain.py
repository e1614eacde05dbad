"""preStop hook: mark this pod not ready (POST /admin/drain), then wait for the endpoints to follow.

Kubernetes sends SIGTERM only once this hook returns. The server then stops accepting, lets
the streams in flight finish for LLM_SIMULATOR_DRAIN_TIMEOUT seconds, ends any still running
with the provider's in-stream error and exits 0 (docs/operations.md#graceful-shutdown).
Argument: the seconds to wait after the drain call (the endpoints' propagation delay).
"""

import os
import sys
import time
import urllib.request

port = os.environ.get("LLM_SIMULATOR_PORT", "8080")
# The admin API answers loopback callers while auth is off; with auth on it needs an admin key.
key = os.environ.get("LLM_SIMULATOR_ADMIN_KEY", "").split(",")[0].strip()
headers = {"authorization": "Bearer " + key} if key else {}
request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/drain", method="POST", headers=headers)
try:
    urllib.request.urlopen(request, timeout=3).close()
except OSError as exc:
    # Never fail the hook: the pod stops either way, and SIGTERM starts the drain too.
    print(f"preStop: POST /admin/drain failed: {exc}", file=sys.stderr)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
