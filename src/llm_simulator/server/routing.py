"""A small router: exact paths in a dict, parametrised paths matched segment by segment.

A method and path may have several candidate routes (one per provider sharing the path);
the first whose selector accepts the request's headers and query wins, and a route without
a selector is the fallback. ``Routes`` is the server's table of them: it resolves each
exchange to its route, provider and endpoint, and an unrouted one to the provider whose
error shape its 404 or 405 takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llm_simulator.core.frozen import fast_init
from llm_simulator.core.http import Route
from llm_simulator.providers.base import Provider
from llm_simulator.providers.internal import ENDPOINT_SCOPE_KEY
from llm_simulator.security.gate import ADMIN_ENDPOINT
from llm_simulator.server.exchange import ServerExchange

Candidates = list[tuple[Route, Provider]]


@fast_init  # built once per request: slots set directly, not through frozen __setattr__
@dataclass(frozen=True, slots=True)
class Match:
    """A matched route with its provider and path parameters."""

    route: Route
    provider: Provider
    params: dict[str, str]


def _add_candidate(candidates: Candidates, route: Route, provider: Provider) -> None:
    # Selective routes are tried before the catch-all one, whatever the registration order.
    candidates.append((route, provider))
    candidates.sort(key=lambda item: item[0].when is None)


def _choose(
    candidates: Candidates, headers: Mapping[str, str], query: Mapping[str, str]
) -> tuple[Route, Provider] | None:
    first = candidates[0]
    if first[0].when is None:  # the common case: one route, no selector
        return first
    for route, provider in candidates:
        if route.when is None or route.when(headers, query):
            return route, provider
    return None  # every route on this path is selective and none wants the request


class Router:
    """Finds the route for (method, path, headers, query); tells 404 from 405."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Candidates]] = {}
        self._patterns: list[tuple[list[str], str, Candidates]] = []

    def add(self, route: Route, provider: Provider) -> None:
        """Register ``route`` served by ``provider``."""
        if "{" not in route.path:
            _add_candidate(self._exact.setdefault(route.path, {}).setdefault(route.method, []), route, provider)
            return
        pattern = route.path.strip("/").split("/")
        for existing, method, candidates in self._patterns:
            if existing == pattern and method == route.method:
                _add_candidate(candidates, route, provider)
                return
        self._patterns.append((pattern, route.method, [(route, provider)]))

    def match(
        self, method: str, path: str, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> Match | list[str] | None:
        """The match; None when no path matches; the allowed methods when only they differ."""
        by_method = self._exact.get(path)
        if by_method is not None:
            candidates = by_method.get(method)
            if candidates is not None:
                chosen = _choose(candidates, headers, query)
                return Match(chosen[0], chosen[1], {}) if chosen else None
            return sorted(by_method)
        allowed: list[str] = []
        segments = path.strip("/").split("/")
        for pattern, route_method, candidates in self._patterns:
            params = _match_segments(pattern, segments)
            if params is None:
                continue
            if route_method == method:
                chosen = _choose(candidates, headers, query)
                if chosen is not None:
                    return Match(chosen[0], chosen[1], params)
                continue
            allowed.append(route_method)
        return sorted(set(allowed)) if allowed else None


def _match_segments(pattern: list[str], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, part in enumerate(pattern):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name.endswith(":path"):
                # A trailing ``{name:path}`` takes the rest of the path (model ids with "/").
                rest = segments[i:]
                if not rest or not rest[0]:
                    return None
                params[name[:-5]] = "/".join(rest)
                return params
            if i >= len(segments) or not segments[i]:
                return None
            params[name] = segments[i]
        elif i >= len(segments) or segments[i] != part:
            return None
    return params if len(segments) == len(pattern) else None


class Routes:
    """Every route with its provider, and where each request goes (with whose error shape).

    ``table`` keeps the registration order (for ``/openapi.json``); ``router`` matches.
    """

    def __init__(self, providers: Sequence[Provider], default: Provider) -> None:
        self.router = Router()
        self.table: list[tuple[Route, Provider]] = []
        self._providers = providers
        self._default = default

    def add(self, route: Route, provider: Provider) -> None:
        """Serve ``route`` with ``provider``."""
        self.router.add(route, provider)
        self.table.append((route, provider))

    def resolve(self, exchange: ServerExchange) -> None:
        """Set the exchange's route (or the methods its path allows), provider and endpoint."""
        found = self.router.match(exchange.method, exchange.path, exchange.headers, exchange.query)
        if isinstance(found, Match):
            route = found.route
            exchange.route = route
            exchange.params = found.params
            exchange.provider = found.provider
            exchange.endpoint = route.endpoint if route.endpoint_of is None else route.endpoint_of(found.params)
            if ENDPOINT_SCOPE_KEY in exchange.scope:  # a WebSocket turn: counted under its socket's endpoint
                exchange.endpoint = exchange.scope[ENDPOINT_SCOPE_KEY]
        else:
            exchange.allowed = found
            exchange.provider = self.claimant(exchange.path, exchange.headers, exchange.query, found)
        if exchange.endpoint == ADMIN_ENDPOINT or exchange.path.startswith("/admin"):
            exchange.origin = None  # no CORS for the admin API: browsers must not reach it

    def claimant(
        self, path: str, headers: Mapping[str, str], query: Mapping[str, str], allowed: list[str] | None
    ) -> Provider:
        """The provider whose error shape an unrouted request gets (the default's, OpenAI's, at last).

        A wrong method on a known path (``allowed`` lists the right ones) gets the shape of
        the provider serving that path, whatever the request's headers say. Where providers
        share a path (OpenAI's ``GET /v1/models/{model}``, Gemini's ``POST …/{model}:method``)
        the one that claims the request wins.
        """
        if allowed:
            owners = [
                m.provider
                for m in (self.router.match(a, path, headers, query) for a in allowed)
                if isinstance(m, Match)
            ]
            for owner in owners:
                if owner.claims(path, headers, query):
                    return owner
            if owners:
                return owners[0]
        for provider in self._providers:
            if provider.claims(path, headers, query):
                return provider
        return self._default
