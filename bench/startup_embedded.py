"""Experiment: ``serve --workers 1`` in one process (granian's embedded server) against master + worker.

Not a mode of the product: it answers issue 22 item 3's question of what granian's
supervisor costs. ``--serve`` runs ``llm-simulator serve`` with ``server.run.serve`` replaced
by granian's embedded server (``granian.server.embed``, marked experimental by granian)
serving ``create_app()`` in the CLI's own uvloop loop, SIGINT/SIGTERM stopping it. Without
``--serve``, both ways are started in interleaved rounds, as ``bench/startup.py`` does: spawn
to the first ``GET /health`` 200 and the first chat answer, the CPU of the process tree to
that answer, the PSS after ``--idle`` seconds, the time from SIGTERM to the exit. Results:
``bench/results/startup-embedded.json``::

    python bench/startup_embedded.py --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.abc
import importlib.machinery
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from _common import cpu_seconds, free_port, machine_info, process_tree, shown, write_results
from startup import _chat_ok, _health_ok, pss_kib

SRC = Path(__file__).resolve().parent.parent / "src"


def _serve_embedded(config: Any) -> None:
    """``server.run.serve``'s stand-in: one process, granian's embedded server in this loop."""
    import uvloop
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    from llm_simulator.config.loader import to_internal_json
    from llm_simulator.server.factory import CONFIG_ENV, create_app

    os.environ[CONFIG_ENV] = to_internal_json(config)
    server = Server(
        create_app,
        address=config.server.host,
        port=config.server.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        backlog=4096,
        factory=True,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, server.stop)
        await server.serve()

    uvloop.run(main())


class _PatchServe(importlib.abc.MetaPathFinder):
    """Loads ``llm_simulator.server.run`` as usual, then swaps its ``serve`` for the embedded one."""

    def find_spec(
        self, name: str, path: Any, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "llm_simulator.server.run":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        assert spec is not None
        assert spec.loader is not None
        load = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            module.serve = _serve_embedded  # type: ignore[attr-defined]

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _one(argv: list[str], idle_s: float) -> dict[str, Any]:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*argv, "serve", "--port", str(port), "--no-latency"],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while not _health_ok(port):
            if proc.poll() is not None or time.perf_counter() - started > 60:
                raise RuntimeError(f"{argv} did not come up")
            time.sleep(0.005)
        startup = time.perf_counter() - started
        if not _chat_ok(port):
            raise RuntimeError("the first chat completion failed")
        first_answer = time.perf_counter() - started
        cpu = cpu_seconds(process_tree(proc.pid))
        time.sleep(idle_s)
        pids = process_tree(proc.pid)
        pss = sum(pss_kib(pid) for pid in pids) / 1024
        stopping = time.perf_counter()
        os.killpg(proc.pid, signal.SIGTERM)
        status = proc.wait(timeout=60)
        stop_s = time.perf_counter() - stopping
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {
        "startup_s": startup,
        "first_answer_s": first_answer,
        "cpu_to_first_answer_s": cpu,
        "pss_mib": pss,
        "processes": len(pids),
        "sigterm_to_exit_s": stop_s,
        "exit_status": status,
    }


def main() -> None:
    """Run the embedded server (``--serve``), or compare both ways in interleaved rounds."""
    if sys.argv[1:2] == ["--serve"]:
        sys.meta_path.insert(0, _PatchServe())
        from llm_simulator.cli.main import main as cli_main

        raise SystemExit(cli_main(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--idle", type=float, default=2.0, help="seconds of idling before PSS is read")
    parser.add_argument("--output", default="startup-embedded", help="results file name under bench/results")
    args = parser.parse_args()
    ways = {
        "master + worker": [sys.executable, "-m", "llm_simulator.cli.main"],
        "embedded, one process": [sys.executable, __file__, "--serve"],
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ways}
    for round_no in range(args.rounds):
        order = list(ways.items()) if round_no % 2 == 0 else list(ways.items())[::-1]
        for name, argv in order:
            runs[name].append(_one(argv, args.idle))
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    keys = ("startup_s", "first_answer_s", "cpu_to_first_answer_s", "pss_mib", "sigterm_to_exit_s")
    summary = {
        name: {f"{k}_median": statistics.median(r[k] for r in rs) for k in keys} | {"runs": rs}
        for name, rs in runs.items()
    }
    for name, entry in summary.items():
        print(f"{name:24s} " + "  ".join(f"{k} {entry[f'{k}_median']:.3f}" for k in keys))
    params = {"rounds": args.rounds, "idle_s": args.idle}
    path = write_results(args.output, {"machine": machine_info(), "parameters": params, "targets": summary})
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()
