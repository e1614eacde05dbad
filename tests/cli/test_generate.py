"""``generate``: every sample is a request the simulator accepts (checked against the app in process)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import yaml

from llm_simulator.cli.main import main
from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import Captured, call


@pytest.fixture(scope="module")
def app() -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.enabled": False}))


async def _post(app: SimulatorApp, path: str, body: object) -> Captured:
    route, _, query = path.partition("?")
    return await call(app, "POST", route, orjson.dumps(body), query=query)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


PATHS = {
    ("openai", False): "/v1/chat/completions",
    ("openai", True): "/v1/chat/completions",
    ("anthropic", False): "/v1/messages",
    ("anthropic", True): "/v1/messages",
    ("gemini", False): "/v1beta/models/gemini-2.5-flash-lite:generateContent",
    ("gemini", True): "/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse",
}


@pytest.mark.parametrize(("provider", "stream"), list(PATHS))
async def test_generate_chat_is_accepted(
    app: SimulatorApp, provider: str, stream: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "chat", "--provider", provider, "--prompt", "Hi there", "--system", "Be brief"]
    out = _run(capsys, *argv, "--max-tokens", "12", *(["--stream"] if stream else []))
    body = json.loads(out)
    response = await _post(app, PATHS[provider, stream], body)
    assert response.status == 200, response.body
    if stream:
        assert response.headers["content-type"].startswith("text/event-stream")
    # The text form shows the same body under the method, path and headers to send it with.
    text = _run(capsys, *argv, "--max-tokens", "12", *(["--stream"] if stream else []), "--format", "text")
    head, _, rest = text.partition("\n\n")
    assert head.splitlines()[0] == f"POST {PATHS[provider, stream]}"
    assert "content-type: application/json" in head
    assert json.loads(rest) == body


@pytest.mark.parametrize(
    ("provider", "path"),
    [("openai", "/v1/embeddings"), ("gemini", "/v1beta/models/text-embedding-004:embedContent")],
)
async def test_generate_embedding_is_accepted(
    app: SimulatorApp, provider: str, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.loads(_run(capsys, "generate", "embedding", "--provider", provider, "--prompt", "a b c"))
    response = await _post(app, path, body)
    assert response.status == 200, response.body


def test_generate_embedding_refuses_anthropic(capsys: pytest.CaptureFixture[str]) -> None:
    # argparse refuses it (not a choice): anthropic has no embeddings API.
    assert main(["generate", "embedding", "--provider", "anthropic"]) == 2


def test_generate_config_is_the_example_and_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _run(capsys, "generate", "config")
    init = tmp_path / "init.yaml"
    assert main(["config", "init", str(init)]) == 0
    capsys.readouterr()
    assert text == init.read_text(encoding="utf-8")
    assert _run(capsys, "generate", "config", "--format", "text") == text
    as_json = tmp_path / "sim.json"
    as_json.write_text(_run(capsys, "generate", "config", "--format", "json"))
    assert json.loads(as_json.read_text()) == yaml.safe_load(text)
    assert main(["config", "validate", str(as_json)]) == 0


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_generate_requests_are_varied_reproducible_and_accepted(
    app: SimulatorApp, provider: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "requests.jsonl"
    argv = ["generate", "requests", "--provider", provider, "--count", "25", "--seed", "5", "--output", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    path = PATHS[provider, False]
    assert f"wrote 25 requests to {out} (POST {path})" in err
    lines = out.read_text().splitlines()
    assert len(lines) == 25
    bodies = [json.loads(line) for line in lines]
    # Different prompts and lengths, some with history.
    texts = {json.dumps(b, sort_keys=True) for b in bodies}
    assert len(texts) > 20
    sizes = sorted(len(line) for line in lines)
    assert sizes[-1] > 3 * sizes[0]
    key = "contents" if provider == "gemini" else "messages"
    assert any(len(b[key]) > 1 for b in bodies)
    # The same seed gives the same file; another seed another one.
    again = _run(capsys, "generate", "requests", "--provider", provider, "--count", "25", "--seed", "5")
    assert again.splitlines() == lines
    other = _run(capsys, "generate", "requests", "--provider", provider, "--count", "25", "--seed", "6")
    assert other.splitlines() != lines
    for body in bodies:
        response = await _post(app, path, body)
        assert response.status == 200, (body, response.body)


def test_generate_requests_stream_and_bad_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "generate", "requests", "-n", "3", "--stream")
    assert all(json.loads(line)["stream"] is True for line in out.splitlines())
    assert main(["generate", "requests", "--output", str(tmp_path / "missing" / "r.jsonl")]) == 2
    assert "the directory does not exist" in capsys.readouterr().err
