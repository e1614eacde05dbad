"""Admission: the gateway's checks between parsing a request and answering it.

The generation pipeline (``providers/pipeline.py``) calls ``admit`` once per request, when
``needs_admission`` says there is anything to do.

``admit`` runs, in order: the per-model circuit breaker, the caller's rate limits (which
set the provider's rate-limit headers on every response to the request, 429s included),
and chaos (the control header, one-shot faults, a test scope's rules, then scenarios and
rules). It raises the error a request meets, waits out added delays, and returns the
effects left for the engine (a latency scale, a stream fault, the settlement of the token
estimate). What the server must do with the request's other responses (the rate-limit
headers) and at its end, however it ends (settle the estimate, tell the breaker), it
reports to the request's ``Exchange``, the moment each is known: a timeout or a cut later
on still finds them there. With chaos, limits and the breaker all off, no control header,
no test id and no one-shot fault armed it is not called at all: the hot path pays four
flag tests (chaos's ``admits`` folds three) and one dict lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.faults import Admission, HangUp, StreamFault
from llm_simulator.core.http import Headers, HttpRequest
from llm_simulator.core.identity import api_key, caller
from llm_simulator.core.record import RequestRecord
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.chaos.breaker import Outcome
from llm_simulator.engine.chaos.control import parse_control
from llm_simulator.engine.chaos.controller import RequestFacts
from llm_simulator.engine.limits import UNLIMITED, Grant, LimitState, RateLimited
from llm_simulator.engine.scopes import TestScope
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.retry_hints import duration_text

CONTROL_HEADER = "x-simulator-chaos"
# Renders budgets as the provider's headers, given the wall-clock time (for absolute resets).
LimitHeaders = Callable[[Sequence[LimitState], float], Headers]


def no_limit_headers(states: Sequence[LimitState], wall: float) -> Headers:
    """For providers that send no rate-limit headers (Gemini)."""
    return []


def needs_admission(sim: Simulator, request: HttpRequest) -> bool:
    """Whether ``admit`` has anything to do: three flags, a header lookup and the test id when all is off.

    The pipeline tests this once, before awaiting ``admit``, so the hot path does not even
    create the coroutine.
    """
    chaos = sim.chaos
    return (
        chaos.admits  # chaos on, a breaker board, or a one-shot fault armed
        or sim.limits.enabled
        or (chaos.control_header and CONTROL_HEADER in request.headers)
        # A test scope's request (engine/scopes/): the one test_id check of the unscoped path.
        or ((record := request.exchange.record) is not None and record.test_id is not None)
    )


def scoped(request: HttpRequest) -> bool:
    """Whether the request carries a test id (a test scope's request: engine/scopes/)."""
    record = request.exchange.record
    return record is not None and record.test_id is not None


def outcome(status: int, broken: bool) -> Outcome:
    """A finished request as the breaker sees it: 5xx or a broken stream fail, 4xx say nothing."""
    if broken or status >= 500:
        return Outcome.FAILURE
    return Outcome.SUCCESS if status < 400 else Outcome.NEUTRAL


async def admit(
    sim: Simulator,
    request: HttpRequest,
    provider: str,
    model_id: str,
    spec: ModelSpec,
    input_tokens: int,
    output_estimate: int,
    limit_headers: LimitHeaders,
    scope: TestScope | None = None,
) -> Admission | None:
    """Admit one request or raise what it meets; None when nothing touches it.

    Called only when ``needs_admission`` says so (the pipeline tests it once per request).
    """
    exchange = request.exchange
    record = exchange.record
    if record is not None:
        record.model = spec.id  # known now: a refusal below still counts against its model
    chaos = sim.chaos
    limits = sim.limits
    control = request.headers.get(CONTROL_HEADER) if chaos.control_header else None
    forced = parse_control(control, CONTROL_HEADER) if control is not None else None
    model = spec.id
    granted: list[Grant] = [UNLIMITED]
    breakers = chaos.breakers
    if breakers is not None:
        wait = breakers.admit(model)
        if wait is not None:
            raise SimulatorError(
                ErrorKind.UNAVAILABLE,
                f"The model {model} is temporarily unavailable after repeated failures "
                f"(circuit open; retry in {duration_text(wait)}).",
                code="circuit_open",
                retry_after_s=wait,
            )

    def on_done(status: int, broken: bool) -> None:
        # Settlement is once-only: a response that produced tokens has settled already, and
        # an error raised after admission refunds its whole output estimate here.
        settle = granted[0].settle
        if settle is not None:
            settle(0)
        if breakers is not None:
            breakers.record(model, outcome(status, broken))

    exchange.on_done = on_done
    if limits.enabled:
        key = caller(request.headers, request.query, limits.config.key_by)
        try:
            granted[0] = await limits.acquire(key, model, input_tokens, output_estimate)
        except RateLimited as exc:
            exchange.extra_headers = limit_headers(exc.states, sim.clock.wall())
            _note_rate_limited(record, exc)
            raise
        exchange.extra_headers = limit_headers(granted[0].states, sim.clock.wall())
    if forced is None and not chaos.enabled and scope is None and not chaos.one_shots.armed:
        return _admission(1.0, None, granted[0])
    facts = RequestFacts(
        provider, request.endpoint, model_id, api_key(request.headers, request.query), request.headers, model
    )
    if scope is None and not chaos.one_shots.armed:
        verdict = chaos.decide(facts, forced)
    else:  # a test scope's chaos and one-shot faults first (engine/scopes/registry.py)
        verdict = await sim.scopes.decide(scope, facts, forced)
    if verdict.disturbs:
        _note_chaos(record, verdict.kind, verdict.rule)
    if verdict.delay_s > 0:
        await sim.pause(verdict.delay_s)
    if verdict.hang:
        raise HangUp
    if verdict.error is not None:
        raise verdict.error
    if verdict.misbehave is not None:
        return Admission(verdict.latency_scale, verdict.fault, granted[0].settle, verdict.misbehave)
    return _admission(verdict.latency_scale, verdict.fault, granted[0])


def _note_rate_limited(record: RequestRecord | None, exc: RateLimited) -> None:
    """Tell the request's telemetry record which tier and budget refused it."""
    if record is not None and exc.limit is not None:
        record.rate_limited = exc.limit.tier
        record.note("rate_limit.rejected", tier=exc.limit.tier, resource=exc.limit.resource, window=exc.limit.window)


def _note_chaos(record: RequestRecord | None, kind: str, rule: str | None) -> None:
    """Tell the request's telemetry record what chaos did to it (an error type, a fault, latency)."""
    if record is not None:
        record.chaos = kind
        record.note("chaos.injected", kind=kind, rule=rule)


def _admission(scale: float, fault: StreamFault | None, grant: Grant) -> Admission | None:
    if scale == 1.0 and fault is None and grant.settle is None:
        return None
    return Admission(scale, fault, grant.settle)
