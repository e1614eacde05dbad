"""Admin routes of test scopes and one-shot faults (docs/testing.md, "Shared servers").

``GET /admin/scopes`` lists this worker's live scopes (with a shared backend, then the ones
only other replicas served); ``DELETE /admin/scopes`` forgets them
all here. ``GET /admin/scopes/{scope}`` shows one (settings, chaos, fixtures, sessions,
one-shot faults, counters); ``PUT`` changes its settings (``{"strict": true|false|null}``,
creating it if new); ``DELETE`` clears it fleet-wide. ``/admin/scope?scope=ID`` does the same for an
id with a ``/`` in it (a pytest node id). ``POST /admin/scopes/{scope}/faults``
arms a one-shot fault in the scope (``GET`` lists them, ``DELETE`` disarms them); the same
on ``/admin/faults`` acts globally, or on the scope that ``?scope=`` or the test id header
names. Errors are OpenAI-shaped 400s (404 for an unknown scope).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from llm_simulator.config.chaos import ChaosRule
from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response, Route
from llm_simulator.core.test_scope import read_admin_scope
from llm_simulator.security.gate import ADMIN_ENDPOINT

if TYPE_CHECKING:
    from llm_simulator.engine.chaos.controller import ChaosController
    from llm_simulator.engine.scopes import ScopeRegistry, TestScope

# The most requests one one-shot fault may fail.
MAX_COUNT = 10_000


def _json(status: int, payload: object) -> JsonResponse:
    return JsonResponse(status, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])


def _object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object (a 400 otherwise)."""
    try:
        body = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise invalid(f"The request body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.", code="invalid_json")
    return body


def parse_fault(body: dict[str, Any]) -> tuple[ChaosRule, int]:
    """A one-shot fault's rule and count from ``{"count": N, ...chaos rule fields}`` (a 400 when invalid).

    The rule must inject something: an error (``error_type``/``error_mix``), a
    ``stream_fault`` or a ``misbehave`` kind; its filters (``models``, ``endpoints``,
    ``providers``, ``api_keys``, ``headers``) narrow which requests it fails.
    """
    fields = dict(body)
    count = fields.pop("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise invalid(f"count must be an integer from 1 to {MAX_COUNT}, got {count!r}.", param="count")
    try:
        rule = ChaosRule.model_validate({"name": "one_shot", **fields})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise invalid(f"Invalid one-shot fault: {problems}.", code="invalid_fault") from None
    if rule.error_type is None and not rule.error_mix and rule.stream_fault is None and rule.misbehave is None:
        raise invalid(
            "A one-shot fault needs error_type (or error_mix), stream_fault or misbehave.", code="invalid_fault"
        )
    return rule, count


class ScopeRoutes:
    """``/admin/scopes…`` and ``/admin/faults``."""

    def __init__(self, scopes: ScopeRegistry, chaos: ChaosController) -> None:
        self._scopes = scopes
        self._chaos = chaos

    def routes(self) -> list[Route]:
        """The scope and one-shot fault admin routes."""
        return [
            Route("GET", "/admin/scopes", self.list_scopes, ADMIN_ENDPOINT),
            Route("DELETE", "/admin/scopes", self.clear_scopes, ADMIN_ENDPOINT),
            Route("GET", "/admin/scopes/{scope}", self.get_scope, ADMIN_ENDPOINT),
            Route("PUT", "/admin/scopes/{scope}", self.update_scope, ADMIN_ENDPOINT),
            Route("DELETE", "/admin/scopes/{scope}", self.drop_scope, ADMIN_ENDPOINT),
            Route("GET", "/admin/scopes/{scope}/faults", self.list_faults, ADMIN_ENDPOINT),
            Route("POST", "/admin/scopes/{scope}/faults", self.arm_fault, ADMIN_ENDPOINT),
            Route("DELETE", "/admin/scopes/{scope}/faults", self.clear_faults, ADMIN_ENDPOINT),
            # The same for an id with a "/" (a pytest node id), named by ?scope= or the test id header.
            Route("GET", "/admin/scope", self.get_scope, ADMIN_ENDPOINT),
            Route("PUT", "/admin/scope", self.update_scope, ADMIN_ENDPOINT),
            Route("DELETE", "/admin/scope", self.drop_scope, ADMIN_ENDPOINT),
            Route("GET", "/admin/faults", self.list_faults, ADMIN_ENDPOINT),
            Route("POST", "/admin/faults", self.arm_fault, ADMIN_ENDPOINT),
            Route("DELETE", "/admin/faults", self.clear_faults, ADMIN_ENDPOINT),
        ]

    async def _scope(self, request: HttpRequest) -> TestScope | None:
        """The scope a request names (path, ``?scope=`` or the test id header), opened; None: global."""
        test_id = read_admin_scope(request.headers, request.query, request.path_params.get("scope"))
        return await self._scopes.open(test_id) if test_id is not None else None

    @staticmethod
    def _named(request: HttpRequest) -> str:
        """The scope id a request names in its path, ``?scope=`` or test id header (a 400 if none)."""
        test_id = read_admin_scope(request.headers, request.query, request.path_params.get("scope"))
        if test_id is None:
            raise invalid("Name the scope: /admin/scopes/{id}, ?scope=ID or the x-simulator-test-id header.")
        return test_id

    async def list_scopes(self, request: HttpRequest) -> Response:
        """The live scopes (this worker's; with a shared backend the fleet's too), with the bounds in force."""
        return _json(200, await self._scopes.list_view())

    async def clear_scopes(self, request: HttpRequest) -> Response:
        """Forget every scope this worker keeps."""
        return _json(200, {"cleared": self._scopes.clear()})

    async def get_scope(self, request: HttpRequest) -> Response:
        """One scope in full; a 404 when no request or admin write has created it."""
        test_id = self._named(request)
        self._scopes.check_id(test_id)
        if not await self._scopes.exists(test_id):
            raise SimulatorError(ErrorKind.NOT_FOUND, f"No test scope {test_id!r}.", code="scope_not_found")
        scope = await self._scopes.open(test_id)
        return _json(200, await self._scopes.view(scope))

    async def update_scope(self, request: HttpRequest) -> Response:
        """Change a scope's settings: ``strict`` (true, false, or null for the server's ``fixtures.strict``)."""
        body = _object(request)
        unknown = sorted(set(body) - {"strict"})
        if unknown:
            raise invalid(f"Unknown scope settings: {', '.join(unknown)} (known: strict).", code="invalid_scope")
        strict = body.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise invalid(f"strict must be true, false or null, got {strict!r}.", param="strict")
        scope = await self._scopes.open(self._named(request))
        if "strict" in body:
            scope.strict = strict
        await self._scopes.publish(scope)
        return _json(200, await self._scopes.view(scope))

    async def drop_scope(self, request: HttpRequest) -> Response:
        """Clear a scope everywhere: its chaos, fixtures, sessions, one-shot faults and counters."""
        return _json(200, {"cleared": await self._scopes.drop(self._named(request))})

    async def list_faults(self, request: HttpRequest) -> Response:
        """The armed one-shot faults (the scope's or the global ones) with uses fired and left."""
        scope = await self._scope(request)
        return _json(200, {"scope": scope.id if scope else None, "faults": await self._scopes.faults_view(scope)})

    async def arm_fault(self, request: HttpRequest) -> Response:
        """Arm "the next ``count`` matching requests fail with X"; the fault as listed."""
        rule, count = parse_fault(_object(request))
        scope = await self._scope(request)
        fault = self._scopes.arm(scope, rule, count)
        await self._changed(scope)
        faults = await self._scopes.faults_view(scope)
        shown = next(f for f in faults if f["id"] == fault.id)
        return _json(200, {"scope": scope.id if scope else None, **shown})

    async def clear_faults(self, request: HttpRequest) -> Response:
        """Disarm every one-shot fault (the scope's or the global ones)."""
        scope = await self._scope(request)
        owner = scope.chaos if scope is not None else self._chaos
        cleared = owner.one_shots.clear()
        await self._changed(scope)
        return _json(200, {"scope": scope.id if scope else None, "cleared": cleared})

    async def _changed(self, scope: TestScope | None) -> None:
        """Share the change with the fleet: the scope's document, or the global chaos state."""
        if scope is not None:
            await self._scopes.publish(scope)
        else:
            await self._chaos.changed()
