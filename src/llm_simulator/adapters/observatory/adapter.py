"""The observatory adapter: spans of real LLM calls in, the simulator's behaviour out.

Spans arrive from configured sources (OTLP/JSON files or URLs, reloaded every ``refresh_s``
through the shared ``InfraContext``) and from the OTLP/HTTP receiver (``POST /v1/traces``,
kept in a ring of ``max_spans``). Every ``apply_s`` (when something new arrived), and at once
on ``POST /admin/adapters/refresh``, the spans are summarised per (provider, model) and each
model with at least ``min_calls`` calls that the catalogue knows is served with the behaviour
``summary.behaviour`` derives: a profile ``observed-<model>`` assigned to it, its observed output
lengths, and a chaos rule with its error rate and mix (effective while chaos is enabled).

Nothing here can fail a request: a source that fails keeps its last good spans (the
degradation shows in health, metrics and the log), and a model without enough data keeps
its configured behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from llm_simulator.adapters.observatory.summary import PROVIDERS, Behaviour, ModelSummary, behaviour, summarise
from llm_simulator.adapters.otlp import LlmSpan, OtlpError, parse_spans
from llm_simulator.adapters.sourced import SourcedAdapter
from llm_simulator.adapters.upstream import UpstreamDataError
from llm_simulator.config.adapters import ObservatoryAdapterConfig  # runtime: the base class is subscripted with it

if TYPE_CHECKING:
    from llm_simulator.config.distributions import LatencyProfileSpec

log = logging.getLogger("llm_simulator.adapters")

NAME = "observatory"
PROFILE_PREFIX = "observed-"


def _parse(location: str) -> Callable[[bytes], list[LlmSpan]]:
    def parse(data: bytes) -> list[LlmSpan]:
        try:
            return parse_spans(data, location)
        except OtlpError as exc:
            raise UpstreamDataError(str(exc)) from None

    return parse


class ObservatoryAdapter(SourcedAdapter[ObservatoryAdapterConfig]):
    """Keeps the observed models' behaviour in step with the spans seen."""

    name = NAME

    def setup(self) -> None:
        """The adapter's own state (``SourcedAdapter.__init__`` calls it)."""
        config = self.config
        self._loaded: dict[str, list[LlmSpan]] = {}
        self._received: deque[LlmSpan] = deque(maxlen=config.max_spans)
        self.received_total = 0
        self.rejected_documents = 0
        self.last_received_at: float | None = None
        self._dirty = False
        self._applied: dict[str, dict[str, Any]] = {}
        self._specs: dict[str, LatencyProfileSpec] = {}
        self._summaries: list[ModelSummary] = []
        self._skipped: dict[str, str] = {}
        self.applied_at: float | None = None
        self._lock = asyncio.Lock()
        self._next_load = 0.0

    # -- the loop: sources every refresh_s (retry_s while failing), received spans every apply_s --------

    def needs_loop(self) -> bool:
        """Always: received spans are applied by the loop too."""
        return True

    def period(self) -> float:
        """The loop wakes every ``apply_s``."""
        return self.config.apply_s

    async def tick(self) -> None:
        """Reload the sources when due, then apply whatever arrived."""
        if self._upstreams and time.monotonic() >= self._next_load:
            async with self._lock:
                await self._load_sources(force=False)
            self._next_load = time.monotonic() + super().period()
        if self._dirty:
            self.apply()

    async def refresh(self, *, force: bool = False) -> None:
        """Load every source now (``force``: bypassing the cache) and apply what the spans say."""
        async with self._lock:
            await self._load_sources(force=force)
            self.apply()

    async def _load_sources(self, *, force: bool) -> None:
        for upstream in self._upstreams:
            try:
                spans = await upstream.get(_parse(upstream.location), force=force)
            except Exception:  # recorded by the upstream: its last good spans stay
                continue
            if spans is not self._loaded.get(upstream.location):
                self._loaded[upstream.location] = spans
                upstream.loaded()
                self._dirty = True
                log.info("adapter %s: %d LLM spans loaded from %s", NAME, len(spans), upstream.location)

    # -- the receiver -----------------------------------------------------------------------------

    def ingest(self, data: bytes) -> int:
        """Add the LLM spans of one OTLP/JSON export request; their count. Raises ``OtlpError``."""
        try:
            spans = parse_spans(data, "request body")
        except OtlpError:
            self.rejected_documents += 1
            raise
        self._received.extend(spans)
        self.received_total += len(spans)
        self.last_received_at = self._sim.clock.wall()
        if spans:
            self._dirty = True
        return len(spans)

    # -- turning spans into behaviour ---------------------------------------------------------------

    def spans(self) -> list[LlmSpan]:
        """Every span known: each source's last good load, then the received ones."""
        out = [span for spans in self._loaded.values() for span in spans]
        out.extend(self._received)
        return out

    def _model_id(self, summary: ModelSummary) -> str | None:
        provider = PROVIDERS.get(summary.provider.lower())
        # The span's provider first; a model id is usually unambiguous across providers otherwise.
        for candidate in dict.fromkeys([*([provider] if provider else []), "openai", "anthropic", "gemini"]):
            spec = self._sim.resolve_model(summary.model, candidate)
            if spec is not None and spec.kind == "chat":
                return spec.id
        return None

    def apply(self) -> None:
        """Summarise the spans and serve every model with enough calls as observed (see the module doc)."""
        self._dirty = False
        self._summaries = summarise(self.spans())
        applied: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        rules = []
        for summary in self._summaries:
            label = f"{summary.provider}/{summary.model}"
            if summary.calls < self.config.min_calls:
                skipped[label] = f"{summary.calls} calls (min_calls {self.config.min_calls})"
                continue
            model_id = self._model_id(summary)
            if model_id is None or model_id in applied:
                skipped[label] = "not a chat model of the catalogue" if model_id is None else "model seen twice"
                continue
            found = behaviour(
                summary, latency=self.config.latency, lengths=self.config.output_lengths, errors=self.config.errors
            )
            applied[model_id] = self._install(model_id, summary, found)
            if found.rule is not None:
                rules.append(found.rule.model_copy(update={"models": (model_id,)}))
        for gone in set(self._applied) - set(applied):
            self._sim.assign_profile(gone, None)
            self._sim.planner.set_output_tokens(gone, None)
        self._sim.chaos.set_observed(tuple(rules))
        self._applied, self._skipped = applied, skipped
        self.applied_at = self._sim.clock.wall()
        if applied:
            log.info("adapter %s: observed behaviour applied to %s", NAME, ", ".join(sorted(applied)))

    def _install(self, model_id: str, summary: ModelSummary, found: Behaviour) -> dict[str, Any]:
        entry: dict[str, Any] = {"from": f"{summary.provider}/{summary.model}", "calls": summary.calls}
        if found.profile is not None:
            name = PROFILE_PREFIX + re.sub(r"[^A-Za-z0-9._-]", "-", model_id)
            self._sim.install_profile(name, found.profile)
            self._specs[name] = found.profile
            self._sim.assign_profile(model_id, name)
            entry["profile"] = name
        else:
            self._sim.assign_profile(model_id, None)
        self._sim.planner.set_output_tokens(model_id, found.output_tokens)
        entry["output_lengths"] = found.output_tokens is not None
        entry["error_rate"] = round(summary.error_rate, 5) if found.rule is not None else 0.0
        if found.notes:
            entry["notes"] = list(found.notes)
        return entry

    # -- views --------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Status of the adapter, its sources and its receiver."""
        return {
            "status": self.source_status(),
            "sources": [u.health() for u in self._upstreams],
            "receiver": {
                "enabled": self.config.receiver,
                "spans_received": self.received_total,
                "spans_kept": len(self._received),
                "rejected_documents": self.rejected_documents,
                "last_received_at": self.last_received_at,
            },
            "applied_at": self.applied_at,
            "models": sorted(self._applied),
        }

    def snapshot(self) -> dict[str, Any]:
        """``GET /admin/observatory``: per-model summaries, what was applied and what was not, and why."""
        return {
            "status": self.health()["status"],
            "chaos_enabled": self._sim.chaos.enabled,
            "applied_at": self.applied_at,
            "summaries": [s.as_dict() for s in self._summaries],
            "applied": self._applied,
            "skipped": self._skipped,
        }

    def collect_metrics(self) -> Iterator[Metric]:
        """The receiver's counters and how many models are served as observed (for ``/metrics``)."""
        yield CounterMetricFamily(
            "llm_simulator_observatory_spans_received",
            "LLM call spans accepted by POST /v1/traces.",
            value=self.received_total,
        )
        yield CounterMetricFamily(
            "llm_simulator_observatory_documents_rejected",
            "OTLP requests refused as malformed.",
            value=self.rejected_documents,
        )
        yield GaugeMetricFamily(
            "llm_simulator_observatory_models_applied",
            "Models served with observed behaviour.",
            value=len(self._applied),
        )

    def origins(self) -> dict[str, dict[str, Any]]:
        """The observed profiles, for ``/admin/profiles``."""
        return {
            entry["profile"]: {
                "origin": "adapter",
                "adapter": NAME,
                "model": model_id,
                "observed": entry["from"],
                "calls": entry["calls"],
                "fetched_at": self.applied_at,
                "spec": self._specs[entry["profile"]].model_dump(mode="json", exclude_none=True),
            }
            for model_id, entry in self._applied.items()
            if "profile" in entry
        }
