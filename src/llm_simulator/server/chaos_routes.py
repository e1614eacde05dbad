"""Admin routes that change chaos and rate limits at run time, and show their state.

``GET /admin/chaos`` shows everything; ``POST /admin/chaos/enable`` / ``disable`` switch it;
``PUT /admin/chaos`` changes any of enabled, probability, rules, preset, scenarios (rules
and scenarios are replaced whole and validated like the config file); ``DELETE
/admin/chaos/rules`` drops the rules; ``POST /admin/chaos/scenarios/restart`` starts the
scenario clock over. Circuit breakers and rate-limit buckets can be inspected and reset.
Errors are OpenAI-shaped 400s naming the offending field.

The chaos routes act on a test scope's chaos instead when the request names one
(``?scope=ID`` or the ``x-simulator-test-id`` header; the scope is created if new), bounded
by ``scopes.max_rules``; breakers and rate limits are always global.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_simulator.config.chaos import ChaosRule, PresetName, ScenarioSpec
from llm_simulator.core.errors import invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response, Route
from llm_simulator.core.test_scope import read_admin_scope

if TYPE_CHECKING:
    from llm_simulator.engine.chaos.controller import ChaosController
    from llm_simulator.engine.limits import RateLimiter
    from llm_simulator.engine.scopes import ScopeRegistry


class ChaosUpdate(BaseModel):
    """The body of ``PUT /admin/chaos``: every field optional, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool | None = None
    probability: float | None = Field(default=None, ge=0, le=1)
    rules: tuple[ChaosRule, ...] | None = None
    preset: PresetName | None = None
    scenarios: tuple[ScenarioSpec, ...] | None = None
    scenario_repeat_s: float | None = Field(default=None, gt=0)


def _json(status: int, payload: object) -> JsonResponse:
    return JsonResponse(status, orjson.dumps(payload), [JSON_CONTENT_TYPE, (b"cache-control", b"no-store")])


def _body(request: HttpRequest) -> object:
    try:
        return orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise invalid(f"The request body is not valid JSON: {exc}.", code="invalid_json") from None


def _validation_error(exc: ValidationError) -> Exception:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
    return invalid(f"Invalid chaos settings: {problems}.", code="invalid_chaos")


class ChaosRoutes:
    """``/admin/chaos…``, ``/admin/circuit-breakers…``, ``/admin/rate-limits…``."""

    def __init__(self, chaos: ChaosController, limits: RateLimiter, scopes: ScopeRegistry) -> None:
        self._chaos = chaos
        self._limits = limits
        self._scopes = scopes

    async def _target(self, request: HttpRequest) -> ChaosController:
        """The chaos state the request changes: its test scope's when it names one, else the global one."""
        test_id = read_admin_scope(request.headers, request.query)
        if test_id is None:
            return self._chaos
        return (await self._scopes.open(test_id)).chaos

    def routes(self) -> list[Route]:
        """The chaos and rate-limit admin routes."""
        return [
            Route("GET", "/admin/chaos", self.status, "admin"),
            Route("PUT", "/admin/chaos", self.update, "admin"),
            Route("POST", "/admin/chaos/enable", self.enable, "admin"),
            Route("POST", "/admin/chaos/disable", self.disable, "admin"),
            Route("DELETE", "/admin/chaos/rules", self.clear_rules, "admin"),
            Route("POST", "/admin/chaos/scenarios/restart", self.restart_scenarios, "admin"),
            Route("GET", "/admin/circuit-breakers", self.breakers, "admin"),
            Route("POST", "/admin/circuit-breakers/reset", self.reset_breakers, "admin"),
            Route("GET", "/admin/rate-limits", self.rate_limits, "admin"),
            Route("POST", "/admin/rate-limits/reset", self.reset_rate_limits, "admin"),
        ]

    async def status(self, request: HttpRequest) -> Response:
        """The whole chaos state: switches, rules in force, scenarios, breakers, counters."""
        return _json(200, (await self._target(request)).status())

    async def update(self, request: HttpRequest) -> Response:
        """Change the given fields; rules and scenarios are replaced whole."""
        body = _body(request)
        try:
            update = ChaosUpdate.model_validate(body)
        except ValidationError as exc:
            raise _validation_error(exc) from None
        given = update.model_fields_set
        chaos = await self._target(request)
        if chaos is not self._chaos:
            bound = self._scopes.config.max_rules
            if len(update.rules or ()) > bound or len(update.scenarios or ()) > bound:
                raise invalid(
                    f"A test scope holds at most {bound} chaos rules and {bound} scenarios (scopes.max_rules).",
                    code="invalid_chaos",
                )
        chaos.configure(
            enabled=update.enabled,
            probability=update.probability,
            rules=update.rules,
            preset=update.preset if "preset" in given else False,
            scenarios=update.scenarios,
            repeat_s=update.scenario_repeat_s if "scenario_repeat_s" in given else False,
        )
        await chaos.changed()
        return _json(200, chaos.status())

    async def enable(self, request: HttpRequest) -> Response:
        """Turn chaos on (the rules in force are shown)."""
        chaos = await self._target(request)
        chaos.configure(enabled=True)
        await chaos.changed()
        return _json(200, chaos.status())

    async def disable(self, request: HttpRequest) -> Response:
        """Turn chaos off (the control header keeps working)."""
        chaos = await self._target(request)
        chaos.configure(enabled=False)
        await chaos.changed()
        return _json(200, chaos.status())

    async def clear_rules(self, request: HttpRequest) -> Response:
        """Drop every configured rule and the preset, and turn chaos off.

        Left on without rules, chaos would fall back to the default mix: the opposite of
        what clearing the rules asks for. A scope's chaos stays on (it has no default mix).
        """
        chaos = await self._target(request)
        chaos.configure(rules=(), preset=None, enabled=chaos is not self._chaos)
        await chaos.changed()
        return _json(200, chaos.status())

    async def restart_scenarios(self, request: HttpRequest) -> Response:
        """Start the scenario timeline over from now."""
        chaos = await self._target(request)
        chaos.restart_scenarios()
        await chaos.changed()
        return _json(200, chaos.scenarios.status())

    async def breakers(self, request: HttpRequest) -> Response:
        """Every model's circuit breaker (``enabled: false`` when breakers are off)."""
        board = self._chaos.breakers
        return _json(200, {"enabled": board is not None, "models": board.snapshot() if board is not None else {}})

    async def reset_breakers(self, request: HttpRequest) -> Response:
        """Close one breaker (``?model=``) or all of them."""
        board = self._chaos.breakers
        if board is None:
            raise invalid("Circuit breakers are off (chaos.circuit_breaker.enabled).", code="breakers_disabled")
        board.reset(request.query.get("model"))
        return _json(200, {"enabled": True, "models": board.snapshot()})

    async def rate_limits(self, request: HttpRequest) -> Response:
        """Tiers in force, buckets tracked and refusals so far."""
        return _json(200, await self._limits.status())

    async def reset_rate_limits(self, request: HttpRequest) -> Response:
        """Refill every bucket."""
        await self._limits.reset()
        return _json(200, await self._limits.status())
