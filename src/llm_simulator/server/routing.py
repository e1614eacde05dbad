"""A small router: exact paths in a dict, parametrised paths matched segment by segment."""

from __future__ import annotations

from dataclasses import dataclass

from llm_simulator.providers.base import Provider, Route


@dataclass(frozen=True, slots=True)
class Match:
    """A matched route with its provider and path parameters."""

    route: Route
    provider: Provider
    params: dict[str, str]


class Router:
    """Finds the route for (method, path); tells 404 from 405."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, tuple[Route, Provider]]] = {}
        self._patterns: list[tuple[list[str], Route, Provider]] = []

    def add(self, route: Route, provider: Provider) -> None:
        """Register ``route`` served by ``provider``."""
        if "{" not in route.path:
            self._exact.setdefault(route.path, {})[route.method] = (route, provider)
        else:
            self._patterns.append((route.path.strip("/").split("/"), route, provider))

    def match(self, method: str, path: str) -> Match | list[str] | None:
        """The match; None when no path matches; the allowed methods when only they differ."""
        by_method = self._exact.get(path)
        if by_method is not None:
            found = by_method.get(method)
            if found is not None:
                return Match(found[0], found[1], {})
            return sorted(by_method)
        allowed: list[str] = []
        segments = path.strip("/").split("/")
        for pattern, route, provider in self._patterns:
            params = _match_segments(pattern, segments)
            if params is None:
                continue
            if route.method == method:
                return Match(route, provider, params)
            allowed.append(route.method)
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
