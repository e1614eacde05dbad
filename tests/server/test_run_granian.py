"""How ``server.run`` configures granian (the server object is replaced; nothing listens)."""

from __future__ import annotations

from typing import Any, ClassVar

import granian.server
import pytest
from granian.constants import HTTPModes, Interfaces

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server import run
from llm_simulator.server.factory import CONFIG_ENV


class _CapturedServer:
    """Stands in for granian's ``Server``: keeps its arguments, serves nothing."""

    seen: ClassVar[dict[str, Any]] = {}

    def __init__(self, target: str, **kwargs: Any) -> None:
        _CapturedServer.seen = {"target": target, **kwargs}

    def serve(self) -> None:
        """Return at once."""


def _granian_arguments(monkeypatch: pytest.MonkeyPatch, **server: object) -> dict[str, Any]:
    monkeypatch.setattr(granian.server, "Server", _CapturedServer)
    monkeypatch.delenv(CONFIG_ENV, raising=False)  # _serve sets it; monkeypatch restores it
    monkeypatch.setenv(CONFIG_ENV, "")
    run._serve(SimulatorConfig.model_validate({"server": server}))
    return _CapturedServer.seen


@pytest.mark.parametrize("workers", [1, 2])
def test_granian_serves_http1_only(monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    # Auto mode (either protocol per connection) holds twice the memory per open request;
    # no client of the simulated APIs speaks cleartext HTTP/2 (docs/performance.md).
    seen = _granian_arguments(monkeypatch, workers=workers)
    assert seen["http"] == HTTPModes.http1
    assert seen["interface"] == Interfaces.ASGI
    assert seen["workers"] == workers
    assert seen["target"] == run.FACTORY
