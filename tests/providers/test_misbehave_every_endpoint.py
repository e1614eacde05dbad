"""Every misbehaviour kind on every generation endpoint, streamed and not: never a 500 or a hang.

The SDK-level behaviour is in ``test_misbehave_sdk.py``; this sweeps the endpoints no
official Python SDK covers there (legacy completions, Ollama, Bedrock, Vertex AI paths) over
raw HTTP and checks each answers 200 with a body of its own format.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llm_simulator.core.faults import MISBEHAVIOURS
from tests.live import LiveServer, live_server
from tests.providers.bedrock.helpers import MODEL as BEDROCK_MODEL
from tests.providers.bedrock.helpers import USER as BEDROCK_USER

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}
USER = [{"role": "user", "content": "weather?"}]
# (path, body, stream flag or query) per endpoint; ``{stream}`` marks where streaming is asked.
ENDPOINTS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": USER, "tools": [TOOL]}),
    "completions": ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "weather?"}),
    "responses": ("/v1/responses", {"model": "gpt-4o-mini", "input": "weather?"}),
    "messages": ("/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 300, "messages": USER}),
    "gemini": ("/v1beta/models/gemini-2.0-flash:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}),
    "ollama": ("/api/chat", {"model": "llama3.2", "messages": USER, "stream": False}),
    "bedrock": (f"/model/{BEDROCK_MODEL}/converse", {"messages": BEDROCK_USER}),
}


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with live_server("--no-latency") as server:
        yield server


def _request(live: LiveServer, endpoint: str, kind: str, stream: bool) -> httpx.Response:
    path, body = ENDPOINTS[endpoint]
    body = dict(body)
    if stream:
        if endpoint == "gemini":
            path = path.replace(":generateContent", ":streamGenerateContent") + "?alt=sse"
        elif endpoint == "bedrock":
            path = path.replace("/converse", "/converse-stream")
        else:
            body["stream"] = True
    headers = {"x-simulator-chaos": f"misbehave={kind}"}
    return httpx.post(live.url + path, json=body, headers=headers, timeout=30)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_every_kind_is_answered(live: LiveServer, endpoint: str, stream: bool) -> None:
    for kind in MISBEHAVIOURS:
        response = _request(live, endpoint, kind, stream)
        assert response.status_code == 200, (kind, response.text[:300])
        assert response.content, kind
        # No in-stream failure either, in any provider's words.
        for failure in (
            b"internal_error",
            b'"api_error"',
            b'"INTERNAL"',
            b"InternalServer",
            b'"error":{',
            b'"type":"error"',
        ):
            assert failure not in response.content, (kind, response.text[:300])
