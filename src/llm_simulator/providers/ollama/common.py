"""Pieces shared by the Ollama endpoints: model names, timestamps, durations, headers, ``keep_alive``.

Ollama names models ``name:tag`` (``llama3.2`` means ``llama3.2:latest``, and the registry
host and ``library/`` namespace may be spelled out); responses echo the name as the client
sent it. Durations are integer nanoseconds; ``created_at`` is an RFC 3339 timestamp.
"""

from __future__ import annotations

import datetime
import re

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import Headers
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator

PROVIDER = "ollama"
DEFAULT_TAG = "latest"
_REGISTRY_PREFIXES = ("registry.ollama.ai/", "library/")
# How long a model stays loaded after a request when ``keep_alive`` is not given (Ollama's default).
DEFAULT_KEEP_ALIVE_S = 300.0
# A negative keep_alive keeps the model loaded for good; /api/ps then shows a far-off expiry.
FOREVER_S = 100 * 365 * 86_400.0
JSON_HEADERS: Headers = [(b"content-type", b"application/json; charset=utf-8")]
NDJSON_HEADERS: Headers = [(b"content-type", b"application/x-ndjson"), (b"cache-control", b"no-cache")]
NS_PER_S = 1_000_000_000


def canonical_name(name: str) -> str:
    """``name`` without the default registry and namespace, with ``:latest`` when it has no tag."""
    for prefix in _REGISTRY_PREFIXES:
        name = name.removeprefix(prefix)
    base = name.rsplit("/", 1)[-1]
    return name if ":" in base else f"{name}:{DEFAULT_TAG}"


def registry_name(name: str) -> str:
    """``name`` as Ollama's scheduler prints it: registry, namespace (``library`` by default) and tag."""
    short = canonical_name(name)
    return f"registry.ollama.ai/{short if '/' in short else 'library/' + short}"


def not_found(name: str) -> SimulatorError:
    """Ollama's 404 for a model it does not have."""
    return SimulatorError(ErrorKind.NOT_FOUND, f"model '{name}' not found", param="model")


def find_model(sim: Simulator, name: str) -> ModelSpec | None:
    """The spec of an Ollama model named ``name`` (any spelling), or None.

    Only the catalogue's Ollama models (and, with ``accept_unknown``, invented ones) are
    served: an OpenAI or Claude id is a model this server has not pulled.
    """
    if not name:
        return None
    spec = sim.catalogue.lookup(canonical_name(name)) or sim.resolve_model(name, PROVIDER)
    if spec is None or spec.provider != PROVIDER:
        return None
    return spec


def require_model(sim: Simulator, name: str | None) -> ModelSpec:
    """The spec of the requested model; 400 when the name is missing, 404 when unknown."""
    if not name:
        raise invalid("model is required", param="model")
    spec = find_model(sim, name)
    if spec is None:
        raise not_found(name)
    return spec


def timestamp(wall: float) -> str:
    """``created_at``: an RFC 3339 UTC timestamp with microseconds (Go prints up to nanoseconds)."""
    moment = datetime.datetime.fromtimestamp(wall, datetime.UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def nanoseconds(seconds: float) -> int:
    """A duration in Ollama's unit (integer nanoseconds, never negative)."""
    return max(0, round(seconds * NS_PER_S))


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _go_duration(text: str) -> float | None:
    """Seconds in a Go duration string (``5m``, ``1h30m``, ``-1s``, ``0``), or None if it is not one."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    total = 0.0
    at = 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != at:
            return None
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        at = match.end()
    if at != len(body) or not body:
        return None
    return sign * total


def keep_alive_seconds(value: object) -> float:
    """``keep_alive`` in seconds: a number of seconds or a Go duration; negative keeps the model loaded.

    Absent (None) means Ollama's default of five minutes; 0 unloads the model after the request.
    """
    if value is None:
        return DEFAULT_KEEP_ALIVE_S
    if isinstance(value, bool):
        raise invalid(f"invalid keep_alive: {value!r}", param="keep_alive")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        parsed = _go_duration(value.strip())
        if parsed is None:
            raise invalid(f'time: invalid duration "{value}"', param="keep_alive")
        seconds = parsed
    else:
        raise invalid(f"invalid keep_alive: {value!r}", param="keep_alive")
    # Longer than FOREVER_S is forever too (and keeps the expiry a printable date).
    return FOREVER_S if seconds < 0 else min(seconds, FOREVER_S)


class LoadedModels:
    """Which models this process holds "in memory", and until when: what ``/api/ps`` lists.

    Every request that uses a model loads it (or keeps it loaded) for its ``keep_alive``;
    ``keep_alive: 0`` unloads it. Per worker process, like the rest of the simulator's state.
    """

    def __init__(self) -> None:
        self._until: dict[str, float] = {}  # model id → expiry (wall clock)

    def touch(self, spec: ModelSpec, keep_alive_s: float, now: float) -> None:
        """``spec`` was used at wall time ``now``: loaded until ``now + keep_alive_s`` (0 unloads it)."""
        if keep_alive_s <= 0:
            self._until.pop(spec.id, None)
        else:
            self._until[spec.id] = now + keep_alive_s

    def loaded(self, now: float) -> list[tuple[str, float]]:
        """(model id, expiry) of every model still loaded at wall time ``now``, latest expiry first."""
        for model_id in [m for m, until in self._until.items() if until <= now]:
            del self._until[model_id]
        return sorted(self._until.items(), key=lambda item: -item[1])
