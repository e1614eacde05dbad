"""The simulator's admin API as data: one ``AdminCall`` per operation, run by either client.

Keeping paths, query parameters, bodies and result parsing here means the sync and async
admin namespaces (``client.Admin``, ``aclient.AsyncAdmin``) are one-line wrappers and
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import quote

import orjson

from llm_simulator.sdk.errors import decoded
from llm_simulator.sdk.journal import Journal
from llm_simulator.sdk.scope import check_test_id

T = TypeVar("T")
Json = dict[str, Any]


class NotGiven:
    """The type of ``NOT_GIVEN``: "leave this field as it is", distinct from ``None``."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        """Falsy, like a missing value."""
        return False

    def __repr__(self) -> str:
        """``NOT_GIVEN``."""
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()
"""The sentinel for "not given" where ``None`` is a meaningful value (``set_chaos(preset=None)``)."""


@dataclass(frozen=True, slots=True)
class AdminCall(Generic[T]):
    """One admin request and how to read its answer.

    ``parse(status, body, headers)`` turns the answer into the result; statuses in
    ``accept`` reach it too instead of raising (``/ready`` answers 503 while draining).
    """

    method: str
    path: str
    parse: Callable[[int, bytes, Mapping[str, str]], T]
    params: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    content_type: str | None = None
    accept: frozenset[int] = frozenset()


def _json(status: int, body: bytes, headers: Mapping[str, str]) -> Json:
    data = decoded(status, lambda: orjson.loads(body))
    return data if isinstance(data, dict) else {"value": data}


def _text(status: int, body: bytes, headers: Mapping[str, str]) -> str:
    return body.decode("utf-8")


def _ready(status: int, body: bytes, headers: Mapping[str, str]) -> bool:
    return status == 200 and _json(status, body, headers).get("ready") is True


def _list(key: str) -> Callable[[int, bytes, Mapping[str, str]], list[Json]]:
    def parse(status: int, body: bytes, headers: Mapping[str, str]) -> list[Json]:
        items = _json(status, body, headers).get(key, [])
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    return parse


def _get(path: str, params: dict[str, str] | None = None) -> AdminCall[Json]:
    return AdminCall("GET", path, _json, params or {})


def _post(path: str, params: dict[str, str] | None = None) -> AdminCall[Json]:
    return AdminCall("POST", path, _json, params or {})


def _delete(path: str) -> AdminCall[Json]:
    return AdminCall("DELETE", path, _json)


# -- system ----------------------------------------------------------------------------------


def health() -> AdminCall[Json]:
    """``GET /health``."""
    return _get("/health")


def ready() -> AdminCall[bool]:
    """``GET /ready``: False (a 503) while draining."""
    return AdminCall("GET", "/ready", _ready, accept=frozenset({503}))


def version() -> AdminCall[Json]:
    """``GET /version``."""
    return _get("/version")


def config() -> AdminCall[Json]:
    """``GET /admin/config``: the effective configuration, secrets redacted."""
    return _get("/admin/config")


def auth_status() -> AdminCall[Json]:
    """``GET /admin/auth``."""
    return _get("/admin/auth")


def drain() -> AdminCall[Json]:
    """``POST /admin/drain``."""
    return _post("/admin/drain")


# -- statistics and the request log ---------------------------------------------------------


def stats() -> AdminCall[Json]:
    """``GET /admin/stats``."""
    return _get("/admin/stats")


def reset_stats() -> AdminCall[Json]:
    """``POST /admin/stats/reset``."""
    return _post("/admin/stats/reset")


def export_stats(fmt: Literal["json", "csv"], by: Literal["model", "key"]) -> AdminCall[Any]:
    """``GET /admin/stats/export?format=&by=``: a JSON object, or CSV text."""
    if fmt not in ("json", "csv"):
        raise ValueError(f"format must be 'json' or 'csv'; got {fmt!r}")
    if by not in ("model", "key"):
        raise ValueError(f"by must be 'model' or 'key'; got {by!r}")
    return AdminCall("GET", "/admin/stats/export", _json if fmt == "json" else _text, {"format": fmt, "by": by})


def engine() -> AdminCall[Json]:
    """``GET /admin/engine``: ``{"deployments": [one row per replica], "presets": [names]}``."""
    return _get("/admin/engine")


def request_log(since: int, path: str | None, model: str | None, limit: int | None) -> AdminCall[Json]:
    """``GET /admin/requests``: ``{"enabled", "last_seq", "requests"}``."""
    params = {"since": str(since)}
    if path is not None:
        params["path"] = path
    if model is not None:
        params["model"] = model
    if limit is not None:
        params["limit"] = str(limit)
    return _get("/admin/requests", params)


def requests(since: int, path: str | None, model: str | None, limit: int | None) -> AdminCall[list[Json]]:
    """``GET /admin/requests``: only the entries."""
    log = request_log(since, path, model, limit)
    return AdminCall("GET", log.path, _list("requests"), log.params)


def journal(filters: Mapping[str, object]) -> AdminCall[Journal]:
    """``GET /admin/journal`` with the filters given (None values left out): a ``Journal``."""
    params = {key: str(value) for key, value in filters.items() if value is not None}

    def parse(status: int, body: bytes, headers: Mapping[str, str]) -> Journal:
        data = _json(status, body, headers)
        entries = data.get("requests", [])
        kept = [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
        return Journal(kept, last_seq=int(data.get("last_seq", 0)))

    return AdminCall("GET", "/admin/journal", parse, params)


def clear_journal(test_id: str | None) -> AdminCall[Json]:
    """``DELETE /admin/journal``: one test scope's entries (``test_id``), or every entry."""
    return AdminCall("DELETE", "/admin/journal", _json, {"test_id": test_id} if test_id is not None else {})


def lineage(session: str | None) -> AdminCall[Json]:
    """``GET /admin/lineage`` (JSON), one session or all."""
    return _get("/admin/lineage", {"session": session} if session is not None else None)


def clear_requests() -> AdminCall[Json]:
    """``DELETE /admin/requests``."""
    return _delete("/admin/requests")


# -- chaos, breakers, rate limits ---------------------------------------------------------------


def chaos() -> AdminCall[Json]:
    """``GET /admin/chaos``."""
    return _get("/admin/chaos")


def set_chaos(fields: Mapping[str, object]) -> AdminCall[Json]:
    """``PUT /admin/chaos`` with the given fields (rules and scenarios replace the old ones)."""
    body = {key: value for key, value in fields.items() if not isinstance(value, NotGiven)}
    if "rules" in body and body["rules"] is not None:
        body["rules"] = list(_rules(body["rules"]))
    return AdminCall("PUT", "/admin/chaos", _json, content=orjson.dumps(body), content_type="application/json")


def _rules(rules: object) -> Sequence[object]:
    if isinstance(rules, Mapping):
        return [dict(rules)]
    if isinstance(rules, Sequence) and not isinstance(rules, str | bytes):
        return [dict(r) if isinstance(r, Mapping) else r for r in rules]
    raise TypeError("rules must be a list of rule mappings")


def enable_chaos() -> AdminCall[Json]:
    """``POST /admin/chaos/enable``."""
    return _post("/admin/chaos/enable")


def disable_chaos() -> AdminCall[Json]:
    """``POST /admin/chaos/disable``."""
    return _post("/admin/chaos/disable")


def clear_chaos_rules() -> AdminCall[Json]:
    """``DELETE /admin/chaos/rules`` (also switches chaos off)."""
    return _delete("/admin/chaos/rules")


def restart_chaos_scenarios() -> AdminCall[Json]:
    """``POST /admin/chaos/scenarios/restart``."""
    return _post("/admin/chaos/scenarios/restart")


def circuit_breakers() -> AdminCall[Json]:
    """``GET /admin/circuit-breakers``."""
    return _get("/admin/circuit-breakers")


def reset_circuit_breakers(model: str | None) -> AdminCall[Json]:
    """``POST /admin/circuit-breakers/reset`` (one model's, or all)."""
    return _post("/admin/circuit-breakers/reset", {"model": model} if model is not None else None)


def rate_limits() -> AdminCall[Json]:
    """``GET /admin/rate-limits``."""
    return _get("/admin/rate-limits")


def reset_rate_limits() -> AdminCall[Json]:
    """``POST /admin/rate-limits/reset``."""
    return _post("/admin/rate-limits/reset")


# -- fixtures and sessions ------------------------------------------------------------------------


def fixtures() -> AdminCall[Json]:
    """``GET /admin/fixtures``."""
    return _get("/admin/fixtures")


def load_fixtures(document: str | bytes | Mapping[str, Any], replace: bool) -> AdminCall[Json]:
    """``POST /admin/fixtures?mode=replace|append`` with a YAML/JSON text or a mapping."""
    if isinstance(document, Mapping):
        content, content_type = orjson.dumps(dict(document)), "application/json"
    elif isinstance(document, str | bytes):
        content = document.encode() if isinstance(document, str) else document
        content_type = "application/yaml"
    else:
        raise TypeError("fixtures must be a mapping or a YAML/JSON document")
    return AdminCall(
        "POST",
        "/admin/fixtures",
        _json,
        {"mode": "replace" if replace else "append"},
        content=content,
        content_type=content_type,
    )


def clear_fixtures() -> AdminCall[Json]:
    """``DELETE /admin/fixtures`` (rules, scenarios and sessions)."""
    return _delete("/admin/fixtures")


def sessions() -> AdminCall[list[Json]]:
    """``GET /admin/sessions``: the sessions only."""
    return AdminCall("GET", "/admin/sessions", _list("sessions"))


def session(session_id: str) -> AdminCall[Json]:
    """``GET /admin/sessions/{id}``."""
    return _get(f"/admin/sessions/{quote(session_id, safe='')}")


def clear_sessions() -> AdminCall[Json]:
    """``DELETE /admin/sessions``."""
    return _delete("/admin/sessions")


def drop_session(session_id: str) -> AdminCall[Json]:
    """``DELETE /admin/sessions/{id}``."""
    return _delete(f"/admin/sessions/{quote(session_id, safe='')}")


# -- test scopes and one-shot faults ----------------------------------------------------------
# A scope is named by ``?scope=`` (it wins over the test id header every scoped client sends),
# through the query routes, so a pytest node id with "/" in it needs no path escaping.


def _scoped(test_id: str) -> dict[str, str]:
    return {"scope": check_test_id(test_id)}


def scopes() -> AdminCall[Json]:
    """``GET /admin/scopes``: this worker's live scopes and the bounds in force."""
    return _get("/admin/scopes")


def scope_view(test_id: str) -> AdminCall[Json]:
    """``GET /admin/scope?scope=``: one scope in full (``NotFoundError`` if nothing created it)."""
    return _get("/admin/scope", _scoped(test_id))


def set_strict(test_id: str, strict: bool | None) -> AdminCall[Json]:
    """``PUT /admin/scope?scope=`` with ``{"strict": ...}`` (None: follow ``fixtures.strict``)."""
    content = orjson.dumps({"strict": strict})
    return AdminCall("PUT", "/admin/scope", _json, _scoped(test_id), content, "application/json")


def drop_scope(test_id: str) -> AdminCall[Json]:
    """``DELETE /admin/scope?scope=``: the scope's chaos, fixtures, sessions, faults and counters, everywhere."""
    return AdminCall("DELETE", "/admin/scope", _json, _scoped(test_id))


# Where a fault call goes: a test id (its scope), GLOBAL (the global faults, even from a
# scoped client: ``?global=true`` outranks its test id header), or None (the server decides
# from the headers: the client's scope if it has one, else global).
GLOBAL = "?global"


def _fault_params(target: str | None) -> dict[str, str]:
    if target == GLOBAL:
        return {"global": "true"}
    return _scoped(target) if target is not None else {}


def arm_fault(target: str | None, fields: Mapping[str, object]) -> AdminCall[Json]:
    """``POST /admin/faults`` (``?scope=`` a test's, ``?global=true``, else by header): arm a one-shot fault."""
    content = orjson.dumps(dict(fields))
    return AdminCall("POST", "/admin/faults", _json, _fault_params(target), content, "application/json")


def fault_fields(count: int, error: str | None, model: str | None, rule: Mapping[str, object]) -> dict[str, object]:
    """The body of ``fail_next``: ``count``, ``error_type``, ``models`` and any other chaos rule fields."""
    fields: dict[str, object] = {"count": count, **rule}
    if error is not None:
        fields["error_type"] = error
    if model is not None:
        fields["models"] = [model]
    return fields


def faults(target: str | None) -> AdminCall[list[Json]]:
    """``GET /admin/faults``: the armed one-shot faults with their uses fired and left."""
    return AdminCall("GET", "/admin/faults", _list("faults"), _fault_params(target))


def clear_faults(target: str | None) -> AdminCall[Json]:
    """``DELETE /admin/faults``: disarm the scope's (or the global) one-shot faults."""
    return AdminCall("DELETE", "/admin/faults", _json, _fault_params(target))
