"""``client`` against a live simulator, for each provider: chat, stream, embed, the REPL, errors."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest

from llm_simulator.cli.main import main
from tests.live import LiveServer, free_port

PROVIDERS = ["openai", "anthropic", "gemini"]
# The default Gemini model thinks (dynamic budget), which can spend a few --max-tokens on
# thoughts and leave no visible text; the tests that count words name a model that does not.
NO_THINKING = {"gemini": ["--model", "gemini-2.0-flash"]}


def _requests(server: LiveServer, path: str) -> list[dict[str, Any]]:
    """What the server received on paths containing ``path`` since the log was last cleared."""
    entries = httpx.get(server.url + "/admin/requests", timeout=5).json()["requests"]
    return [e for e in entries if path in e["path"]]


@pytest.fixture
def server(cli_server: LiveServer) -> LiveServer:
    httpx.delete(cli_server.url + "/admin/requests", timeout=5)
    return cli_server


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat(server: LiveServer, provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["client", "chat", "Hello", "--url", server.url, "--provider", provider, "--max-tokens", "8"]
    argv += NO_THINKING.get(provider, [])
    assert main([*argv, "--system", "Be terse"]) == 0
    out = capsys.readouterr().out
    assert out.strip() and out.endswith("\n")
    sent = _requests(server, "/v1")[-1]["body"]
    system = {
        "openai": sent.get("messages", [{}])[0],
        "anthropic": sent.get("system"),
        "gemini": sent.get("systemInstruction"),
    }
    assert "Be terse" in json.dumps(system[provider])
    assert main([*argv, "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert {"openai": "choices", "anthropic": "content", "gemini": "candidates"}[provider] in body


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat_stream(server: LiveServer, provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["client", "chat", "Hello", "--url", server.url, "--provider", provider, "--max-tokens", "12", "--stream"]
    argv += NO_THINKING.get(provider, [])
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert len(text.split()) >= 3 and text.endswith("\n")
    # The JSON form shows the events one per line, as they arrived: several, not one body.
    assert main([*argv, "--format", "json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(events) >= 3
    if provider == "anthropic":
        assert events[0]["event"] == "message_start" and events[-1]["event"] == "message_stop"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_error_response_prints_one_line_and_exits_1(
    server: LiveServer, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for stream in ([], ["--stream"]):
        argv = ["client", "chat", "Hi", "--url", server.url, "--provider", provider, "--model", "no-such-model"]
        assert main([*argv, *stream]) == 1
        captured = capsys.readouterr()
        kind = {"openai": "invalid_request_error", "anthropic": "not_found_error", "gemini": "NOT_FOUND"}[provider]
        assert captured.err.startswith(f"error: 404 {kind}: ")
        assert captured.err.count("\n") == 1
        assert "no-such-model" in captured.err


@pytest.mark.parametrize(("provider", "dimensions"), [("openai", 1536), ("gemini", 3072)])
def test_embed(server: LiveServer, provider: str, dimensions: int, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["client", "embed", "the quick brown fox", "--url", server.url, "--provider", provider]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"dimensions: {dimensions}"
    assert lines[3].startswith("values: [") and lines[3].count(",") == 8
    assert main([*argv, "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    vector = body["data"][0]["embedding"] if provider == "openai" else body["embedding"]["values"]
    assert len(vector) == dimensions


@pytest.mark.parametrize("provider", PROVIDERS)
def test_interactive_keeps_history_and_resets(
    server: LiveServer, provider: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("first question\nsecond question\n\n/reset\nthird\n/exit\nunsent\n"))
    argv = ["client", "interactive", "--url", server.url, "--provider", provider, "--max-tokens", "6"]
    argv += NO_THINKING.get(provider, [])
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert len([line for line in captured.out.splitlines() if line.strip()]) == 3
    assert "(history cleared)" in captured.err
    key = "contents" if provider == "gemini" else "messages"
    sent = [e["body"][key] for e in _requests(server, "/v1")]
    assert [len(messages) for messages in sent] == [1, 3, 1]
    assert "first question" in json.dumps(sent[1][0]) and "second question" in json.dumps(sent[1][2])
    assert "unsent" not in json.dumps(sent)


def test_interactive_without_streaming_and_a_failed_turn(
    server: LiveServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\nagain"))  # EOF without a newline ends it too
    argv = ["client", "interactive", "--url", server.url, "--no-stream", "--model", "no-such-model"]
    assert main(argv) == 1
    assert capsys.readouterr().err.count("error: 404 invalid_request_error") == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\nagain\n"))
    assert main(["client", "interactive", "--url", server.url, "--no-stream", "--max-tokens", "5"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_unreachable_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["client", "chat", "Hi", "--url", url]) == 2
    assert capsys.readouterr().err.startswith(f"llm-simulator: cannot reach {url}/v1/chat/completions: ")


def test_api_key_and_headers_are_sent(server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["client", "chat", "Hi", "--url", server.url, "--provider", "anthropic", "--api-key", "sk-mine"]
    assert main([*argv, "--header", "x-simulator-seed: 11", "--max-tokens", "5"]) == 0
    first = capsys.readouterr().out
    assert main([*argv, "--header", "x-simulator-seed: 11", "--max-tokens", "5"]) == 0
    assert capsys.readouterr().out == first  # the seed header reached the server
    headers = _requests(server, "/v1/messages")[-1]["headers"]
    assert headers["anthropic-version"] == "2023-06-01"
    assert "sk-mine" not in json.dumps(headers)  # the log masks it, but it was there
    assert "x-api-key" in headers


@pytest.mark.parametrize("provider", PROVIDERS)
def test_in_stream_and_http_errors_from_chaos(
    server: LiveServer, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["client", "chat", "Hi", "--url", server.url, "--provider", provider, "--max-tokens", "40"]
    argv += [*NO_THINKING.get(provider, []), "--stream"]
    fault = "x-simulator-chaos: fault=error_event; after=3; fault_error=rate_limit"
    assert main([*argv, "--header", fault]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() and captured.out.endswith("\n")  # the partial reply, its line ended
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert main([*argv[:-1], "--header", "x-simulator-chaos: error=rate_limit"]) == 1
    assert capsys.readouterr().err.startswith("error: 429 ")
