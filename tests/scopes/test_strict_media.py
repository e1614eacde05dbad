"""Strict mode and fixtures on every request kind whose answer the simulator makes up, through the official SDKs.

Generation and embeddings had strict mode; OpenAI's media endpoints (moderations, images,
speech, transcriptions) now meet it too, and fixtures match them by ``endpoint`` (errors and
delays only: the answer is always the endpoint's own). A Realtime turn is a generation
through the app, so a strict scope's unmatched turn fails there with ``strict_no_fixture``.
Requests whose answer is not made up (the model list, token counts, files) are not
strict: a test cannot be misled by them and no fixture could answer them.
"""

from __future__ import annotations

import io
import struct
import time
import wave
from typing import Any

import httpx
import openai
import orjson
import pytest

from llm_simulator.core.test_scope import TEST_ID_HEADER
from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.scopes.conftest import ok, scoped_openai

MEDIA_FIXTURES = """
rules:
  - match: {endpoint: moderation, message: allowed}
    respond: {text: ignored}
  - match: {endpoint: image, message: forbidden}
    respond: {error: {status: 429, message: scripted image quota}}
"""


def _wav(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{int(rate * seconds)}h", *([0] * int(rate * seconds))))
    return buffer.getvalue()


def _strict(sim: SimulatorHandle, scope: str, fixtures: str | None = None) -> openai.OpenAI:
    with httpx.Client(base_url=sim.url) as admin:
        ok(admin.put("/admin/scope", params={"scope": scope}, json={"strict": True}))
        if fixtures is not None:
            ok(admin.post("/admin/fixtures", params={"scope": scope}, content=fixtures))
    return scoped_openai(sim, scope)


def _strict_miss(caught: pytest.ExceptionInfo[openai.BadRequestError], path: str) -> None:
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "strict_no_fixture", body
    assert "Strict mode" in caught.value.message and f"POST {path}" in caught.value.message


MISSES: list[tuple[str, str, Any]] = [
    ("moderation", "/v1/moderations", lambda c: c.moderations.create(input="unscripted")),
    ("image", "/v1/images/generations", lambda c: c.images.generate(model="dall-e-2", prompt="a cat", size="256x256")),
    ("speech", "/v1/audio/speech", lambda c: c.audio.speech.create(model="tts-1", voice="alloy", input="hi").read()),
    (
        "transcription",
        "/v1/audio/transcriptions",
        lambda c: c.audio.transcriptions.create(model="whisper-1", file=("a.wav", _wav())),
    ),
]


@pytest.mark.parametrize(("kind", "path", "call"), MISSES, ids=[m[0] for m in MISSES])
def test_a_media_request_no_fixture_matches_is_a_strict_miss(
    sim: SimulatorHandle, kind: str, path: str, call: Any
) -> None:
    scope = f"strict-media-{kind}"
    client = _strict(sim, scope)
    with pytest.raises(openai.BadRequestError) as caught:
        call(client)
    _strict_miss(caught, path)
    logged = [r for r in sim.requests(path=path) if r.get("test_id") == scope]
    assert [r["error_type"] for r in logged] == ["strict_no_fixture"]
    assert call(scoped_openai(sim, None))  # unscoped traffic on the same server is not strict


def test_a_media_fixture_matches_by_endpoint_and_text(sim: SimulatorHandle) -> None:
    client = _strict(sim, "strict-media-fixtures", MEDIA_FIXTURES)
    answer = client.moderations.create(input="allowed words")  # matched: the endpoint's own answer
    assert answer.results and answer.results[0].categories is not None
    with pytest.raises(openai.BadRequestError) as caught:  # the same endpoint, another text: a miss
        client.moderations.create(input="other words")
    _strict_miss(caught, "/v1/moderations")
    with pytest.raises(openai.RateLimitError, match="scripted image quota"):  # a scripted error
        client.images.generate(model="dall-e-2", prompt="forbidden fruit", size="256x256")
    with httpx.Client(base_url=sim.url) as admin:
        counters = ok(admin.get("/admin/scope", params={"scope": "strict-media-fixtures"}))["counters"]
    assert (counters["fixture_hits"], counters["strict_misses"]) == (2, 1)


def test_a_scoped_one_shot_fault_reaches_a_media_request(sim: SimulatorHandle) -> None:
    with httpx.Client(base_url=sim.url) as admin:
        ok(admin.post("/admin/faults", params={"scope": "media-fault"}, json={"error_type": "rate_limit"}))
    with pytest.raises(openai.RateLimitError):
        scoped_openai(sim, "media-fault").moderations.create(input="hello")
    assert scoped_openai(sim, "media-fault").moderations.create(input="hello").results


def test_requests_with_nothing_made_up_are_not_strict(sim: SimulatorHandle) -> None:
    client = _strict(sim, "strict-media-lists")
    assert any(m.id == "gpt-4o" for m in client.models.list())
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    uploaded = client.files.create(file=("a.jsonl", b'{"x": 1}\n'), purpose="batch")
    assert client.files.retrieve(uploaded.id).id == uploaded.id


def test_global_strict_mode_covers_media_requests() -> None:
    with start_simulator({"fixtures": {"strict": True}}) as strict:
        client = scoped_openai(strict, None)
        with pytest.raises(openai.BadRequestError) as caught:
            client.moderations.create(input="anything")
        _strict_miss(caught, "/v1/moderations")
        lenient = openai.OpenAI(
            base_url=strict.openai_base_url,
            api_key="sk-test",
            max_retries=0,
            default_headers={TEST_ID_HEADER: "lenient-media"},
        )
        with httpx.Client(base_url=strict.url) as admin:
            ok(admin.put("/admin/scope", params={"scope": "lenient-media"}, json={"strict": False}))
        assert lenient.moderations.create(input="anything").results
        lenient.close()


def test_a_strict_scopes_batch_line_no_fixture_matches_goes_to_the_error_file(sim: SimulatorHandle) -> None:
    # A batch's lines are sent through the app with the creating request's headers, its test
    # id included: each line meets the scope's fixtures and strict mode as a live request.
    client = _strict(sim, "strict-batch", "rules:\n  - match: {message: ping}\n    respond: {text: pong}\n")
    lines = [
        {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body}
        for cid, body in (
            ("hit", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping"}]}),
            ("miss", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "unscripted"}]}),
        )
    ]
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    file_id = client.files.create(file=("in.jsonl", data), purpose="batch").id
    batch = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
    deadline = time.monotonic() + 30
    while (batch := client.batches.retrieve(batch.id)).status not in ("completed", "failed", "cancelled", "expired"):
        assert time.monotonic() < deadline, batch.status
        time.sleep(0.05)
    assert batch.status == "completed" and batch.output_file_id and batch.error_file_id
    (answered,) = [orjson.loads(x) for x in client.files.content(batch.output_file_id).content.splitlines()]
    assert answered["response"]["body"]["choices"][0]["message"]["content"] == "pong"
    (missed,) = [orjson.loads(x) for x in client.files.content(batch.error_file_id).content.splitlines()]
    assert missed["custom_id"] == "miss" and missed["response"]["status_code"] == 400
    assert missed["response"]["body"]["error"]["code"] == "strict_no_fixture"


def test_a_rule_without_an_endpoint_is_spent_on_a_media_request_too() -> None:
    # fixtures.md: a catch-all meant for generations names ``endpoint: chat``.
    catch_all = "rules:\n  - match: {}\n    times: 1\n    respond: {text: canned}\n"
    chat_only = "rules:\n  - match: {endpoint: chat}\n    times: 1\n    respond: {text: canned}\n"
    for fixtures, answered in ((catch_all, False), (chat_only, True)):
        with start_simulator() as fresh, httpx.Client(base_url=fresh.url) as admin:
            ok(admin.post("/admin/fixtures", content=fixtures))
            client = scoped_openai(fresh, None)
            assert client.moderations.create(input="hello").results
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            assert (reply.choices[0].message.content == "canned") is answered
