"""The adapter registry: which adapters exist, which are enabled, and the infra they share.

Every adapter is optional. ``KINDS`` lists them with the modules their code needs beyond the
core dependencies and the extra that installs those; an enabled adapter's module is imported
only then, and a missing dependency is a configuration error naming the extra. The enabled
adapters share one ``InfraContext`` (TTL cache, retry policy with its budget, one circuit
breaker per upstream), whose counters ``adapters.metrics`` exports.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from llm_simulator.adapters.upstream import Upstream, never_retry_bad_data
from llm_simulator.config.loader import ConfigError
from llm_simulator.engine.latency.profiles import BUILTIN_PROFILES
from llm_simulator.infra.circuit_breaker import BreakerSettings, BreakerState
from llm_simulator.infra.context import CacheConfig, InfraConfig, InfraContext, RetryConfig

if TYPE_CHECKING:
    from llm_simulator.config.adapters import AdapterInfraConfig
    from llm_simulator.config.schema import SimulatorConfig
    from llm_simulator.engine.simulator import Simulator


class Adapter(Protocol):
    """What the registry needs of an adapter."""

    name: str

    @property
    def upstreams(self) -> list[Upstream]:
        """The upstreams it reads."""
        ...

    def start(self) -> None:
        """Start background work (inside the running event loop)."""
        ...

    async def aclose(self) -> None:
        """Stop background work and release connections."""
        ...

    async def refresh(self, *, force: bool = False) -> None:
        """Load from the upstreams now (``force``: bypass the cache)."""
        ...

    def health(self) -> dict[str, Any]:
        """JSON-ready status (``status``: starting, ok or degraded)."""
        ...


@dataclass(frozen=True)
class AdapterKind:
    """An adapter the registry knows: where its code lives and what it needs."""

    name: str
    module: str
    factory: str
    extra: str | None = None
    requires: tuple[str, ...] = ()


KINDS: dict[str, AdapterKind] = {
    # Reads upstreams with httpx and documents with PyYAML (core dependencies): no extra.
    "latency_profiles": AdapterKind(
        "latency_profiles", "llm_simulator.adapters.latency.adapter", "LatencyProfilesAdapter"
    ),
    # OTLP/JSON is read with the standard library's json: no extra (protobuf is not accepted).
    "observatory": AdapterKind("observatory", "llm_simulator.adapters.observatory.adapter", "ObservatoryAdapter"),
    "router": AdapterKind("router", "llm_simulator.adapters.router.adapter", "RouterAdapter"),
    "lineage": AdapterKind("lineage", "llm_simulator.adapters.lineage.adapter", "LineageAdapter"),
}


class AdapterUnavailable(ConfigError):
    """An enabled adapter's optional dependencies are not installed."""


def load_kind(kind: AdapterKind) -> Callable[..., Adapter]:
    """Import an adapter's code (and its optional dependencies) now; raise naming the extra."""
    for module in kind.requires:
        try:
            importlib.import_module(module)
        except ImportError:
            hint = f"pip install 'llm-simulator[{kind.extra}]'" if kind.extra else f"pip install {module}"
            raise AdapterUnavailable(
                f"adapters.{kind.name}: needs {module!r}, which is not installed ({hint})"
            ) from None
    factory: Callable[..., Adapter] = getattr(importlib.import_module(kind.module), kind.factory)
    return factory


def infra_config(settings: AdapterInfraConfig) -> InfraConfig:
    """The adapters' ``InfraContext`` settings from the ``adapters.infra`` section."""
    budget = settings.retry_budget_per_minute
    return InfraConfig(
        cache=CacheConfig(ttl_s=300.0, max_entries=settings.cache_max_entries),
        retry=RetryConfig(
            max_retries=settings.max_retries,
            base_delay_s=settings.retry_base_delay_s,
            max_delay_s=max(settings.retry_max_delay_s, settings.retry_base_delay_s),
            budget_enabled=budget is not None,
            budget_per_minute=budget if budget is not None else 100.0,
        ),
        breaker=BreakerSettings(
            failure_threshold=settings.breaker_failure_threshold,
            recovery_timeout_s=settings.breaker_recovery_s,
            half_open_max_calls=1,
            success_threshold=1,
        ),
    )


@dataclass
class InfraCounters:
    """What the shared infra did, counted through its hooks (for ``/metrics``)."""

    retries: int = 0
    transitions: dict[tuple[str, str], int] = field(default_factory=dict)

    def on_retry(self, attempt: int, delay_s: float, exc: Exception) -> None:
        """``InfraContext(on_retry=...)``."""
        self.retries += 1

    def on_state_change(self, name: str, old: BreakerState, new: BreakerState) -> None:
        """``InfraContext(on_state_change=...)``."""
        key = (name, str(new))
        self.transitions[key] = self.transitions.get(key, 0) + 1


class AdapterRegistry:
    """The enabled adapters of one worker, their shared infra, and their views for the admin API."""

    def __init__(
        self,
        config: SimulatorConfig,
        sim: Simulator,
        *,
        kinds: dict[str, AdapterKind] | None = None,
        asleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        self._config = config
        self._sim = sim
        self.counters = InfraCounters()
        self.infra = InfraContext(
            infra_config(config.adapters.infra),
            retry_if=never_retry_bad_data,
            on_retry=self.counters.on_retry,
            on_state_change=self.counters.on_state_change,
        )
        self.adapters: list[Adapter] = []
        kinds = kinds if kinds is not None else KINDS
        self._kinds = kinds
        extra = {"asleep": asleep} if asleep is not None else {}
        sections: list[tuple[str, Any]] = [
            ("latency_profiles", config.adapters.latency_profiles),
            ("observatory", config.adapters.observatory),
            ("router", config.adapters.router),
            ("lineage", config.adapters.lineage),
        ]
        for name, section in sections:
            if section.enabled:
                self.adapters.append(load_kind(kinds[name])(section, sim, self.infra, **extra))
        self.started_at = time.time()

    def get(self, name: str) -> Adapter | None:
        """The enabled adapter ``name``, or None."""
        return next((a for a in self.adapters if a.name == name), None)

    @property
    def enabled(self) -> bool:
        """Whether any adapter is enabled."""
        return bool(self.adapters)

    def start(self) -> None:
        """Start the shared cache's cleanup and every adapter (inside the running loop)."""
        if not self.adapters:
            return
        self.infra.start()
        for adapter in self.adapters:
            adapter.start()

    async def aclose(self) -> None:
        """Stop every adapter and the cache cleanup."""
        for adapter in self.adapters:
            await adapter.aclose()
        if self.adapters:
            await self.infra.aclose()

    async def refresh(self, *, force: bool = True) -> None:
        """Every adapter loads from its upstreams now."""
        for adapter in self.adapters:
            await adapter.refresh(force=force)

    def status(self) -> str:
        """``ok``, ``degraded`` (some upstream failing: older data or defaults serve) or ``starting``."""
        statuses = {a.health()["status"] for a in self.adapters}
        return "degraded" if "degraded" in statuses else ("starting" if "starting" in statuses else "ok")

    def ready_details(self) -> dict[str, Any]:
        """The ``/ready`` detail: each adapter's status (degraded adapters never make it not ready)."""
        return {"status": self.status(), **{a.name: a.health()["status"] for a in self.adapters}}

    def snapshot(self) -> dict[str, Any]:
        """``GET /admin/adapters``: every known adapter, enabled or not, and the shared infra."""
        enabled = {a.name: a for a in self.adapters}
        adapters: dict[str, Any] = {}
        for name, kind in sorted(self._kinds.items()):
            adapter = enabled.get(name)
            entry: dict[str, Any] = {"enabled": adapter is not None, "extra": kind.extra}
            if adapter is not None:
                entry.update(adapter.health())
            adapters[name] = entry
        return {
            "status": self.status() if self.adapters else "disabled",
            "adapters": adapters,
            "infra": self.infra.snapshot() | {"retries": self.counters.retries},
        }

    def profiles(self) -> list[dict[str, Any]]:
        """``GET /admin/profiles``: every profile the simulator serves and where it came from."""
        from_adapters: dict[str, dict[str, Any]] = {}
        for adapter in self.adapters:
            origins = getattr(adapter, "origins", None)
            if callable(origins):
                from_adapters.update(origins())
        configured = self._config.latency.profiles
        rows: list[dict[str, Any]] = []
        for name in sorted(self._sim.profiles):
            if name in from_adapters:
                rows.append({"name": name, **from_adapters[name]})
            elif name in configured:
                rows.append(
                    {
                        "name": name,
                        "origin": "config",
                        "overrides_builtin": name in BUILTIN_PROFILES,
                        "spec": configured[name].model_dump(mode="json", exclude_none=True),
                    }
                )
            else:
                spec = BUILTIN_PROFILES[name]
                rows.append(
                    {"name": name, "origin": "built-in", "spec": spec.model_dump(mode="json", exclude_none=True)}
                )
        return rows
