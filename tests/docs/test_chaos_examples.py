"""Every example of docs/chaos.md loads and does what the document says (in process)."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from llm_simulator.cli.flags import resolve_config
from llm_simulator.cli.main import build_parser
from llm_simulator.config.chaos import ERROR_TYPES, FAULT_TYPES, PRESET_NAMES, ChaosRule, StreamFaultSpec
from llm_simulator.config.loader import load_config
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.errors import ErrorKind
from llm_simulator.engine.chaos.control import KNOWN_KEYS, parse_control
from llm_simulator.engine.chaos.controller import ChaosController, RequestFacts, Verdict, rule_matches
from llm_simulator.engine.chaos.presets import DEFAULT_MIX, DEFAULT_MIX_PROBABILITY, PRESETS
from llm_simulator.engine.chaos.scenarios import NO_EFFECT, ScenarioTimeline
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock
from llm_simulator.providers.bedrock import OPERATIONS as BEDROCK_OPERATIONS
from llm_simulator.providers.gemini import ACTION_ENDPOINTS
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.chaos_routes import ChaosUpdate
from llm_simulator.server.connection import ConnectionCut
from tests.docs_examples import CHAOS_DOC, doc_example, doc_examples
from tests.server.asgi_driver import Captured, call

EXAMPLES = {
    "quick-start",
    "misbehave",
    "evaluation-order",
    "rules",
    "stream-faults",
    "scenarios",
    "presets",
    "circuit-breaker",
    "rate-limits",
    "recipe-retry-429",
    "recipe-retry-then-succeed",
    "recipe-failover",
    "recipe-stream-recovery",
    "recipe-quota",
    "recipe-daily-quota",
    "recipe-seed",
}
T0 = 1000.0  # FakeClock's start: the scenario clock and the breakers start there
JAN_1_NOON = 1_767_268_800.0  # 2026-01-01T12:00:00Z, the wall time of the header samples


# -- loading ---------------------------------------------------------------------------------


def load(name: str, **flags: object) -> SimulatorConfig:
    """Example ``name`` as a config file, loaded like ``--config`` (``flags``: dotted overrides)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(doc_example(CHAOS_DOC, name), encoding="utf-8")
        return load_config(path, {}, flags)


def make_app(config: SimulatorConfig, clock: FakeClock | None = None) -> SimulatorApp:
    return SimulatorApp(config, sim=Simulator(config, clock=clock)) if clock else SimulatorApp(config)


def controller(config: SimulatorConfig) -> ChaosController:
    return ChaosController(config.chaos, FakeClock(), config.seed)


def facts(
    model: str, provider: str = "openai", endpoint: str = "chat", *, key: str = "sk-test", **headers: str
) -> RequestFacts:
    return RequestFacts(provider, endpoint, model, key, {k.replace("_", "-"): v for k, v in headers.items()})


def error_kinds(chaos: ChaosController, request: RequestFacts, n: int) -> Counter[str]:
    """How often each error type strikes ``request`` over ``n`` decisions (``none``: no error)."""
    return Counter(v.error_type or "none" for v in (chaos.decide(request) for _ in range(n)))


# -- requests --------------------------------------------------------------------------------

PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/{model}:generateContent",
}
DEFAULT_MODELS = {"openai": "gpt-4o", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


def request_body(provider: str, model: str, max_tokens: int | None, stream: bool) -> bytes:
    if provider == "anthropic":
        body: dict[str, Any] = {"model": model, "max_tokens": max_tokens or 100, "messages": [_user()]}
    elif provider == "gemini":
        body = {"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}
        if max_tokens is not None:
            body["generationConfig"] = {"maxOutputTokens": max_tokens}
    else:
        body = {"model": model, "messages": [_user()]}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
    if stream and provider != "gemini":
        body["stream"] = True
    if stream and provider == "openai":
        body["ignore_eos"] = True  # exactly max_tokens tokens, so a fault after N tokens always strikes there
    return orjson.dumps(body)


def _user() -> dict[str, str]:
    return {"role": "user", "content": "Hello"}


def key_headers(provider: str, key: str) -> dict[str, str]:
    """The key as each SDK sends it."""
    name = {"openai": "authorization", "anthropic": "x-api-key", "gemini": "x-goog-api-key"}[provider]
    return {name: f"Bearer {key}" if provider == "openai" else key}


async def generate(
    app: SimulatorApp,
    provider: str = "openai",
    model: str | None = None,
    *,
    key: str = "sk-test",
    headers: Mapping[str, str] | None = None,
    max_tokens: int | None = None,
    stream: bool = False,
) -> Captured:
    """One generation request to ``provider`` (non-streamed unless ``stream``)."""
    model = model or DEFAULT_MODELS[provider]
    path = PATHS[provider].format(model=model)
    if stream and provider == "gemini":
        path = path.replace(":generateContent", ":streamGenerateContent")
    all_headers = {**key_headers(provider, key), **(headers or {})}
    return await call(app, "POST", path, request_body(provider, model, max_tokens, stream), headers=all_headers)


async def statuses(app: SimulatorApp, n: int, model: str = "gpt-4o") -> list[int]:
    return [(await generate(app, model=model)).status for _ in range(n)]


async def stream_until_cut(app: SimulatorApp, body: bytes) -> tuple[Captured, bool]:
    """A streamed chat request that may end in a dropped connection: (what was sent, whether cut)."""
    captured = Captured()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never leaves
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            captured.status = message["status"]
        else:
            captured.chunks.append(message.get("body", b""))
            captured.complete = not message.get("more_body", False)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    try:
        await app(scope, receive, send)  # type: ignore[arg-type]
    except ConnectionCut:
        return captured, True
    return captured, False


def content_deltas(captured: Captured) -> int:
    """How many chat chunks carried text."""
    count = 0
    for line in captured.body.split(b"\n"):
        if line.startswith(b"data: {"):
            choices = orjson.loads(line[6:])["choices"]
            count += sum(1 for c in choices if c["delta"].get("content"))
    return count


def body(captured: Captured) -> Any:
    return orjson.loads(captured.body)


def retry_headers(captured: Captured) -> dict[str, str]:
    names = ("retry-after", "retry-after-ms", "x-should-retry")
    return {k: v for k, v in captured.headers.items() if k in names}


def gemini_retry_delay(captured: Captured) -> str | None:
    details = body(captured)["error"].get("details", [])
    delays = [d["retryDelay"] for d in details if d["@type"].endswith("RetryInfo")]
    return delays[0] if delays else None


async def admin(app: SimulatorApp, method: str, path: str, payload: object = None, query: str = "") -> Any:
    data = b"" if payload is None else orjson.dumps(payload)
    reply = await call(app, method, path, data, query=query)
    assert reply.status == 200, reply.body
    return body(reply)


# -- the document as a whole ---------------------------------------------------------------


def test_every_example_is_named_and_tested() -> None:
    text = CHAOS_DOC.read_text(encoding="utf-8")
    assert set(doc_examples(CHAOS_DOC)) == EXAMPLES
    # Every YAML block is a named example (and so tested here).
    assert text.count("```yaml") == len(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_loads(name: str) -> None:
    config = load(name)
    Simulator(config)  # what `config validate` checks beyond the schema


def test_every_json_block_parses() -> None:
    blocks = re.findall(r"```json\n(.*?)```", CHAOS_DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    for block in blocks:
        json.loads(block)


def test_every_control_header_example_is_valid() -> None:
    text = CHAOS_DOC.read_text(encoding="utf-8")
    values = re.findall(r"^x-simulator-chaos: (.+)$", text, re.M)
    values += re.findall(r"\| `([a-z_]+=[^`|]*)` \|$", text, re.M)
    values += re.findall(r"-H 'x-simulator-chaos: ([^']+)'", text)
    assert len(values) >= 15
    for value in values:
        assert parse_control(value, "x-simulator-chaos")


def test_every_admin_update_is_valid() -> None:
    text = CHAOS_DOC.read_text(encoding="utf-8")
    updates = re.findall(r"curl -X PUT \S+/admin/chaos .*?-d '(\{.*?\})'", text, re.S)
    assert len(updates) == 2
    for update in updates:
        ChaosUpdate.model_validate_json(update)


def test_the_tables_name_every_type_preset_and_key() -> None:
    text = CHAOS_DOC.read_text(encoding="utf-8")
    for name in (*ERROR_TYPES, *FAULT_TYPES, *PRESET_NAMES, *KNOWN_KEYS):
        assert f"| `{name}` |" in text, name


# -- quick start and rules -------------------------------------------------------------------


def test_quick_start_is_the_default_mix_at_ten_percent() -> None:
    config = load("quick-start")
    assert (config.seed, config.chaos.enabled, config.chaos.probability) == (1, True, None)
    # The flags and the environment variables of the section give the same configuration.
    args = build_parser().parse_args(["serve", "--chaos", "--seed", "1"])
    assert resolve_config(args, {}) == config
    env = {"LLM_SIMULATOR_CHAOS": "true", "LLM_SIMULATOR_SEED": "1"}
    assert load_config(None, env, {}) == config
    chaos = controller(config)
    assert chaos.effective_rules == (DEFAULT_MIX,)
    assert chaos.factor == DEFAULT_MIX_PROBABILITY == 0.1
    counts = error_kinds(chaos, facts("gpt-4o"), 20_000)
    assert 0.09 < 1 - counts["none"] / 20_000 < 0.11
    assert 0.045 < counts["rate_limit"] / 20_000 < 0.055
    assert 0.02 < counts["server_error"] / 20_000 < 0.03
    assert 0.02 < counts["overloaded"] / 20_000 < 0.03


@pytest.mark.parametrize(
    ("flags", "rate"), [((), 0.1), (("--chaos-probability", "0.3"), 0.3), (("--chaos-probability", "1"), 1.0)]
)
def test_chaos_alone_fails_one_request_in_ten(flags: tuple[str, ...], rate: float) -> None:
    """`serve --chaos`: about 10 %; `--chaos-probability P` sets the share (1: every request)."""
    args = build_parser().parse_args(["serve", "--chaos", *flags])
    counts = error_kinds(controller(resolve_config(args, {})), facts("gpt-4o"), 10_000)
    assert abs(1 - counts["none"] / 10_000 - rate) < 0.015
    assert counts.keys() <= {"none", "rate_limit", "server_error", "overloaded"}


async def test_the_probability_in_force() -> None:
    """Unset: 1 for rules and presets, 0.1 for the default mix; a value set applies as given."""
    app = make_app(load("quick-start"))
    status = await admin(app, "GET", "/admin/chaos")
    assert (status["probability"], status["probability_in_force"]) == (None, 0.1)
    rule = {"error_type": "server_error", "probability": 0.2}
    status = await admin(app, "PUT", "/admin/chaos", {"rules": [rule]})
    assert (status["probability"], status["probability_in_force"]) == (None, 1.0)
    counts = error_kinds(app.sim.chaos, facts("gpt-4o"), 10_000)
    assert 0.18 < counts["server_error"] / 10_000 < 0.22  # the rule's own 20 %
    status = await admin(app, "PUT", "/admin/chaos", {"probability": 0.5})
    assert (status["probability"], status["probability_in_force"]) == (0.5, 0.5)
    counts = error_kinds(app.sim.chaos, facts("gpt-4o"), 10_000)
    assert 0.08 < counts["server_error"] / 10_000 < 0.12  # 0.2 × 0.5
    status = await admin(app, "PUT", "/admin/chaos", {"rules": [], "preset": "full_outage"})
    assert status["probability_in_force"] == 0.5
    app.sim.chaos.configure(probability=1.0, preset=None)  # the default mix at probability 1
    assert app.sim.chaos.effective_rules == (DEFAULT_MIX,)
    assert error_kinds(app.sim.chaos, facts("gpt-4o"), 200)["none"] == 0
    # A preset with the probability unset: the preset's own rates.
    chaos = controller(load("quick-start", **{"chaos.preset": "full_outage"}))
    assert chaos.factor == 1.0 and error_kinds(chaos, facts("gpt-4o"), 200) == {"unavailable": 200}


@pytest.mark.parametrize(
    "flags", [("--chaos-preset", "full_outage"), ("--chaos-probability", "0.5"), ("--chaos-probability", "0")]
)
def test_preset_and_probability_flags_enable_chaos(flags: tuple[str, ...]) -> None:
    args = build_parser().parse_args(["serve", *flags])
    assert resolve_config(args, {}).chaos.enabled


def test_serve_with_a_preset_flag_alone_applies_it() -> None:
    args = build_parser().parse_args(["serve", "--chaos-preset", "full_outage"])
    chaos = controller(resolve_config(args, {}))
    assert error_kinds(chaos, facts("gpt-4o"), 100) == {"unavailable": 100}


def test_preset_and_probability_in_a_file_or_the_environment_do_not_enable_chaos() -> None:
    serve = build_parser().parse_args(["serve"])
    env = {"LLM_SIMULATOR_CHAOS_PRESET": "full_outage", "LLM_SIMULATOR_CHAOS_PROBABILITY": "0.5"}
    assert not resolve_config(serve, env).chaos.enabled
    assert resolve_config(serve, {**env, "LLM_SIMULATOR_CHAOS": "true"}).chaos.enabled
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chaos.yaml"
        path.write_text("chaos: {preset: full_outage, probability: 0.5}\n", encoding="utf-8")
        from_file = resolve_config(build_parser().parse_args(["serve", "--config", str(path)]), {})
        assert (from_file.chaos.preset, from_file.chaos.enabled) == ("full_outage", False)
        path.write_text("chaos: {enabled: true, preset: full_outage}\n", encoding="utf-8")
        assert resolve_config(build_parser().parse_args(["serve", "--config", str(path)]), {}).chaos.enabled


def test_evaluation_order_example() -> None:
    chaos = controller(load("evaluation-order"))
    gpt_4o = chaos.decide(facts("gpt-4o"))
    assert gpt_4o.error is not None and gpt_4o.error.status == 500
    assert (gpt_4o.rule, gpt_4o.delay_s, gpt_4o.latency_scale) == ("gpt-4o-errors", 0.2, 3.0)
    assert chaos.decide(facts("gpt-4o-mini")) == Verdict(latency_scale=2.0)
    claude = chaos.decide(facts("claude-haiku-4-5-20251001", "anthropic", "messages"))
    assert claude.error is not None and claude.error.kind is ErrorKind.TIMEOUT and claude.error.status == 504
    assert (claude.rule, claude.delay_s) == ("claude-timeouts", 1.0)


async def test_evaluation_order_example_in_process() -> None:
    app = make_app(load("evaluation-order", **{"latency.enabled": False}))
    started = asyncio.get_running_loop().time()
    failed = await generate(app, model="gpt-4o")
    assert failed.status == 500 and body(failed)["error"]["code"] == "server_error"
    assert asyncio.get_running_loop().time() - started >= 0.19  # the delay of slower-gpt-4o
    assert (await generate(app, model="gpt-4o-mini")).status == 200


def test_rules_example_filters() -> None:
    tenant, claude, revoked = load("rules").chaos.rules
    assert rule_matches(tenant, facts("gpt-4o", x_tenant="b-42"))
    assert not rule_matches(tenant, facts("gpt-4o", x_tenant="a-42"))
    assert not rule_matches(tenant, facts("gpt-4o"))
    assert rule_matches(claude, facts("claude-haiku-4-5-20251001", "anthropic", "messages"))
    assert not rule_matches(claude, facts("claude-sonnet-4-5-20250929", "anthropic", "messages"))
    assert not rule_matches(claude, facts("claude-haiku-4-5-20251001", "openai", "chat"))
    assert not rule_matches(claude, facts("claude-haiku-4-5-20251001", "anthropic", "count_tokens"))
    # Exact ids and exact keys; globs where the pattern has them.
    assert rule_matches(revoked, RequestFacts("openai", "chat", "gpt-4o", "sk-revoked", {}))
    assert not rule_matches(revoked, RequestFacts("openai", "chat", "gpt-4o", "sk-revoked-2", {}))
    only_gpt_4o = ChaosRule(models=("gpt-4o",), error_type="server_error")
    assert rule_matches(only_gpt_4o, facts("gpt-4o")) and not rule_matches(only_gpt_4o, facts("gpt-4o-mini"))
    prefix = ChaosRule(models=("gpt-5*",), error_type="server_error")
    assert rule_matches(prefix, facts("gpt-5.1-mini")) and not rule_matches(prefix, facts("gpt-4o"))
    # API keys take globs too.
    test_keys = ChaosRule(api_keys=("sk-test-*",), error_type="server_error")
    assert rule_matches(test_keys, facts("gpt-4o", key="sk-test-1"))
    assert not rule_matches(test_keys, facts("gpt-4o", key="sk-prod-1"))


# (provider, rule's model, requested model, whether the rule matches)
MODEL_FILTERS = [
    # The catalogue's id covers every spelling, on every provider.
    ("openai", "gpt-5.1", "gpt-5.1-2025-11-13", True),
    ("openai", "gpt-5.1", "gpt-5.1", True),
    ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5", True),
    ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001", True),
    ("gemini", "gemini-2.5-flash", "gemini-flash-latest", True),
    ("gemini", "gemini-2.5-flash", "gemini-2.5-flash", True),
    # An alias or dated id: every spelling of its model, on every provider.
    ("openai", "gpt-5.1-2025-11-13", "gpt-5.1-2025-11-13", True),
    ("openai", "gpt-5.1-2025-11-13", "gpt-5.1", True),
    ("anthropic", "claude-haiku-4-5", "claude-haiku-4-5", True),
    ("anthropic", "claude-haiku-4-5", "claude-haiku-4-5-20251001", True),
    ("gemini", "gemini-flash-latest", "gemini-flash-latest", True),
    ("gemini", "gemini-flash-latest", "gemini-2.5-flash", True),
    # ... but not another model.
    ("anthropic", "claude-haiku-4-5", "claude-sonnet-4-5", False),
    ("openai", "gpt-5.1", "gpt-5.2", False),
    # A glob covers every spelling.
    ("anthropic", "claude-haiku-4-5*", "claude-haiku-4-5", True),
]


@pytest.mark.parametrize(("provider", "pattern", "requested", "matches"), MODEL_FILTERS)
async def test_model_filters_match_the_catalogue_id(provider: str, pattern: str, requested: str, matches: bool) -> None:
    app = make_app(load_config(flags={"latency.enabled": False, "chaos.enabled": True}))
    app.sim.chaos.configure(rules=(ChaosRule(models=(pattern,), error_type="server_error"),))
    assert (await generate(app, provider, requested)).status == (500 if matches else 200)


async def test_api_key_globs_in_process() -> None:
    app = make_app(load_config(flags={"latency.enabled": False, "chaos.enabled": True}))
    app.sim.chaos.configure(rules=(ChaosRule(api_keys=("sk-test-*",), error_type="server_error"),))
    for provider in ("openai", "anthropic", "gemini"):
        assert (await generate(app, provider, key="sk-test-1")).status == 500
        assert (await generate(app, provider, key="sk-prod-1")).status == 200


def test_the_endpoint_names_are_the_real_ones() -> None:
    app = make_app(load_config())
    real = {r.endpoint for p in app.providers for r in p.routes() if r.method == "POST"}
    # Files, batches and conversations store things and generate nothing: chaos applies to each
    # batch line's own endpoint (the line is an internal request), and to responses, not to them.
    # Ollama's POST /api/show only looks a model up, as GET /v1/models/{id} does. Minting an
    # ephemeral Realtime key generates nothing either; the sessions it opens are chaos'd per turn.
    real = (real | set(ACTION_ENDPOINTS.values()) | set(BEDROCK_OPERATIONS.values())) - {
        "realtime_client_secrets",
        "count_tokens",
        "files",
        "batches",
        "conversations",
        "models",
    }
    description = ChaosRule.model_fields["endpoints"].description or ""
    described = re.search(r"Endpoint names: ([a-z_, ]+);", description)
    assert described is not None and set(described.group(1).split(", ")) == real
    row = re.search(r"^\| `endpoints` \|.*$", CHAOS_DOC.read_text(encoding="utf-8"), re.M)
    assert row is not None and set(re.findall(r"`([a-z_]+)`", row.group(0))) - {"endpoints"} == real


async def test_rules_example_in_process() -> None:
    app = make_app(load("rules", seed=1, **{"latency.enabled": False}))
    throttled = await generate(app, headers={"x-tenant": "b-42"})
    assert throttled.status == 429
    assert retry_headers(throttled) == {"retry-after": "0.5", "retry-after-ms": "500", "x-should-retry": "true"}
    assert (await generate(app, headers={"x-tenant": "a-42"})).status == 200
    revoked = await generate(app, key="sk-revoked")
    assert revoked.status == 401
    error = body(revoked)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
    assert error["message"] == "This API key has been revoked."
    # One in five Haiku messages fails, overloaded three times out of four.
    chaos = app.sim.chaos
    counts = error_kinds(chaos, facts("claude-haiku-4-5-20251001", "anthropic", "messages"), 8000)
    assert 0.18 < 1 - counts["none"] / 8000 < 0.22
    assert 2.5 < counts["overloaded"] / counts["server_error"] < 3.6
    overloaded = await generate(app, "anthropic", headers={"x-simulator-chaos": "error=overloaded"})
    assert overloaded.status == 529 and body(overloaded)["error"]["type"] == "overloaded_error"


# -- error types ------------------------------------------------------------------------------

# error type → (OpenAI status, type, code), (Anthropic status, type), (Gemini status, canonical status)
ERROR_TABLE: dict[str, tuple[tuple[int, str, str], tuple[int, str], tuple[int, str]]] = {
    "rate_limit": ((429, "requests", "rate_limit_exceeded"), (429, "rate_limit_error"), (429, "RESOURCE_EXHAUSTED")),
    "quota_exhausted": (
        (429, "insufficient_quota", "insufficient_quota"),
        (400, "invalid_request_error"),  # Anthropic reports an exhausted credit balance as a 400
        (429, "RESOURCE_EXHAUSTED"),
    ),
    "overloaded": ((503, "server_error", "overloaded"), (529, "overloaded_error"), (503, "UNAVAILABLE")),
    "server_error": ((500, "server_error", "server_error"), (500, "api_error"), (500, "INTERNAL")),
    "bad_gateway": ((502, "server_error", "bad_gateway"), (502, "api_error"), (502, "UNAVAILABLE")),
    "unavailable": ((503, "server_error", "service_unavailable"), (529, "overloaded_error"), (503, "UNAVAILABLE")),
    "timeout": ((504, "timeout", "timeout"), (504, "timeout_error"), (504, "DEADLINE_EXCEEDED")),
    "authentication": (
        (401, "invalid_request_error", "invalid_api_key"),
        (401, "authentication_error"),
        (400, "INVALID_ARGUMENT"),
    ),
    "permission": (
        (403, "permission_error", "permission_denied"),
        (403, "permission_error"),
        (403, "PERMISSION_DENIED"),
    ),
    "invalid_request": (
        (400, "invalid_request_error", "invalid_request"),
        (400, "invalid_request_error"),
        (400, "INVALID_ARGUMENT"),
    ),
    "context_length": (
        (400, "invalid_request_error", "context_length_exceeded"),
        (400, "invalid_request_error"),
        (400, "INVALID_ARGUMENT"),
    ),
    "content_filter": (
        (400, "invalid_request_error", "content_filter"),
        (400, "invalid_request_error"),
        (400, "INVALID_ARGUMENT"),
    ),
}


def test_the_error_type_table_is_the_documented_one() -> None:
    text = CHAOS_DOC.read_text(encoding="utf-8")
    for error_type, ((o_status, o_type, o_code), (a_status, a_type), (g_status, g_status_name)) in ERROR_TABLE.items():
        row = (
            f"| `{error_type}` | {o_status} `{o_type}` / `{o_code}` | {a_status} `{a_type}` "
            f"| {g_status} `{g_status_name}` |"
        )
        assert row in text, row


async def test_the_error_type_table() -> None:
    assert set(ERROR_TABLE) == set(ERROR_TYPES) - {"hang"}
    app = make_app(load_config(flags={"latency.enabled": False}))
    for error_type, (openai, anthropic, gemini) in ERROR_TABLE.items():
        control = {"x-simulator-chaos": f"error={error_type}; delay_ms=1"}
        reply = await generate(app, headers=control)
        error = body(reply)["error"]
        assert (reply.status, error["type"], error["code"]) == openai, error_type
        retryable = (
            "true" if (reply.status == 429 and error_type != "quota_exhausted") or reply.status >= 500 else "false"
        )
        assert reply.headers["x-should-retry"] == retryable, error_type
        assert ("retry-after-ms" in reply.headers) == (error_type == "rate_limit"), error_type
        reply = await generate(app, "anthropic", headers=control)
        assert (reply.status, body(reply)["error"]["type"]) == anthropic, error_type
        assert reply.headers["x-should-retry"] == retryable, error_type
        reply = await generate(app, "gemini", headers=control)
        assert (reply.status, body(reply)["error"]["status"]) == gemini, error_type
        assert "x-should-retry" not in reply.headers and "retry-after" not in reply.headers
        assert gemini_retry_delay(reply) == ("1s" if error_type == "rate_limit" else None), error_type


# (provider, control header, status): an explicit status is sent as given, even the type's generic one.
EXPLICIT_STATUSES = [
    ("anthropic", "error=unavailable; status=503", 503),
    ("anthropic", "error=unavailable", 529),
    ("openai", "error=overloaded; status=529", 529),
    ("openai", "error=overloaded", 503),
    ("gemini", "error=overloaded; status=529", 529),
    ("gemini", "error=overloaded", 503),
    ("openai", "error=server_error; status=502", 502),
]


@pytest.mark.parametrize(("provider", "control", "status"), EXPLICIT_STATUSES)
async def test_an_explicit_status_is_sent_as_given(provider: str, control: str, status: int) -> None:
    app = make_app(load_config(flags={"latency.enabled": False}))
    reply = await generate(app, provider, headers={"x-simulator-chaos": control})
    assert reply.status == status
    if control.startswith("error=unavailable") and provider == "anthropic":
        assert body(reply)["error"]["type"] == "overloaded_error"  # the body keeps the type's shape
    if control.startswith("error=overloaded") and provider == "openai":
        assert body(reply)["error"]["code"] == "overloaded"


async def test_an_explicit_status_in_a_rule_is_sent_as_given() -> None:
    app = make_app(load_config(flags={"latency.enabled": False, "chaos.enabled": True}))
    app.sim.chaos.configure(rules=(ChaosRule(error_type="unavailable", status_code=503),))
    assert (await generate(app, "anthropic")).status == 503
    app.sim.chaos.configure(rules=(ChaosRule(error_type="overloaded", status_code=529),))
    assert [(await generate(app, p)).status for p in ("openai", "anthropic", "gemini")] == [529, 529, 529]


async def test_authentication_with_403_is_a_permission_error() -> None:
    app = make_app(load_config(flags={"latency.enabled": False, "chaos.enabled": True}))
    app.sim.chaos.configure(rules=(ChaosRule(error_type="authentication", status_code=403),))
    message = "You are not allowed to use this model with this API key."
    reply = await generate(app)
    assert reply.status == 403
    assert body(reply)["error"] == {
        "message": message,
        "type": "permission_error",
        "param": None,
        "code": "permission_denied",
    }
    reply = await generate(app, "anthropic")
    assert reply.status == 403 and body(reply)["error"] == {"type": "permission_error", "message": message}
    reply = await generate(app, "gemini")
    assert reply.status == 403 and body(reply)["error"]["status"] == "PERMISSION_DENIED"
    assert body(reply)["error"]["message"] == message
    # A rule's own message still wins.
    app.sim.chaos.configure(rules=(ChaosRule(error_type="authentication", status_code=403, message="No."),))
    error = body(await generate(app))["error"]
    assert (error["message"], error["code"]) == ("No.", "permission_denied")


# -- stream faults ---------------------------------------------------------------------------


def certain(rule: ChaosRule, **fault: object) -> tuple[ChaosRule, ...]:
    """``rule`` firing on every request it matches (its stream fault changed by ``fault``)."""
    spec = rule.stream_fault
    assert spec is not None
    return (rule.model_copy(update={"probability": 1.0, "stream_fault": spec.model_copy(update=fault)}),)


async def test_stream_faults_example() -> None:
    config = load("stream-faults", seed=1, **{"latency.enabled": False})
    cut, pause, overloaded = config.chaos.rules
    app = make_app(config)
    stream = request_body("openai", "gpt-4o", 50, stream=True)

    app.sim.chaos.configure(rules=certain(cut))
    captured, was_cut = await stream_until_cut(app, stream)
    assert was_cut and captured.status == 200 and not captured.complete
    assert content_deltas(captured) == 20 and b"[DONE]" not in captured.body

    app.sim.chaos.configure(rules=certain(pause, duration_ms=50))
    started = asyncio.get_running_loop().time()
    captured, was_cut = await stream_until_cut(app, stream)
    assert not was_cut and captured.body.endswith(b"data: [DONE]\n\n")
    assert asyncio.get_running_loop().time() - started >= 0.045

    app.sim.chaos.configure(rules=certain(overloaded))
    reply = await generate(app, "anthropic", stream=True)
    events = reply.body.decode().split("\n\n")
    assert reply.status == 200 and events[-2].startswith("event: error\n")
    assert json.loads(events[-2].split("data: ", 1)[1])["error"]["type"] == "overloaded_error"
    assert sum(1 for e in events if '"text_delta"' in e) == 5 and "message_stop" not in reply.body.decode()
    # The rule is Anthropic's only.
    captured, was_cut = await stream_until_cut(app, stream)
    assert not was_cut and captured.body.endswith(b"data: [DONE]\n\n")


async def test_misbehave_example() -> None:
    config = load("misbehave", seed=1, **{"latency.enabled": False})
    sloppy, refuses = config.chaos.rules
    assert sloppy.misbehave == "invalid_tool_arguments" and sloppy.probability == 0.1
    app = make_app(config)
    app.sim.chaos.configure(rules=(sloppy.model_copy(update={"probability": 1.0}), refuses))
    reply = await generate(app, model="gpt-4o-mini")
    call = body(reply)["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "lookup", "arguments": "{'query': 'Paris',}"}
    assert "tool_calls" not in body(await generate(app, model="gpt-4o"))["choices"][0]["message"]
    refused = await generate(app, "anthropic", headers={"x-tenant": "x"})
    assert body(refused)["stop_reason"] == "refusal"
    assert body(await generate(app, "anthropic"))["stop_reason"] != "refusal"  # another tenant


async def test_non_streamed_faults() -> None:
    app = make_app(load_config(flags={"latency.enabled": False}))
    for fault in ("disconnect", "no_terminator", "malformed"):
        with pytest.raises(ConnectionCut):
            await generate(app, headers={"x-simulator-chaos": f"fault={fault}; after=3"})
    reply = await generate(app, "anthropic", headers={"x-simulator-chaos": "fault=error_event; after=3"})
    assert reply.status == 529 and body(reply)["error"]["type"] == "overloaded_error"


# -- scenarios and presets --------------------------------------------------------------------


def test_scenarios_timeline() -> None:
    config = load("scenarios")
    clock = FakeClock()
    timeline = ScenarioTimeline(config.chaos.scenarios, clock, config.chaos.scenario_repeat_s)

    def at(seconds: float) -> tuple[float, tuple[tuple[str, float], ...]]:
        clock.advance_to(T0 + seconds)
        effect = timeline.effect()
        return round(effect.latency_scale, 6), tuple((t, round(p, 6)) for t, p in effect.errors)

    assert at(5) == (1.0, (("overloaded", 1.0),))
    assert at(30) == (1.0, ())
    assert at(90) == (3.0, ())
    assert at(130) == (3.0, (("rate_limit", 0.5),))
    assert at(170) == (3.0, ())
    assert at(200) == (1.0, ())
    assert at(250) == (1.0, (("unavailable", 1.0),))
    assert at(305) == (1.0, (("overloaded", 1.0),))
    assert at(330) == (1.0, ())
    assert at(420) == (2.5, (("server_error", 0.1),))
    assert at(500) == (4.0, (("server_error", 0.2),))
    assert at(605) == (1.0, (("overloaded", 1.0),))  # the story starts again
    clock.advance_to(T0 + 630)
    assert timeline.effect() is NO_EFFECT


async def test_scenarios_example_in_process() -> None:
    clock = FakeClock()
    config = load("scenarios", **{"latency.enabled": False})
    app = make_app(config, clock)
    assert app.sim.chaos.effective_rules == ()  # scenarios configured: no default mix
    clock.advance_to(T0 + 30)
    assert (await generate(app)).status == 200
    clock.advance_to(T0 + 250)
    outage = await generate(app)
    assert outage.status == 503 and body(outage)["error"]["code"] == "service_unavailable"
    assert (await generate(app, "anthropic")).status == 529
    status = await admin(app, "GET", "/admin/chaos")
    assert status["scenarios"]["elapsed_s"] == 250
    assert [s["active"] for s in status["scenarios"]["scenarios"]] == [False, False, False, True, False]
    clock.advance_to(T0 + 305)
    assert body(await generate(app))["error"]["code"] == "overloaded"
    restarted = await admin(app, "POST", "/admin/chaos/scenarios/restart")
    assert restarted["elapsed_s"] == 0 and restarted["scenarios"][0]["active"]


def test_presets_example() -> None:
    config = load("presets", seed=1)
    chaos = controller(config)
    assert chaos.effective_rules == (*config.chaos.rules, *PRESETS["partial_outage"])
    counts = error_kinds(chaos, facts("gpt-4o-mini"), 20_000)
    assert 0.23 < counts["server_error"] / 20_000 < 0.27
    assert 0.085 < counts["unavailable"] / 20_000 < 0.115
    assert counts.keys() == {"none", "server_error", "unavailable"}
    served = [v for v in (chaos.decide(facts("gpt-5.1")) for _ in range(100)) if v.error is None]
    assert served and all(v.latency_scale == 2.0 for v in served)


def test_presets_table() -> None:
    """The effects the table states, at chaos.probability 1."""
    timeouts, stress, (first_byte, slow), partial, full = (PRESETS[name] for name in PRESET_NAMES)
    assert timeouts == (ChaosRule(name="intermittent_timeouts", error_type="timeout", probability=0.05, delay_ms=5000),)
    assert stress == (ChaosRule(name="rate_limit_stress", error_type="rate_limit", probability=0.3, retry_after_s=1),)
    assert (first_byte.probability, first_byte.latency_multiplier) == (0.1, 3.0)
    assert first_byte.stream_fault == StreamFaultSpec(type="slow_first_byte", duration_ms=2000)
    assert (slow.probability, slow.latency_multiplier) == (1.0, 3.0)
    assert (partial[0].probability, dict(partial[0].error_mix)) == (0.35, {"server_error": 25, "unavailable": 10})
    assert full == (ChaosRule(name="full_outage", error_type="unavailable"),)


# -- circuit breaker -----------------------------------------------------------------------------


async def test_circuit_breaker_example() -> None:
    clock = FakeClock()
    app = make_app(load("circuit-breaker"), clock)
    assert not app.sim.chaos.enabled  # the breaker works with chaos off
    failing = {"x-simulator-chaos": "error=server_error"}
    assert [(await generate(app, headers=failing)).status for _ in range(3)] == [500, 500, 500]
    refused = await generate(app)
    assert refused.status == 503 and refused.headers["retry-after"] == "10"
    assert body(refused) == {
        "error": {
            "message": "The model gpt-4o is temporarily unavailable after repeated failures "
            "(circuit open; retry in 10s).",
            "type": "server_error",
            "param": None,
            "code": "circuit_open",
        }
    }
    assert (await generate(app, model="gpt-4o-mini")).status == 200
    clock.advance_to(T0 + 2.5)
    view = await admin(app, "GET", "/admin/circuit-breakers")
    assert view["models"]["gpt-4o"] == {
        "state": "open",
        "failures_in_window": 0,
        "consecutive_successes": 0,
        "trials_in_flight": 0,
        "opened_at_age_s": 2.5,
        "retry_in_s": 7.5,
    }
    assert view["models"]["gpt-4o-mini"]["state"] == "closed"
    clock.advance_to(T0 + 10)
    assert (await admin(app, "GET", "/admin/circuit-breakers"))["models"]["gpt-4o"]["state"] == "half_open"
    assert [(await generate(app)).status for _ in range(2)] == [200, 200]
    assert (await admin(app, "GET", "/admin/circuit-breakers"))["models"]["gpt-4o"]["state"] == "closed"
    # Anthropic renders an open breaker as its 529; a reset closes it.
    for _ in range(3):
        await generate(app, "anthropic", headers=failing)
    refused = await generate(app, "anthropic")
    assert refused.status == 529 and body(refused)["error"]["type"] == "overloaded_error"
    await admin(app, "POST", "/admin/circuit-breakers/reset", query="model=claude-haiku-4-5-20251001")
    assert (await generate(app, "anthropic")).status == 200


# -- rate limits -------------------------------------------------------------------------------


def rate_headers(captured: Captured) -> dict[str, str]:
    return {k: v for k, v in captured.headers.items() if "ratelimit" in k}


async def test_rate_limits_example_headers_and_429s() -> None:
    app = make_app(load("rate-limits"), FakeClock(wall_start=JAN_1_NOON))
    first = await generate(app, model="gpt-4o-mini", key="sk-free-1", max_tokens=100)
    assert rate_headers(first) == {
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "2",
        "x-ratelimit-reset-requests": "20s",
        "x-ratelimit-limit-tokens": "10000",
        "x-ratelimit-remaining-tokens": "9892",
        "x-ratelimit-reset-tokens": "648ms",
    }
    for _ in range(2):
        assert (await generate(app, model="gpt-4o-mini", key="sk-free-1", max_tokens=100)).status == 200
    refused = await generate(app, model="gpt-4o-mini", key="sk-free-1", max_tokens=100)
    assert refused.status == 429
    assert retry_headers(refused) == {"retry-after": "20", "retry-after-ms": "20000", "x-should-retry": "true"}
    assert rate_headers(refused)["x-ratelimit-remaining-requests"] == "0"
    assert body(refused) == {
        "error": {
            "message": "Rate limit reached for gpt-4o-mini in organization org-simulator on requests per min (RPM): "
            "Limit 3, Used 3, Requested 1. Please try again in 20s. "
            "Visit https://platform.openai.com/account/rate-limits to learn more.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }

    first = await generate(app, "anthropic", key="sk-free-1", max_tokens=100)
    assert rate_headers(first) == {
        "anthropic-ratelimit-requests-limit": "3",
        "anthropic-ratelimit-requests-remaining": "2",
        "anthropic-ratelimit-requests-reset": "2026-01-01T12:00:20Z",
        "anthropic-ratelimit-tokens-limit": "10000",
        "anthropic-ratelimit-tokens-remaining": "9892",
        "anthropic-ratelimit-tokens-reset": "2026-01-01T12:00:01Z",
    }
    for _ in range(2):
        await generate(app, "anthropic", key="sk-free-1", max_tokens=100)
    refused = await generate(app, "anthropic", key="sk-free-1", max_tokens=100)
    assert refused.status == 429 and retry_headers(refused)["retry-after"] == "20"
    assert body(refused)["error"]["message"].startswith(
        "This request would exceed the rate limit for your organization (simulated organization) "
        "of 3 requests per minute."
    )

    for _ in range(3):
        ok = await generate(app, "gemini", key="sk-free-1")
        assert ok.status == 200 and not rate_headers(ok)
    refused = await generate(app, "gemini", key="sk-free-1")
    error = body(refused)["error"]
    assert (refused.status, error["status"], gemini_retry_delay(refused)) == (429, "RESOURCE_EXHAUSTED", "20s")
    violation = error["details"][0]["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel" and violation["quotaValue"] == "3"
    assert (await admin(app, "GET", "/admin/rate-limits"))["refused"] == 3


async def test_rate_limits_example_tiers() -> None:
    app = make_app(load("rate-limits"), FakeClock())
    paid = await generate(app, model="gpt-4o", key="sk-paid")
    assert rate_headers(paid)["x-ratelimit-limit-requests"] == "500"
    # The burst (500 × 1.5 = 750) is headroom the headers do not show: never above the limit.
    assert rate_headers(paid)["x-ratelimit-remaining-requests"] == "500"
    assert rate_headers(paid)["x-ratelimit-reset-requests"] == "0s"
    other = await generate(app, model="gpt-4o-mini", key="sk-paid")
    assert rate_headers(other)["x-ratelimit-remaining-requests"] == "999"
    # Each model has its own buckets.
    free = [await generate(app, model=m, key="sk-free-9") for m in ("gpt-4o", "gpt-4o-mini")]
    assert [rate_headers(r)["x-ratelimit-remaining-requests"] for r in free] == ["2", "2"]


async def test_rate_limits_are_exact_under_concurrency() -> None:
    app = make_app(load("rate-limits"), FakeClock())
    replies = await asyncio.gather(*(generate(app, model="gpt-4o-mini", key="sk-free-2") for _ in range(20)))
    assert Counter(r.status for r in replies) == {200: 3, 429: 17}


async def test_a_request_larger_than_the_bucket_is_refused_for_good() -> None:
    app = make_app(load("rate-limits"), FakeClock())
    refused = await generate(app, model="gpt-4o-mini", key="sk-free-3", max_tokens=12_000)
    assert refused.status == 429 and retry_headers(refused) == {"x-should-retry": "false"}
    assert body(refused)["error"]["type"] == "tokens"


async def test_output_estimate_is_reconciled() -> None:
    config = load("rate-limits", **{"generation.strategy": "fixed", "generation.fixed_text": "ok"})
    app = make_app(config, FakeClock())
    first = await generate(app, model="gpt-4o-mini", key="sk-free-4", max_tokens=100)
    assert rate_headers(first)["x-ratelimit-remaining-tokens"] == "9892"  # 8 prompt + 100 estimated
    await asyncio.sleep(0)  # the refund of 99 unused tokens is applied
    second = await generate(app, model="gpt-4o-mini", key="sk-free-4", max_tokens=100)
    assert rate_headers(second)["x-ratelimit-remaining-tokens"] == str(10_000 - 9 - 108)


# -- recipes -------------------------------------------------------------------------------------


async def test_recipe_retry_429() -> None:
    app = make_app(load("recipe-retry-429"))
    case = {"x-test-case": "retry-429"}
    for provider in ("openai", "anthropic"):
        reply = await generate(app, provider, headers=case)
        assert reply.status == 429
        assert retry_headers(reply) == {"retry-after": "0.2", "retry-after-ms": "200", "x-should-retry": "true"}
    reply = await generate(app, "gemini", headers=case)
    assert reply.status == 429 and gemini_retry_delay(reply) == "0.2s"
    for provider in ("openai", "anthropic", "gemini"):
        assert (await generate(app, provider)).status == 200
    assert (await admin(app, "GET", "/admin/chaos"))["injections"] == {"rate_limit": 3}


async def test_recipe_retry_then_succeed() -> None:
    clock = FakeClock()
    app = make_app(load("recipe-retry-then-succeed"), clock)
    attempts = []
    for second in (0.0, 1.0, 2.0, 3.0):  # a client waiting the 1 s hint before each retry
        clock.advance_to(T0 + second)
        reply = await generate(app)
        attempts.append(reply.status)
        if reply.status == 429:
            assert reply.headers["retry-after-ms"] == "1000"
    assert attempts == [429, 429, 429, 200]
    await admin(app, "POST", "/admin/chaos/scenarios/restart")
    assert (await generate(app)).status == 429


async def test_recipe_failover() -> None:
    clock = FakeClock()
    app = make_app(load("recipe-failover"), clock)
    for _ in range(3):
        down = await generate(app, model="gpt-4o")
        assert down.status == 503 and body(down)["error"]["code"] == "service_unavailable"
        assert (await generate(app, model="gpt-4o-mini")).status == 200
        assert (await generate(app, "anthropic")).status == 200
    fast = await generate(app, model="gpt-4o")
    assert fast.status == 503 and body(fast)["error"]["code"] == "circuit_open"
    assert fast.headers["retry-after"] == "30"
    assert (await admin(app, "GET", "/admin/chaos"))["injections"] == {"unavailable": 3}  # no draw for it
    await admin(app, "POST", "/admin/chaos/disable")
    assert body(await generate(app, model="gpt-4o"))["error"]["code"] == "circuit_open"
    clock.advance_to(T0 + 30)
    assert [(await generate(app, model="gpt-4o")).status for _ in range(3)] == [200, 200, 200]
    assert (await admin(app, "GET", "/admin/circuit-breakers"))["models"]["gpt-4o"]["state"] == "closed"


async def test_dropping_the_rules_turns_chaos_off() -> None:
    app = make_app(load("recipe-failover", **{"chaos.preset": "full_outage"}))
    assert (await generate(app, model="gpt-4o")).status == 503
    status = await admin(app, "DELETE", "/admin/chaos/rules")
    assert (status["enabled"], status["rules"], status["preset"]) == (False, [], None)
    # The outage is over, and no default mix takes its place.
    assert await statuses(app, 20, "gpt-4o") == [200] * 20
    assert await statuses(app, 20, "gpt-4o-mini") == [200] * 20
    # Switched on again without rules: the default mix, at its 10 %.
    status = await admin(app, "POST", "/admin/chaos/enable")
    assert status["effective_rules"] == [DEFAULT_MIX.model_dump(mode="json", exclude_defaults=True)]
    assert status["probability_in_force"] == 0.1


async def test_dropping_the_rules_keeps_the_scenarios() -> None:
    app = make_app(load("recipe-retry-then-succeed"), FakeClock())
    status = await admin(app, "DELETE", "/admin/chaos/rules")
    assert not status["enabled"] and len(status["scenarios"]["scenarios"]) == 1
    assert (await generate(app)).status == 200
    await admin(app, "POST", "/admin/chaos/enable")
    assert (await generate(app)).status == 429  # the outage scenario, not the default mix


async def test_recipe_stream_recovery() -> None:
    app = make_app(load("recipe-stream-recovery"))
    stream = request_body("openai", "gpt-4o", 50, stream=True)
    broken, was_cut = await stream_until_cut(app, stream)
    assert was_cut and content_deltas(broken) == 5 and b"[DONE]" not in broken.body
    for _ in range(2):
        complete, was_cut = await stream_until_cut(app, stream)
        assert not was_cut and complete.body.endswith(b"data: [DONE]\n\n")


async def test_recipe_quota() -> None:
    app = make_app(load("recipe-quota"))
    reply = await generate(app, key="sk-exhausted")
    assert reply.status == 429 and retry_headers(reply) == {"x-should-retry": "false"}
    error = body(reply)["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
    reply = await generate(app, "anthropic", key="sk-exhausted")
    assert reply.status == 400 and retry_headers(reply) == {"x-should-retry": "false"}
    assert body(reply)["error"]["type"] == "invalid_request_error"
    reply = await generate(app, "gemini", key="sk-exhausted")
    assert reply.status == 429 and body(reply)["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert "details" not in body(reply)["error"]
    for provider in ("openai", "anthropic", "gemini"):
        assert (await generate(app, provider, key="sk-fine")).status == 200


async def test_recipe_daily_quota() -> None:
    app = make_app(load("recipe-daily-quota"), FakeClock())
    assert [(await generate(app)).status for _ in range(2)] == [200, 200]
    refused = await generate(app)
    assert refused.status == 429
    # The hint stays, but the SDKs are told not to retry (rather than sleep for 12 hours).
    assert retry_headers(refused) == {"retry-after": "43200", "retry-after-ms": "43200000", "x-should-retry": "false"}
    assert "on requests per day (RPD)" in body(refused)["error"]["message"]
    for _ in range(2):
        assert (await generate(app, "anthropic")).status == 200
    refused = await generate(app, "anthropic")
    assert refused.status == 429 and body(refused)["error"]["type"] == "rate_limit_error"
    assert retry_headers(refused) == {"retry-after": "43200", "retry-after-ms": "43200000", "x-should-retry": "false"}
    for _ in range(2):
        assert (await generate(app, "gemini")).status == 200
    refused = await generate(app, "gemini")
    violation = body(refused)["error"]["details"][0]["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel"
    assert gemini_retry_delay(refused) == "43200s"


async def test_a_spent_daily_token_budget_is_not_retried() -> None:
    tiers = [{"name": "tokens-a-day", "tokens_per_day": 300, "requests_per_minute": 100}]
    config = load_config(flags={"latency.enabled": False, "rate_limits.enabled": True, "rate_limits.tiers": tiers})
    app = make_app(config, FakeClock())
    assert (await generate(app, max_tokens=100)).status == 200
    replies = [await generate(app, max_tokens=250) for _ in range(2)]
    refused = next(r for r in replies if r.status == 429)
    assert "retry-after" in refused.headers and refused.headers["x-should-retry"] == "false"
    assert "on tokens per day (TPD)" in body(refused)["error"]["message"]


async def test_forced_requests_do_not_shift_seeded_failures() -> None:
    """Control-header requests draw from a generator of their own."""
    plain = await statuses(make_app(load("recipe-seed")), 40)
    app = make_app(load("recipe-seed"))
    forced = {"x-simulator-chaos": "error=server_error; probability=0.5"}
    mixed = []
    for _ in range(40):
        await generate(app, headers=forced)
        mixed.append((await generate(app)).status)
    assert mixed == plain
    assert app.sim.chaos.decisions == 80


async def test_recipe_seed() -> None:
    runs = [await statuses(make_app(load("recipe-seed")), 60) for _ in range(2)]
    assert runs[0] == runs[1]
    assert 3 <= sum(status != 200 for status in runs[0]) <= 25
    other = await statuses(make_app(load("recipe-seed", seed=43)), 60)
    assert other != runs[0]
    # chaos.seed alone decides the failures.
    chaos_only = await statuses(make_app(load("recipe-seed", seed=7, **{"chaos.seed": 42})), 60)
    assert chaos_only == runs[0]
