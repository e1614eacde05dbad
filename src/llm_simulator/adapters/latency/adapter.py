"""The latency-profiles adapter: profiles kept in step with upstream documents, refreshed on a TTL.

Each configured source provides one named profile. Its upstream (URL or file) holds either a
profile document — a config file with ``latency.profiles`` (what ``profile fit`` writes), a
``profiles`` mapping, or a bare profile (``ttft``/``itl`` distributions) — or a measurement in
any format the lens reads, which is then fitted. Until the first good fetch the profile is its
``fallback``; after a failed refresh it stays at the last good data. Nothing here can fail a
request: the simulator always has a compiled profile under every name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import ValidationError

from llm_simulator.adapters.latency.fit import fit_profile
from llm_simulator.adapters.latency.formats import parse as parse_measurement
from llm_simulator.adapters.latency.measurement import MeasurementError
from llm_simulator.adapters.sourced import SourcedAdapter
from llm_simulator.adapters.upstream import Upstream, UpstreamDataError
from llm_simulator.config.adapters import (  # runtime: the base class is subscripted with it
    LatencyProfilesAdapterConfig,
    ProfileSourceConfig,
)
from llm_simulator.config.distributions import LatencyProfileSpec
from llm_simulator.config.loader import format_validation_error

log = logging.getLogger("llm_simulator.adapters")

NAME = "latency_profiles"


def parse_profile_document(data: bytes, source: str, name: str, point: int = 0) -> tuple[LatencyProfileSpec, str]:
    """The profile ``name`` from an upstream document, and how it was obtained ("document"/"fitted").

    Raises ``UpstreamDataError`` naming the source and the problem.
    """
    try:
        doc = yaml.safe_load(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, yaml.YAMLError):
        doc = None
    spec_doc = _profile_entry(doc, name) if isinstance(doc, Mapping) else None
    if spec_doc is not None:
        try:
            return LatencyProfileSpec.model_validate(spec_doc), "document"
        except ValidationError as exc:
            problem = " ".join(line.strip() for line in format_validation_error(exc).splitlines())
            raise UpstreamDataError(f"{source}: profile {name!r}: {problem}") from None
    try:
        measurements = parse_measurement(data, source)
        if not 0 <= point < len(measurements):
            raise UpstreamDataError(f"{source}: load point {point} missing ({len(measurements)} in the report)")
        return fit_profile(measurements[point]).spec, "fitted"
    except MeasurementError as exc:
        raise UpstreamDataError(f"neither a profile document nor a measurement: {exc}") from None


def _profile_entry(doc: Mapping[str, Any], name: str) -> Any:
    """The profile mapping inside a document, or None when the document is not one."""
    latency = doc.get("latency")
    profiles = latency.get("profiles") if isinstance(latency, Mapping) else doc.get("profiles")
    if isinstance(profiles, Mapping) and profiles:
        if name in profiles:
            return profiles[name]
        if len(profiles) == 1:
            return next(iter(profiles.values()))
        raise UpstreamDataError(f"profile {name!r} is not in the document (it has {', '.join(map(str, profiles))})")
    ttft = doc.get("ttft")
    if isinstance(ttft, Mapping) and "type" in ttft:
        return doc
    return None


class _Source:
    """One configured source: its upstream and what it currently serves."""

    def __init__(self, config: ProfileSourceConfig, upstream: Upstream) -> None:
        self.config = config
        self.upstream = upstream
        self.spec: LatencyProfileSpec | None = None  # the last good data (None: the fallback serves)
        self.obtained = ""
        self.fetched_at: float | None = None


def _serving(source: _Source) -> str:
    """What a source's profile is now: its ``fallback``, fresh ``upstream`` data, or the ``last_good``."""
    if source.spec is None:
        return "fallback"
    return "last_good" if source.upstream.status == "degraded" else "upstream"


class LatencyProfilesAdapter(SourcedAdapter[LatencyProfilesAdapterConfig]):
    """Keeps the configured profiles fresh in a ``Simulator``."""

    name = NAME

    def setup(self) -> None:
        """The adapter's own state (``SourcedAdapter.__init__`` calls it)."""
        config = self.config
        self._sources = [
            _Source(source, upstream) for source, upstream in zip(config.sources, self._upstreams, strict=True)
        ]
        self._lock = asyncio.Lock()

    async def refresh(self, *, force: bool = False) -> None:
        """Load every source (from the cache while fresh); install what changed."""
        async with self._lock:
            for source in self._sources:
                await self._refresh_one(source, force)

    async def _refresh_one(self, source: _Source, force: bool) -> None:
        name, location, point = source.config.profile, source.upstream.location, source.config.point
        try:
            spec, obtained = await source.upstream.get(
                lambda data: parse_profile_document(data, location, name, point), force=force
            )
        except Exception:  # recorded by the upstream: keep serving what we had
            return
        if spec is source.spec:
            return  # still the cached value: nothing new was fetched
        self._sim.install_profile(name, spec)
        source.spec, source.obtained, source.fetched_at = spec, obtained, self._sim.clock.wall()
        source.upstream.loaded()
        log.info("adapter %s: profile %r loaded from %s (%s)", NAME, name, location, obtained)

    def degraded(self) -> bool:
        """Whether any source failed its last load (older data or the fallback serves)."""
        return any(s.upstream.status == "degraded" for s in self._sources)

    def health(self) -> dict[str, Any]:
        """Status of the adapter and of each source."""
        sources = []
        for s in self._sources:
            entry = s.upstream.health()
            entry["profile"] = s.config.profile
            entry["serving"] = _serving(s)
            sources.append(entry)
        return {"status": self.source_status(), "refresh_s": self.config.refresh_s, "sources": sources}

    def origins(self) -> dict[str, dict[str, Any]]:
        """Where each profile this adapter provides comes from, for ``/admin/profiles``."""
        out: dict[str, dict[str, Any]] = {}
        for s in self._sources:
            out[s.config.profile] = {
                "origin": "adapter",
                "adapter": NAME,
                "url" if s.config.url else "file": s.upstream.location,
                "fetched_at": s.fetched_at,
                "obtained": s.obtained or None,
                "status": s.upstream.status,
                "serving": _serving(s),
                "fallback": s.config.fallback,
                "spec": s.spec.model_dump(mode="json", exclude_none=True) if s.spec is not None else None,
            }
        return out
