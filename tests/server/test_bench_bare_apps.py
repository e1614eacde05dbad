"""The bare benchmark apps (the transport floors in ``bench/``) answer the ASGI lifespan handshake.

``transport.py``, ``ws_transport.py`` and ``memory.py`` each serve a bare ASGI app under
granian; all three share ``_common.serve_lifespan`` for the handshake. A server that gets no
``lifespan.startup.complete`` logs a failure (or waits), so each app is driven through the
handshake as a server drives it: startup (possibly more than once), then shutdown.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
APPS = [("transport", "asgi_app"), ("ws_transport", "app"), ("memory", "idle_app")]


@pytest.fixture(scope="module")
def bench_path() -> Iterator[None]:
    """``bench/`` on the import path, as the benchmarks run (granian imports ``module:app`` from it)."""
    sys.path.insert(0, str(BENCH))
    try:
        yield
    finally:
        sys.path.remove(str(BENCH))


def _handshake(app: Any, incoming: list[str]) -> list[str]:
    """The message types ``app`` sends for a lifespan scope receiving ``incoming`` in order."""
    received = iter(incoming)
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return {"type": next(received)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(asyncio.wait_for(app({"type": "lifespan"}, receive, send), 5))
    return sent


@pytest.mark.usefixtures("bench_path")
@pytest.mark.parametrize(("module", "name"), APPS)
def test_a_bare_app_completes_startup_then_shutdown(module: str, name: str) -> None:
    app = getattr(importlib.import_module(module), name)
    assert _handshake(app, ["lifespan.startup", "lifespan.shutdown"]) == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    # Each startup is answered (a server may send one per worker restart) before the shutdown.
    assert _handshake(app, ["lifespan.startup", "lifespan.startup", "lifespan.shutdown"]) == [
        "lifespan.startup.complete",
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
