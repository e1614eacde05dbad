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
from llm_simulator.proxy.replay import Cassettes, ReplayTurn


class ProxyLayer:
    """Proxy mode and its cassettes for one worker; a background service (closes the pool)."""

    def __init__(self, config: SimulatorConfig, sim: Simulator) -> None:
        proxy = config.proxy
        self._config = proxy
        self._sim = sim
        self.forwarder = Forwarder(proxy, sim)
        self.recorder = Recorder(proxy.record_dir, proxy.redact_paths, sim.clock) if proxy.record_dir else None
        self.cassettes = Cassettes(proxy) if proxy.replay_dir else None

    @staticmethod
    def active(config: SimulatorConfig) -> bool:
        """Whether the configuration asks for a proxy, a recording or a replay at all."""
        return config.proxy.active

    def wrap(self, route: Route, provider: str) -> Route:
        """``route`` as proxy mode serves it (unchanged when ``provider`` is neither forwarded nor replayed).

        With cassettes, a miss goes to the upstream when the provider has one (recorded when
        recording: the habit of vcr-style tools), else to the route's own simulation or, with
        ``replay_miss: error``, to the provider's 404 naming the request.
        """
        base = self._config.upstream_for(provider)
        forward = self._forwarding(provider, base) if base is not None else None
        if self.cassettes is None:
            return route if forward is None else dataclasses.replace(route, handler=forward)
        simulate = route.handler if self._config.replay_miss == "simulate" else None
        return dataclasses.replace(route, handler=self._replaying(self.cassettes, provider, forward or simulate))

    def _forwarding(self, provider: str, base: str) -> Handler:
        sim = self._sim
        forwarder = self.forwarder
        recorder = self.recorder

        async def handle(request: HttpRequest) -> Response:
            admission = await admit_forwarded(sim, request, provider)
            # After admission: a chaos delay comes on top of the upstream's time, not inside the scaled part.
            started = sim.clock.now()
            take = recorder.begin(request, provider) if recorder is not None else None
            return await forwarder.forward(request, provider, base, take, admission, started)

        return handle

    def _replaying(self, cassettes: Cassettes, provider: str, fallback: Handler | None) -> Handler:
        sim = self._sim

        async def handle(request: HttpRequest) -> Response:
            entry = cassettes.find(request)
            if entry is not None:
                admission = await admit_forwarded(sim, request, provider)
                started = sim.clock.now()  # recorded offsets count from here: a chaos delay adds to them
                return await cassettes.answer(ReplayTurn(entry, request, provider, admission, started), sim)
            if fallback is None:
                raise cassettes.miss(request, provider)
            # The fallback admits the request itself (a forward, or the simulation's pipeline).
            return await fallback(request)

        return handle

    def start(self) -> None:
        """Nothing to start: the pool is made on first use, in the worker's loop."""

    async def aclose(self) -> None:
        """Close the upstream pool at shutdown."""
        await self.forwarder.aclose()
