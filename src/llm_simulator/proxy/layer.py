"""``ProxyLayer``: which provider routes are forwarded, recorded or replayed, and their handlers.

The app hands every provider route to ``wrap`` and registers what comes back: the route
itself when the provider has no upstream and no cassettes, else a copy whose handler runs
the simulator's admission (chaos, rate limits, breaker) and then replays, forwards (and
records), or falls back to the route's own simulation.
"""

from __future__ import annotations

import dataclasses

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.http import Handler, HttpRequest, Response, Route
from llm_simulator.engine.simulator import Simulator
from llm_simulator.proxy.cassette import Recorder
from llm_simulator.proxy.forward import Forwarder
from llm_simulator.proxy.gate import admit_forwarded


class ProxyLayer:
    """Proxy mode and its cassettes for one worker; a background service (closes the pool)."""

    def __init__(self, config: SimulatorConfig, sim: Simulator) -> None:
        self._config = config.proxy
        self._sim = sim
        self.forwarder = Forwarder(config.proxy)
        record_dir = config.proxy.record_dir
        self.recorder = Recorder(record_dir, config.proxy.redact_paths) if record_dir else None

    @staticmethod
    def active(config: SimulatorConfig) -> bool:
        """Whether the configuration asks for a proxy, a recording or a replay at all."""
        proxy = config.proxy
        return bool(proxy.upstream or proxy.upstreams or proxy.replay_dir)

    def wrap(self, route: Route, provider: str) -> Route:
        """``route`` as proxy mode serves it (unchanged when ``provider`` is neither forwarded nor replayed)."""
        base = self._config.upstream_for(provider)
        if base is None:
            return route
        return dataclasses.replace(route, handler=self._forwarding(provider, base))

    def _forwarding(self, provider: str, base: str) -> Handler:
        sim = self._sim
        forwarder = self.forwarder
        recorder = self.recorder

        async def handle(request: HttpRequest) -> Response:
            await admit_forwarded(sim, request, provider)
            take = recorder.begin(request, provider) if recorder is not None else None
            return await forwarder.forward(request, provider, base, take)

        return handle

    def start(self) -> None:
        """Nothing to start: the pool is made on first use, in the worker's loop."""

    async def aclose(self) -> None:
        """Close the upstream pool at shutdown."""
        await self.forwarder.aclose()
