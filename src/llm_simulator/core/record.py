"""What one request did, as telemetry sees it: filled in as the request goes, read when it ends.

The server opens a ``RequestRecord`` per request and hands it along on the request's
``Exchange`` (``core/http.py``): admission notes the model, chaos and rate limiting; the
engine notes the model, the token counts and when each token was released. Nothing is
aggregated on the request path: the telemetry hub reads the finished record once (metrics,
stats, events, a span). A record is plain data with no I/O. ``CURRENT`` (the record of the
task serving a request) exists only for the log filter, and the server sets it only when
log lines carry request context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llm_simulator.core.event_types import FIRST_TOKEN
from llm_simulator.core.tasks import running_task

if TYPE_CHECKING:
    from llm_simulator.core.types import ChoicePlan, ScenarioStepRef

# Shared by every record without gaps; never appended to (token_released replaces it).
_NO_GAPS: list[float] = []


class RequestRecord:
    """One request's facts; times are monotonic seconds (``started_wall`` is epoch seconds).

    ``gaps`` holds the inter-token latencies of a stream (seconds between consecutive
    releases). ``listener`` (None unless a live event sink is on) is told of the first
    token when it happens rather than at the end.
    """

    __slots__ = (
        "api_key",
        "auth_failure",
        "broken",
        "chaos",
        "choices",
        "chunks",
        "completion_tokens",
        "endpoint",
        "error_message",
        "error_type",
        "finish_reason",
        "first_token",
        "fixture",
        "gaps",
        "last_token",
        "listener",
        "method",
        "model",
        "parent_span_id",
        "path",
        "prompt_tokens",
        "provider",
        "quiet",
        "rate_limited",
        "request_id",
        "route",
        "scenario_step",
        "span_id",
        "started",
        "started_wall",
        "status",
        "stream",
        "test_id",
        "trace_id",
        "trace_sampled",
    )

    def __init__(self, request_id: str, method: str, path: str, started: float, started_wall: float) -> None:
        self.request_id = request_id
        self.method = method
        self.path = path
        self.started = started
        self.started_wall = started_wall
        self.provider = ""
        self.endpoint = ""
        self.model = ""
        # The raw credential (an Authorization value, or a key) for the length of the request;
        # telemetry only ever shows a fingerprint of the key in it.
        self.api_key = ""
        self.stream = False
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason = ""
        self.first_token = 0.0
        self.last_token = 0.0
        # Allocated at a stream's second token: most requests never need it, and every
        # allocation on the request path feeds the garbage collector.
        self.gaps: list[float] = _NO_GAPS
        self.chaos = ""
        self.rate_limited = ""
        self.auth_failure = ""
        self.error_type = ""
        # The error's message (the text the provider's error body carries), for the journal.
        self.error_message = ""
        self.status = 0
        self.broken = False
        self.chunks = 0
        self.trace_id = ""
        self.span_id = ""
        self.parent_span_id = ""
        self.trace_sampled = True
        # The simulator's own endpoints (probes, /metrics, admin): counted, but no events or spans.
        self.quiet = False
        # The scenario step whose scripted reply answered the request (the lineage graph's node).
        self.scenario_step: ScenarioStepRef | None = None
        # The fixture rule or scenario step that answered (its ``source``), for the journal.
        self.fixture = ""
        # The routing decision (the router adapter's, JSON-ready), when a rule matched.
        self.route: dict[str, Any] | None = None
        self.listener: Callable[[str, RequestRecord, dict[str, Any]], None] | None = None
        # The test scope the request belongs to (``core.test_scope``); None: the global state.
        self.test_id: str | None = None
        # The final plan's choices (what the answer holds), kept by reference for the request
        # journal: one store per request, read only if the journal keeps the entry. Not the
        # plan itself: it refers to this record, and the cycle would leave every request's
        # plan to the cyclic garbage collector (measured: +9 % CPU per request).
        self.choices: list[ChoicePlan] | None = None

    def token_released(self, now: float) -> None:
        """Note a token (or a step of tokens) released at ``now``: the first sets TTFT, later ones a gap."""
        last = self.last_token
        if last:
            if self.gaps is _NO_GAPS:
                self.gaps = [now - last]
            else:
                self.gaps.append(now - last)
        else:
            self.first_token = now
            if self.listener is not None:
                self.listener(FIRST_TOKEN, self, {})
        self.last_token = now

    def tokens_released(self, times: list[float]) -> None:
        """Note tokens released after the first one, at ``times`` (in order): their gaps in one call.

        A plain stream's pacer (``engine.pacing``) keeps its later tokens' release times and
        hands them over when the stream ends (the gaps are read only once the request is
        finished), instead of a call and three attribute writes per token.
        """
        if not times:
            return
        if not self.last_token:
            self.token_released(times[0])
            times = times[1:]
        previous = self.last_token
        gaps = []
        for now in times:
            gaps.append(now - previous)
            previous = now
        if self.gaps is _NO_GAPS:
            self.gaps = gaps
        else:
            self.gaps.extend(gaps)
        self.last_token = previous

    def note(self, event: str, **fields: Any) -> None:
        """Tell the live listener (if any) about ``event`` as it happens."""
        if self.listener is not None:
            self.listener(event, self, fields)

    @property
    def ttft_s(self) -> float | None:
        """Seconds from arrival to the first token (None before one, or without tokens)."""
        return self.first_token - self.started if self.first_token else None


class _TaskRecords:
    """The record of the request each asyncio task is serving.

    Keyed on the task rather than held in a ``ContextVar``: measured on the request path, a
    context variable set and reset per request cost about 2 µs (every timer and callback of
    the request then carries a changed context), a dict entry per task about 0.1 µs. It also
    keeps tasks a request starts (settlement, watchers) from inheriting its record. Outside
    a running loop (another thread, a plain function) there is no current record.
    """

    __slots__ = ("_by_task",)

    def __init__(self) -> None:
        self._by_task: dict[object, RequestRecord] = {}

    def set(self, record: RequestRecord) -> object:
        """Make ``record`` the current task's; the token for ``reset``."""
        task = running_task()  # once per request with JSON or access logs: no getpid() (core/tasks.py)
        self._by_task[task] = record
        return task

    def reset(self, token: object) -> None:
        """Forget the record set with ``token`` (call in a ``finally``)."""
        self._by_task.pop(token, None)

    def get(self) -> RequestRecord | None:
        """The current task's record, or None."""
        try:
            task = running_task()
        except RuntimeError:  # no running event loop in this thread
            return None
        return self._by_task.get(task) if task is not None else None


CURRENT = _TaskRecords()
