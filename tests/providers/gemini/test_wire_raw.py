"""Raw wire checks with httpx: stream framing, routing on shared paths, proto-JSON leniency."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from google import genai

from llm_simulator.engine.tokenizer import get_tokenizer
from tests.live import LiveServer
from tests.providers.gemini.helpers import BODY, CHAT_MODEL, CONTENTS, LINE_BREAKS, chunk_text, split_sse


def _stream(http: httpx.Client, url: str, body: dict[str, Any], **kwargs: Any) -> tuple[httpx.Response, bytes]:
    """POST and return the response (headers) and the raw, undecoded body."""
    with http.stream("POST", url, json=body, **kwargs) as resp:
        raw = b"".join(resp.iter_raw())
    return resp, raw


def _seeded(seed: int, **config: Any) -> dict[str, Any]:
    return {"contents": CONTENTS, "generationConfig": {"seed": seed, **config}}


def _check_chunks(chunks: list[dict[str, Any]], final_text: str, candidates: int = 1) -> None:
    """Every chunk is a complete response; each candidate finishes once; usage is full only at the end."""
    assert chunks
    for chunk in chunks:
        assert set(chunk) == {"candidates", "usageMetadata", "modelVersion", "responseId"}, chunk
        assert len(chunk["candidates"]) == 1
        assert chunk["candidates"][0]["content"]["role"] == "model"
        assert chunk["modelVersion"] == CHAT_MODEL
        assert "error" not in chunk
    assert len({c["responseId"] for c in chunks}) == 1
    for index in range(candidates):
        mine = [c["candidates"][0] for c in chunks if c["candidates"][0]["index"] == index]
        assert ["finishReason" in c for c in mine] == [False] * (len(mine) - 1) + [True]
    *early, last = chunks
    assert all("candidatesTokenCount" not in c["usageMetadata"] for c in early)
    usage = last["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert "finishReason" in last["candidates"][0]
    if candidates == 1:
        assert "".join(chunk_text(c) for c in chunks) == final_text
        assert usage["candidatesTokenCount"] == get_tokenizer().count(final_text)


def test_sse_framing(http: httpx.Client, api_version: str) -> None:
    body = _seeded(3, maxOutputTokens=40)
    full = http.post(f"/{api_version}/models/{CHAT_MODEL}:generateContent", json=body).json()
    resp, raw = _stream(http, f"/{api_version}/models/{CHAT_MODEL}:streamGenerateContent?alt=sse", body)
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0] == "text/event-stream"
    assert "content-length" not in resp.headers
    for forbidden in (b"event:", b"id:", b"retry:", b"[DONE]", b"\n:"):
        assert forbidden not in raw
    chunks = split_sse(raw)
    assert len(chunks) > 1
    text = full["candidates"][0]["content"]["parts"][0]["text"]
    _check_chunks(chunks, text)
    assert chunks[-1]["usageMetadata"] == full["usageMetadata"]
    assert chunks[-1]["candidates"][0]["finishReason"] == full["candidates"][0]["finishReason"]


def test_sse_two_candidates(http: httpx.Client) -> None:
    body = _seeded(8, maxOutputTokens=12, candidateCount=2)
    full = http.post(f"/v1beta/models/{CHAT_MODEL}:generateContent", json=body).json()
    _, raw = _stream(http, f"/v1beta/models/{CHAT_MODEL}:streamGenerateContent?alt=sse", body)
    chunks = split_sse(raw)
    _check_chunks(chunks, "", candidates=2)
    for index in (0, 1):
        streamed = "".join(chunk_text(c, index) for c in chunks)
        assert streamed == full["candidates"][index]["content"]["parts"][0]["text"]
    assert chunks[-1]["usageMetadata"] == full["usageMetadata"]


@pytest.mark.parametrize("query", ["", "?alt=json", "?alt=json&key=k"])
def test_json_array_stream(http: httpx.Client, api_version: str, query: str) -> None:
    body = _seeded(3, maxOutputTokens=40)
    _, sse = _stream(http, f"/{api_version}/models/{CHAT_MODEL}:streamGenerateContent?alt=sse", body)
    resp, raw = _stream(http, f"/{api_version}/models/{CHAT_MODEL}:streamGenerateContent{query}", body)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert raw.startswith(b"[{") and raw.endswith(b"}]")
    array = json.loads(raw)
    assert isinstance(array, list) and len(array) > 1
    sse_chunks = split_sse(sse)
    text = "".join(chunk_text(c) for c in sse_chunks)
    _check_chunks(array, text)
    assert array[-1]["usageMetadata"] == sse_chunks[-1]["usageMetadata"]


def test_stream_is_deterministic_with_a_seed(http: httpx.Client) -> None:
    body = _seeded(99, maxOutputTokens=30)
    url = f"/v1beta/models/{CHAT_MODEL}:streamGenerateContent?alt=sse"
    first = [chunk_text(c) for c in split_sse(_stream(http, url, body)[1])]
    second = [chunk_text(c) for c in split_sse(_stream(http, url, body)[1])]
    assert first == second


# -- Keys and routing on shared paths ------------------------------------------------------


def test_key_in_query_or_header(http: httpx.Client) -> None:
    url = f"/v1/models/{CHAT_MODEL}:generateContent"
    by_query = http.post(url + "?key=k", json=BODY)
    by_header = http.post(url, json=BODY, headers={"x-goog-api-key": "k"})
    for resp in (by_query, by_header):
        assert resp.status_code == 200, resp.text
        assert resp.json()["candidates"][0]["content"]["role"] == "model"


def _is_gemini_list(body: dict[str, Any]) -> bool:
    return set(body) <= {"models", "nextPageToken"} and all(m["name"].startswith("models/") for m in body["models"])


@pytest.mark.parametrize(
    ("params", "headers"),
    [({}, {"x-goog-api-key": "k"}), ({"key": "k"}, {}), ({}, {"x-goog-api-client": "google-genai-sdk/3.3.0"})],
)
def test_v1_models_with_a_google_key_is_gemini(
    http: httpx.Client, params: dict[str, str], headers: dict[str, str]
) -> None:
    body = http.get("/v1/models", params=params, headers=headers).json()
    assert _is_gemini_list(body)
    one = http.get(f"/v1/models/{CHAT_MODEL}", params=params, headers=headers).json()
    assert one["name"] == f"models/{CHAT_MODEL}"
    assert "supportedGenerationMethods" in one


def test_v1_models_without_a_google_header_is_openai(http: httpx.Client) -> None:
    body = http.get("/v1/models").json()
    assert body["object"] == "list"
    assert "models" not in body
    assert any(m["id"] == CHAT_MODEL for m in body["data"])
    one = http.get(f"/v1/models/{CHAT_MODEL}").json()
    assert one["object"] == "model" and one["id"] == CHAT_MODEL


def test_v1beta_models_needs_no_header(http: httpx.Client) -> None:
    resp = http.get("/v1beta/models")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert _is_gemini_list(resp.json())
    assert http.get(f"/v1beta/models/{CHAT_MODEL}").json()["name"] == f"models/{CHAT_MODEL}"


def test_sdk_list_on_v1_is_routed_to_gemini(default_client: genai.Client) -> None:
    # The SDK sends x-goog-api-key, so its GET /v1/models is not answered in OpenAI's shape.
    assert all(m.name and m.name.startswith("models/") for m in default_client.models.list())


# -- Proto-JSON leniency: snake_case names and numeric strings -------------------------------


def test_snake_case_fields(http: httpx.Client, api_version: str) -> None:
    system = "Answer briefly."
    body = {
        "contents": CONTENTS,
        "system_instruction": {"parts": [{"text": system}]},
        "generation_config": {"max_output_tokens": 5, "candidate_count": 1, "thinking_config": {"thinking_budget": 0}},
        "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    resp = http.post(f"/{api_version}/models/{CHAT_MODEL}:generateContent", json=body)
    assert resp.status_code == 200, resp.text
    payload = resp.json()
    assert payload["candidates"][0]["finishReason"] == "MAX_TOKENS"
    tok = get_tokenizer()
    usage = payload["usageMetadata"]
    assert usage["candidatesTokenCount"] == 5
    assert usage["promptTokenCount"] == tok.count(CONTENTS[0]["parts"][0]["text"]) + tok.count(system)


def test_system_instruction_with_role_is_accepted(http: httpx.Client) -> None:
    # The SDK sends systemInstruction with "role": "user".
    body = {**BODY, "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]}}
    assert http.post(f"/v1beta/models/{CHAT_MODEL}:generateContent", json=body).status_code == 200


@pytest.mark.parametrize("value", ["5", 5.0, " 5"])
def test_numeric_strings_for_int_fields(http: httpx.Client, value: Any) -> None:
    body = {"contents": CONTENTS, "generationConfig": {"maxOutputTokens": value, "candidateCount": "2", "seed": "7"}}
    resp = http.post(f"/v1beta/models/{CHAT_MODEL}:generateContent", json=body)
    assert resp.status_code == 200, resp.text
    payload = resp.json()
    assert [c["index"] for c in payload["candidates"]] == [0, 1]
    assert {c["finishReason"] for c in payload["candidates"]} == {"MAX_TOKENS"}
    assert payload["usageMetadata"]["candidatesTokenCount"] == 10


def test_numeric_strings_for_float_fields(http: httpx.Client) -> None:
    body = {"contents": CONTENTS, "generationConfig": {"temperature": "0.5", "topP": "0.9", "maxOutputTokens": 2}}
    assert http.post(f"/v1beta/models/{CHAT_MODEL}:generateContent", json=body).status_code == 200


def test_unknown_query_parameters_are_ignored(http: httpx.Client) -> None:
    resp = http.post(f"/v1beta/models/{CHAT_MODEL}:generateContent?%24alt=json%3Benum-encoding%3Dint", json=BODY)
    assert resp.status_code == 200, resp.text


# -- U+2028 and friends: escaped so the SDK's line splitting cannot break an event ----------

ODD_TEXT = "line\u2028separator, paragraph\u2029separator and next\u0085line, plus é and 漢字"


def test_line_separators_are_escaped_in_sse(echo_server: LiveServer) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": ODD_TEXT}]}]}
    with httpx.Client(base_url=echo_server.url, timeout=10) as http:
        _, raw = _stream(http, f"/v1beta/models/{CHAT_MODEL}:streamGenerateContent?alt=sse", body)
        _, array = _stream(http, f"/v1beta/models/{CHAT_MODEL}:streamGenerateContent", body)
        full = http.post(f"/v1beta/models/{CHAT_MODEL}:generateContent", json=body)
    for data in (raw, array, full.content):
        for ch in LINE_BREAKS:
            assert ch.encode() not in data
    assert "".join(chunk_text(c) for c in split_sse(raw)) == ODD_TEXT
    assert "".join(chunk_text(c) for c in json.loads(array)) == ODD_TEXT
    assert full.json()["candidates"][0]["content"]["parts"][0]["text"] == ODD_TEXT


def test_line_separators_survive_the_sdk_stream(echo_client: genai.Client) -> None:
    chunks = list(echo_client.models.generate_content_stream(model=CHAT_MODEL, contents=ODD_TEXT))
    assert "".join(c.text or "" for c in chunks) == ODD_TEXT
    assert echo_client.models.generate_content(model=CHAT_MODEL, contents=ODD_TEXT).text == ODD_TEXT


def test_candidates_without_any_token_still_finish(echo_server: LiveServer) -> None:
    # A stop sequence at the very start leaves every candidate empty: each still gets one
    # chunk with its finishReason, and the streams stay well-formed. An empty candidate's
    # content has no parts and the usage no candidates' count, as the API leaves out what is
    # empty (an empty text part would be refused when a chat sends the turn back).
    body = {
        "contents": [{"role": "user", "parts": [{"text": "STOP right there"}]}],
        "generationConfig": {"stopSequences": ["STOP"], "candidateCount": 2},
    }
    url = f"/v1beta/models/{CHAT_MODEL}:streamGenerateContent"
    with httpx.Client(base_url=echo_server.url, timeout=10) as http:
        sse = split_sse(_stream(http, url + "?alt=sse", body)[1])
        array = json.loads(_stream(http, url, body)[1])
        full = http.post(f"/v1beta/models/{CHAT_MODEL}:generateContent", json=body).json()
    for chunks in (sse, array):
        assert [(c["candidates"][0]["index"], c["candidates"][0]["finishReason"]) for c in chunks] == [
            (0, "STOP"),
            (1, "STOP"),
        ]
        assert [c["candidates"][0]["content"] for c in chunks] == [{"role": "model"}, {"role": "model"}]
        assert "candidatesTokenCount" not in chunks[-1]["usageMetadata"]
        assert chunks[-1]["usageMetadata"]["totalTokenCount"] == chunks[-1]["usageMetadata"]["promptTokenCount"]
    assert [c["content"] for c in full["candidates"]] == [{"role": "model"}, {"role": "model"}]
    assert "candidatesTokenCount" not in full["usageMetadata"]
