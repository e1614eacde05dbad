"""The router adapter: routing rules applied to every inference request before it is served.

Rules come from three places, merged and ordered by priority: the config (``adapters.router.rules``),
the admin API (``PUT /admin/router/rules``, this worker's until replaced) and rule documents
at URLs or files (``sources``, reloaded every ``refresh_s`` through the shared ``InfraContext``;
a failing source keeps its last good rules, and the degradation shows).

``wrap`` turns a provider route into one that decides first (``rules.decide``) and then:
rewrites the model (the body's ``model``, or Gemini's path), applies transforms (body
parameters, request headers), or ends the request with the provider's own error (``reject``,
and ``rate_limit`` over its limit: a 429 with a retry hint). Every decision shows in the
``x-simulator-route`` response header, the request log (``route``), the ``router.decision``
event and ``llm_simulator_router_decisions_total{rule,action}``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
import yaml
from prometheus_client.core import CounterMetricFamily, Metric
from pydantic import TypeAdapter, ValidationError

from llm_simulator.adapters.router.rules import Decision, Facts, decide, ordered
from llm_simulator.adapters.sourced import SourcedAdapter
from llm_simulator.adapters.upstream import UpstreamDataError
from llm_simulator.config.loader import format_validation_error
from llm_simulator.config.router import (
    RouterAdapterConfig,  # runtime: the base class is subscripted with it
    RouteRule,
)
from llm_simulator.core.event_types import ROUTER_DECISION
from llm_simulator.core.http import Handler, HttpRequest, Response, Route
from llm_simulator.engine.chaos.failures import chaos_error
from llm_simulator.infra.buckets import Demand, MemoryBucketStore
from llm_simulator.infra.rng import derive_random

log = logging.getLogger("llm_simulator.adapters")

NAME = "router"
# The provider endpoints the rules see (inference); listings, files and the like pass untouched.
ROUTED_ENDPOINTS = frozenset({"chat", "completion", "responses", "messages", "generate", "embedding", "converse"})
_RULES = TypeAdapter(tuple[RouteRule, ...])
# Body fields whose text is the prompt (for prompt_tokens conditions).
_PROMPT_FIELDS = ("messages", "input", "prompt", "contents", "system", "instructions", "systemInstruction")
_KEY_HEADERS = ("x-api-key", "api-key", "x-goog-api-key", "authorization")


def parse_rules(data: Any, source: str) -> tuple[RouteRule, ...]:
    """Rules from a document (``{rules: [...]}`` or a list); raises ``UpstreamDataError`` naming the problem."""
    items = data.get("rules") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise UpstreamDataError(f"{source}: expected a list of rules, or an object with a rules list")
    try:
        rules = _RULES.validate_python(items)
    except ValidationError as exc:
        problem = " ".join(line.strip() for line in format_validation_error(exc).splitlines())
        raise UpstreamDataError(f"{source}: {problem}") from None
    names = [r.name for r in rules]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise UpstreamDataError(f"{source}: rule {duplicate!r} appears more than once")
    return rules


def _decode(source: str) -> Callable[[bytes], tuple[RouteRule, ...]]:
    def parse(data: bytes) -> tuple[RouteRule, ...]:
        try:
            doc = yaml.safe_load(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, yaml.YAMLError):
            raise UpstreamDataError(f"{source}: not a JSON or YAML rules document") from None
        return parse_rules(doc, source)

    return parse


def _texts(node: Any, out: list[str]) -> None:
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, Mapping):
        for value in node.values():
            _texts(value, out)
    elif isinstance(node, list):
        for item in node:
            _texts(item, out)


def _path_model(params: Mapping[str, str]) -> tuple[str, str]:
    """(model, action) of a Gemini ``{model}:{action}`` path parameter; ("", "") without one."""
    target = params.get("target", "")
    model, _, action = target.rpartition(":")
    return (model, action) if model else (target, "")


class RouterAdapter(SourcedAdapter[RouterAdapterConfig]):
    """Routing rules for one worker, and the route wrapper that applies them."""

    name = NAME

    def setup(self) -> None:
        """The adapter's own state (``SourcedAdapter.__init__`` calls it)."""
        config = self.config
        self._loaded: dict[str, tuple[RouteRule, ...]] = {}
        self.admin_rules: tuple[RouteRule, ...] = ()
        self._rules = ordered(config.rules)
        # One token bucket per rate-limit rule, named after it.
        self._buckets = MemoryBucketStore()
        self.decisions: Counter[tuple[str, str]] = Counter()
        self._rng = derive_random(self._sim.config.seed, "router")

    # -- rules --------------------------------------------------------------------------------------

    def rules(self) -> list[tuple[str, RouteRule]]:
        """Every rule with where it comes from (``config``, ``admin`` or a source's location)."""
        found = [("config", r) for r in self.config.rules] + [("admin", r) for r in self.admin_rules]
        for location, rules in self._loaded.items():
            found.extend((location, r) for r in rules)
        return found

    def _rebuild(self) -> None:
        self._rules = ordered([rule for _, rule in self.rules()])
        live = {r.name for r in self._rules if r.action.type == "rate_limit"}
        self._buckets.retain(live)

    def set_admin_rules(self, rules: tuple[RouteRule, ...]) -> None:
        """Replace the rules set through the admin API."""
        self.admin_rules = rules
        self._rebuild()

    def _allow(self, rule: RouteRule) -> bool:
        """Whether a rate-limit rule's bucket (``rate`` per minute, ``burst`` at most) admits one request."""
        action = rule.action
        per_minute = action.requests_per_minute or 1.0
        burst = action.burst if action.burst is not None else max(1, round(per_minute / 60.0 * 10))
        demand = Demand(rule.name, float(burst), per_minute / 60.0, 1.0)
        _, refusal = self._buckets.take_now((demand,), self._sim.clock.now())
        return refusal is None

    # -- applying them --------------------------------------------------------------------------------

    def wrap(self, route: Route, provider: str) -> Route:
        """``route`` with the rules applied first (inference endpoints only; others unchanged)."""
        if route.endpoint not in ROUTED_ENDPOINTS and route.endpoint_of is None:
            return route
        return dataclasses.replace(route, handler=self._routing(route.handler, provider))

    def _routing(self, handler: Handler, provider: str) -> Handler:
        async def handle(request: HttpRequest) -> Response:
            if not self._rules or request.endpoint not in ROUTED_ENDPOINTS:
                return await handler(request)
            return await handler(self.apply(request, provider))

        return handle

    def _facts(self, request: HttpRequest, body: Mapping[str, Any] | None, provider: str) -> Facts:
        model = body.get("model") if body is not None else None
        path_model, action = _path_model(request.path_params)
        if not isinstance(model, str):
            model = path_model
        headers = request.headers
        client = headers.get(self.config.client_id_header) or next(
            (headers[h] for h in _KEY_HEADERS if headers.get(h)), request.request_id
        )
        stream = bool(body.get("stream")) if body is not None else False
        stream = stream or action.lower().startswith("stream")

        def count() -> int:
            texts: list[str] = []
            for name in _PROMPT_FIELDS:
                if body is not None and name in body:
                    _texts(body[name], texts)
            return self._sim.count_tokens("\n".join(texts)) if texts else 0

        return Facts(model, provider, headers, stream, client, self._sim.clock.wall(), count)

    def apply(self, request: HttpRequest, provider: str) -> HttpRequest:
        """The request as the rules leave it; raises the provider's error for a reject or a rate limit."""
        try:
            parsed = orjson.loads(request.body) if request.body else None
        except orjson.JSONDecodeError:
            parsed = None  # the provider's own parser reports it
        body = parsed if isinstance(parsed, dict) else None
        decision = decide(self._rules, self._facts(request, body, provider), self._rng, self._allow)
        if decision.rule is None:
            return request
        self._report(request, decision)
        rule = decision.decided
        if rule is not None and decision.action == "reject":
            action = rule.action
            raise chaos_error(action.error_type, message=action.message, status=action.status)
        if rule is not None and decision.action == "rate_limit":
            rate = rule.action.requests_per_minute or 1.0
            raise chaos_error(
                "rate_limit",
                message=f"Rate limit of routing rule {rule.name!r} reached ({rate:g} requests per minute).",
                retry_after_s=round(60.0 / rate, 3),
            )
        return self._rewritten(request, body, decision)

    def _rewritten(self, request: HttpRequest, body: dict[str, Any] | None, decision: Decision) -> HttpRequest:
        changes: dict[str, Any] = {}
        if body is not None and (decision.params or (decision.model and "model" in body)):
            body = {**body, **decision.params}
            if decision.model and "model" in body:
                body["model"] = decision.model
            changes["body"] = orjson.dumps(body)
        if decision.model and "target" in request.path_params and (body is None or "model" not in body):
            # Gemini names the model in the path: ``{model}:{action}``.
            _, action = _path_model(request.path_params)
            changes["path_params"] = {**request.path_params, "target": f"{decision.model}:{action}"}
        if decision.headers:
            changes["headers"] = {**request.headers, **decision.headers}
        return dataclasses.replace(request, **changes) if changes else request

    def _report(self, request: HttpRequest, decision: Decision) -> None:
        self.decisions[(decision.rule or "-", decision.action)] += 1
        header = (self.config.header.encode(), decision.header_value().encode("latin-1"))
        exchange = request.exchange
        exchange.extra_headers = [*(exchange.extra_headers or []), header]
        record = exchange.record
        if record is not None:
            record.route = decision.as_dict()
            record.note(ROUTER_DECISION, **decision.as_dict())

    # -- sources --------------------------------------------------------------------------------------

    async def refresh(self, *, force: bool = False) -> None:
        """Load every rules source (from the cache while fresh); the last good rules stay on failure."""
        changed = False
        for upstream in self._upstreams:
            try:
                rules = await upstream.get(_decode(upstream.location), force=force)
            except Exception:  # recorded by the upstream
                continue
            if rules is not self._loaded.get(upstream.location):
                self._loaded[upstream.location] = rules
                upstream.loaded()
                changed = True
                log.info("adapter %s: %d rules loaded from %s", NAME, len(rules), upstream.location)
        if changed:
            self._rebuild()

    # -- views ----------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Status, the sources' health, how many rules are live and the decisions so far."""
        return {
            "status": self.source_status(),
            "sources": [u.health() for u in self._upstreams],
            "rules": len(self._rules),
            "decisions": sum(self.decisions.values()),
        }

    def snapshot(self) -> dict[str, Any]:
        """``GET /admin/router``: every rule in evaluation order with its origin, and decision counts."""
        origin = {id(rule): where for where, rule in self.rules()}
        return {
            "status": self.health()["status"],
            "header": self.config.header,
            "rules": [
                {"origin": origin.get(id(rule), "?"), **rule.model_dump(mode="json", exclude_defaults=True)}
                for rule in self._rules
            ],
            "decisions": [{"rule": r, "action": a, "count": n} for (r, a), n in sorted(self.decisions.items())],
            "at": time.time(),
        }

    def collect_metrics(self) -> Iterator[Metric]:
        """``llm_simulator_router_decisions_total{rule,action}``."""
        family = CounterMetricFamily(
            "llm_simulator_router_decisions", "Routing decisions by rule and action.", labels=["rule", "action"]
        )
        for (rule, action), count in sorted(self.decisions.items()):
            family.add_metric([rule, action], count)
        yield family
