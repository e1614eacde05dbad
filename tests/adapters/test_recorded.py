"""The latency lens reads recorded traffic: proxy cassettes (recorded for real through the proxy in
front of a simulator with a known profile) and OTLP/JSON trace spans with gen_ai attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

from llm_simulator.adapters.latency.fit import fit_profile
from llm_simulator.adapters.latency.formats import parse, read_file
from llm_simulator.adapters.latency.measurement import MeasurementError
from llm_simulator.adapters.otlp import OtlpError, parse_spans
from llm_simulator.cli.main import main
from llm_simulator.testing import start_simulator

# The upstream answers with a fixed 120 ms TTFT and 15 ms between tokens (the built-in profiles
# of the OpenAI and Claude models, overridden).
_FIXED = {"ttft": {"type": "fixed", "value_ms": 120}, "itl": {"type": "fixed", "value_ms": 15}}
KNOWN = {"latency": {"enabled": True, "profiles": {"gpt4": _FIXED, "claude": _FIXED}}}


@pytest.fixture(scope="module")
def cassette_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cassettes of 6 OpenAI and 3 Anthropic streams and one body, recorded through the proxy."""
    directory = tmp_path_factory.mktemp("cassettes")
    with (
        start_simulator(KNOWN) as upstream,
        start_simulator({"proxy": {"upstream": upstream.url, "record_dir": str(directory)}}) as proxy,
    ):
        client = openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0)
        claude = anthropic.Anthropic(base_url=proxy.url, api_key="k", max_retries=0)
        try:
            for i in range(6):
                messages: Any = [{"role": "user", "content": f"tell me about {i}"}]
                stream = client.chat.completions.create(
                    model="gpt-4o-mini", messages=messages, max_tokens=12, stream=True
                )
                assert list(stream)
            for i in range(3):
                with claude.messages.stream(
                    model="claude-3-5-haiku-latest", max_tokens=10, messages=[{"role": "user", "content": f"x {i}"}]
                ) as events:
                    assert events.get_final_message().content
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "b"}], max_tokens=3
            )
        finally:
            client.close()
            claude.close()
    return directory


def test_cassette_timing_is_read_per_model(cassette_dir: Path) -> None:
    (path,) = sorted(cassette_dir.glob("*.jsonl"))
    openai_point, claude_point = read_file(path)
    assert openai_point.format == "cassette" and openai_point.label == "openai/gpt-4o-mini"
    assert claude_point.label == "anthropic/claude-3-5-haiku-latest"
    assert openai_point.ttft is not None and openai_point.itl is not None and openai_point.e2e is not None
    assert openai_point.ttft.count == 6 and openai_point.e2e.count == 7  # the body counts for E2E only
    assert openai_point.itl_kind == "gap"
    # Recorded through a real socket on a loaded box: never faster than the profile, rarely much slower.
    assert 120 <= openai_point.ttft.quantiles[0.5] < 250
    assert 15 * 0.8 <= openai_point.itl.quantiles[0.5] < 40
    assert openai_point.mean_output_tokens is not None and openai_point.mean_output_tokens > 1
    assert claude_point.ttft is not None and 120 <= claude_point.ttft.quantiles[0.5] < 250
    fitted = fit_profile(openai_point).spec
    assert fitted.ttft.model_dump()["p50_ms"] == pytest.approx(openai_point.ttft.quantiles[0.5], rel=0.05)


def test_profile_fit_reads_a_cassette_point(cassette_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (path,) = sorted(cassette_dir.glob("*.jsonl"))
    assert main(["profile", "fit", str(path), "--point", "1", "--format", "json", "--no-cold-start"]) == 0
    captured = capsys.readouterr()
    assert "2 load points; using 1: cassette" in captured.err and "anthropic/claude-3-5-haiku-latest" in captured.err
    assert orjson.loads(captured.out)["latency"]["profiles"]["measured"]["ttft"]["p50_ms"] >= 120


def test_a_cassette_with_only_errors_is_refused() -> None:
    entry = {"v": 1, "provider": "openai", "request": {"path": "/v1/chat/completions"}, "status": 500, "body": {}}
    with pytest.raises(MeasurementError, match="no successful LLM call"):
        parse(orjson.dumps(entry) + b"\n" + orjson.dumps(entry), "errors.jsonl")


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def span(
    model: str,
    start_ms: float,
    duration_ms: float,
    *,
    ttft_ms: float | None = None,
    out: int = 50,
    provider: str = "openai",
    status: dict[str, Any] | None = None,
    more: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One OTLP/JSON span of an LLM chat call (``more``: other attributes)."""
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 200,
        "gen_ai.usage.output_tokens": out,
        **(more or {}),
    }
    if ttft_ms is not None:
        attrs["gen_ai.response.time_to_first_chunk"] = ttft_ms / 1000.0
    start = 1_764_900_000_000_000_000 + int(start_ms * 1e6)
    body: dict[str, Any] = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": f"chat {model}",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + int(duration_ms * 1e6)),
        "attributes": [_attr(k, v) for k, v in attrs.items()],
    }
    if status is not None:
        body["status"] = status
    return body


def otlp(*spans: dict[str, Any]) -> bytes:
    """An ExportTraceServiceRequest in the OTLP/JSON encoding."""
    resource = {"attributes": [_attr("service.name", "my-agent")]}
    return orjson.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {}, "spans": list(spans)}]}]}
    )


def test_spans_become_a_measurement_per_model() -> None:
    spans = [span("gpt-4o", i * 10, 800 + i, ttft_ms=200 + i) for i in range(20)]
    spans += [span("gpt-4o", 500, 30, status={"code": 2, "message": "rate limited"}, more={"error.type": "429"})]
    spans += [span("claude-sonnet-4", 0, 1500, ttft_ms=400, provider="anthropic")]
    spans += [{**span("x", 0, 1), "attributes": [_attr("gen_ai.operation.name", "execute_tool")]}]  # not a model call
    gpt, claude = parse(otlp(*spans), "traces.json")
    assert gpt.format == "otel" and gpt.label == "openai/gpt-4o" and gpt.errors == 1
    assert gpt.ttft is not None and gpt.ttft.quantiles[0.5] == pytest.approx(209.5)
    assert gpt.itl is not None and gpt.itl_kind == "request_mean"
    assert gpt.itl.quantiles[0.5] == pytest.approx((809.5 - 209.5) / 49, rel=0.01)
    assert claude.label == "anthropic/claude-sonnet-4"


def test_collector_file_export_lines_and_first_token_events() -> None:
    first = span("gpt-4o", 0, 1000)
    first["events"] = [
        {"name": "gen_ai.first_token", "timeUnixNano": str(int(first["startTimeUnixNano"]) + 150_000_000)}
    ]
    (point,) = parse(otlp(first) + b"\n" + otlp(span("gpt-4o", 5, 900, ttft_ms=170)), "collector.jsonl")
    assert point.ttft is not None and point.ttft.samples == (150.0, 170.0)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'{"resourceSpans": {"spans": []}}', "resourceSpans list"),
        (b'{"resourceSpans": [{"scopeSpans": {"a": 1}}]}', "scopeSpans is not a list"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": ["x"]}]}]}', "spans[0] is not an object"),
        (b"", "empty trace document"),
        (b"\x80\x81binary", "OTLP/protobuf is not read"),
    ],
)
def test_malformed_otlp_is_refused_clearly(data: bytes, problem: str) -> None:
    with pytest.raises(OtlpError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_spans(data, "bad.json")


def test_spans_without_times_or_without_llm_calls_are_refused() -> None:
    broken = span("gpt-4o", 0, 10)
    del broken["endTimeUnixNano"]
    with pytest.raises(MeasurementError, match="span 1: endTimeUnixNano missing"):
        parse(otlp(broken), "t.json")
    with pytest.raises(MeasurementError, match="no LLM call spans"):
        parse(otlp({**span("x", 0, 1), "attributes": []}), "t.json")
