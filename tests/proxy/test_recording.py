"""Recording: every proxied exchange becomes one cassette line, secrets never reach disk."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai

from llm_simulator.infra.clock import SystemClock
from llm_simulator.proxy.cassette import REDACTED, Recorder, redact_json
from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.proxy.conftest import proxy_config

SECRETS = ("sk-openai-secret", "azure-secret", "sk-ant-secret", "goog-secret", "query-secret", "user-secret")


def _entries(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(directory.glob("*.jsonl")) for line in path.read_text().splitlines()]


def test_streams_and_bodies_are_recorded_with_chunk_offsets(upstream: SimulatorHandle, tmp_path: Path) -> None:
    with start_simulator(proxy_config(upstream, record_dir=str(tmp_path))) as proxy:
        client = openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0)
        messages: Any = [{"role": "user", "content": "record me"}]
        whole = client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=4)
        streamed = list(
            client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=4, stream=True)
        )
    body_entry, stream_entry = _entries(tmp_path)
    assert body_entry["provider"] == "openai" and body_entry["status"] == 200
    assert body_entry["request"]["path"] == "/v1/chat/completions"
    assert body_entry["request"]["json"]["messages"] == messages
    assert (
        json.loads(body_entry["body"]["text"])["choices"][0]["message"]["content"] == whole.choices[0].message.content
    )
    assert body_entry["headers"]["content-type"].startswith("application/json")
    chunks = stream_entry["chunks"]
    assert stream_entry["headers"]["content-type"].startswith("text/event-stream")
    assert "".join(c["text"] for c in chunks).endswith("data: [DONE]\n\n")
    assert "".join(c["text"] for c in chunks).count("chat.completion.chunk") == len(streamed)
    offsets = [c["ms"] for c in chunks]
    assert offsets == sorted(offsets) and offsets[0] >= stream_entry["headers_ms"] >= 0


def test_secrets_never_reach_disk(upstream: SimulatorHandle, tmp_path: Path) -> None:
    extra = {"redact_paths": ["user", "metadata.user_id", "contents.*.parts.*.secret"]}
    with start_simulator(proxy_config(upstream, record_dir=str(tmp_path), **extra)) as proxy:
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "user": "user-secret"}
        httpx.post(
            f"{proxy.openai_base_url}/chat/completions", json=chat, headers={"authorization": "Bearer sk-openai-secret"}
        )
        httpx.post(
            f"{proxy.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers={"api-key": "azure-secret"},
        )
        claude = {"model": "claude-3-5-haiku-latest", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}
        httpx.post(
            f"{proxy.anthropic_base_url}/v1/messages",
            json={**claude, "metadata": {"user_id": "user-secret"}},
            headers={"x-api-key": "sk-ant-secret"},
        )
        httpx.post(
            f"{proxy.url}/v1beta/models/gemini-2.0-flash:generateContent?key=query-secret",
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
            headers={"x-goog-api-key": "goog-secret"},
        )
    text = "".join(path.read_text() for path in tmp_path.glob("*.jsonl"))
    entries = _entries(tmp_path)
    assert [e["status"] for e in entries] == [200, 200, 200, 200]
    for secret in SECRETS:
        assert secret not in text
    assert entries[0]["request"]["json"]["user"] == "[redacted]"
    assert entries[2]["request"]["json"]["metadata"]["user_id"] == "[redacted]"
    assert entries[3]["request"]["query"]["key"] == "[redacted]"
    assert entries[1]["request"]["query"]["api-version"] == "2024-10-21"


def test_concurrent_recording_writes_whole_lines(upstream: SimulatorHandle, tmp_path: Path) -> None:
    with start_simulator(proxy_config(upstream, record_dir=str(tmp_path))) as proxy:

        def one(i: int) -> int:
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"n{i}"}], "max_tokens": 30}
            body["stream"] = i % 2 == 0
            return httpx.post(f"{proxy.openai_base_url}/chat/completions", json=body, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(one, range(40))) == {200}
    entries = _entries(tmp_path)  # every line parses
    assert sorted(e["request"]["json"]["messages"][0]["content"] for e in entries) == sorted(f"n{i}" for i in range(40))


def test_redact_json_follows_dotted_paths_and_wildcards() -> None:
    body = {"a": {"b": 1, "c": 2}, "items": [{"s": "x"}, {"s": "y", "t": 3}], "keep": True}
    redact_json(body, ("a.b", "items.*.s", "missing.path", "keep.deeper"))
    assert body == {"a": {"b": REDACTED, "c": 2}, "items": [{"s": REDACTED}, {"s": REDACTED, "t": 3}], "keep": True}


def test_an_unwritable_directory_loses_the_entry_not_the_answer(tmp_path: Path) -> None:
    recorder = Recorder(str(tmp_path), (), SystemClock())
    (tmp_path / "blocked").mkdir()
    recorder.directory = tmp_path / "blocked" / "gone"  # nothing can be created there
    recorder.write({"v": 1})
    assert not list(tmp_path.rglob("*.jsonl"))
