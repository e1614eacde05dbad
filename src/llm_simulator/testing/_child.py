"""What a subprocess simulator runs: the ``llm-simulator`` CLI, plus a watchdog on the test process.

``python -m llm_simulator.testing._child PARENT_PID serve ...`` runs the CLI exactly as
``python -m llm_simulator.cli.main serve ...`` would. A test process stops its servers at
teardown, but one that is killed (a CI timeout, SIGKILL) cannot; the watchdog notices that
the parent is gone and shuts the server down as on SIGTERM, so no orphan keeps a port and
memory after the run.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

POLL_S = 0.5
# After SIGTERM the server drains; past this, exit regardless.
GRACE_S = 15.0


def _watch(parent: int) -> None:
    """Wait until ``parent`` is no longer this process's parent, then stop this process."""
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_S)
    os._exit(1)


def main() -> None:
    """Start the watchdog, then hand over to the CLI with the remaining arguments."""
    parent = int(sys.argv[1])
    if os.getppid() != parent:  # orphaned before we even started
        raise SystemExit(1)
    threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True).start()
    sys.argv = ["llm-simulator", *sys.argv[2:]]
    # By module name (not an import): the CLI is a sibling entry point, not a dependency.
    runpy.run_module("llm_simulator.cli.main", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
