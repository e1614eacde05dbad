"""What a provider gives the server: routes, handlers and an error renderer.

The HTTP vocabulary itself (requests, responses, routes) lives in ``core/http.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.http import JsonResponse, Route


class Provider(Protocol):
    """A vendor API: its routes and how it renders errors."""

    name: str

    def routes(self) -> list[Route]:
        """Every route the provider serves."""
        ...

    def claims(self, path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Whether an unrouted request looks like this provider's (so its 404 is in this shape)."""
        ...

    def render_error(self, error: SimulatorError, request_id: str) -> JsonResponse:
        """The provider's own error response for ``error``."""
        ...
