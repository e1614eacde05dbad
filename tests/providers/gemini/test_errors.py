"""Errors: Google's ``{"error": {"code", "message", "status"}}`` body, through the SDK and raw.

Bodies the SDK cannot send go through httpx; cases the SDK passes through unchanged also go
through the SDK, to check it raises ``errors.ClientError`` with the right code and status.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.live import LiveServer
from tests.providers.gemini.helpers import (
    BODY,
    CHAT_MODEL,
    CONTENTS,
    EMBED_MODEL,
    assert_google_error,
    assert_sdk_error,
)


def _generate(http: httpx.Client, body: Any, version: str = "v1beta", model: str = CHAT_MODEL) -> httpx.Response:
    return http.post(f"/{version}/models/{model}:generateContent", json=body)


def _with_config(**config: Any) -> dict[str, Any]:
    return {"contents": CONTENTS, "generationConfig": config}


# -- Unknown models and methods ------------------------------------------------------------


def test_unknown_model_through_sdk(genai_client: genai.Client, api_version: str) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model="gemini-9-ultra", contents="Hi")
    error = assert_sdk_error(info.value, 404, "NOT_FOUND")
    assert "models/gemini-9-ultra" in error["message"] and api_version in error["message"]


def test_unknown_model_on_stream_count_and_embed(genai_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        list(genai_client.models.generate_content_stream(model="gemini-9-ultra", contents="Hi"))
    assert_sdk_error(info.value, 404, "NOT_FOUND")
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.count_tokens(model="gemini-9-ultra", contents="Hi")
    assert_sdk_error(info.value, 404, "NOT_FOUND")
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.embed_content(model="embedding-9", contents="Hi")
    assert_sdk_error(info.value, 404, "NOT_FOUND")


def test_embedding_model_cannot_generate(genai_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=EMBED_MODEL, contents="Hi")
    error = assert_sdk_error(info.value, 404, "NOT_FOUND")
    assert "generateContent" in error["message"]
    with pytest.raises(errors.ClientError) as info:
        list(genai_client.models.generate_content_stream(model=EMBED_MODEL, contents="Hi"))
    assert_sdk_error(info.value, 404, "NOT_FOUND")


def test_chat_model_cannot_embed(genai_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.embed_content(model=CHAT_MODEL, contents="Hi")
    error = assert_sdk_error(info.value, 404, "NOT_FOUND")
    assert "batchEmbedContents" in error["message"]


@pytest.mark.parametrize(
    ("model", "action", "body"),
    [
        (CHAT_MODEL, "embedContent", {"content": {"parts": [{"text": "x"}]}}),
        (CHAT_MODEL, "batchEmbedContents", {"requests": [{"content": {"parts": [{"text": "x"}]}}]}),
        (EMBED_MODEL, "streamGenerateContent?alt=sse", BODY),
        (EMBED_MODEL, "streamGenerateContent", BODY),
    ],
)
def test_wrong_kind_of_model_raw(
    http: httpx.Client, api_version: str, model: str, action: str, body: dict[str, Any]
) -> None:
    assert_google_error(http.post(f"/{api_version}/models/{model}:{action}", json=body), 404, "NOT_FOUND")


@pytest.mark.parametrize("action", ["fooBar", "generatecontent", "predict", ""])
def test_unknown_action(http: httpx.Client, api_version: str, action: str) -> None:
    resp = http.post(f"/{api_version}/models/{CHAT_MODEL}:{action}", json=BODY)
    assert_google_error(resp, 404, "NOT_FOUND")


def test_missing_action(http: httpx.Client) -> None:
    assert_google_error(http.post(f"/v1beta/models/{CHAT_MODEL}", json=BODY), 404, "NOT_FOUND")


def test_unknown_model_raw(http: httpx.Client, api_version: str) -> None:
    resp = _generate(http, BODY, api_version, "gemini-9-ultra")
    error = assert_google_error(resp, 404, "NOT_FOUND")
    assert api_version in error["message"]


def test_unknown_v1beta_path(http: httpx.Client) -> None:
    assert_google_error(http.post("/v1beta/nothing-here", json=BODY), 404, "NOT_FOUND")


# -- Bodies that are not a JSON object -----------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe", b"[]", b"null", b'"x"', b"42"])
def test_not_a_json_object(http: httpx.Client, raw: bytes) -> None:
    resp = http.post(
        f"/v1beta/models/{CHAT_MODEL}:generateContent", content=raw, headers={"content-type": "application/json"}
    )
    assert_google_error(resp, 400, "INVALID_ARGUMENT")


# -- Contents ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"contents": []},
        {"contents": None},
        {"generationConfig": {"maxOutputTokens": 5}},
    ],
)
def test_missing_contents(http: httpx.Client, api_version: str, body: dict[str, Any]) -> None:
    error = assert_google_error(_generate(http, body, api_version), 400, "INVALID_ARGUMENT")
    assert "contents" in error["message"]


@pytest.mark.parametrize("contents", ["Hi", {"parts": [{"text": "x"}]}, [None], ["Hi"], [[]], 5])
def test_contents_of_wrong_type(http: httpx.Client, contents: Any) -> None:
    assert_google_error(_generate(http, {"contents": contents}), 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize("role", ["system", "assistant", "tool", "USER", 5, ["user"]])
def test_bad_role(http: httpx.Client, api_version: str, role: Any) -> None:
    body = {"contents": [{"role": role, "parts": [{"text": "x"}]}]}
    error = assert_google_error(_generate(http, body, api_version), 400, "INVALID_ARGUMENT")
    assert "role" in error["message"]


def test_bad_role_through_sdk(genai_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(
            model=CHAT_MODEL, contents=[types.Content(role="system", parts=[types.Part(text="x")])]
        )
    assert_sdk_error(info.value, 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    "content",
    [
        {"role": "user", "parts": []},
        {"role": "user"},
        {"role": "user", "parts": None},
        {"role": "user", "parts": [{}]},
        {"role": "user", "parts": [{"text": None}]},
    ],
)
def test_empty_parts(http: httpx.Client, api_version: str, content: dict[str, Any]) -> None:
    error = assert_google_error(_generate(http, {"contents": [content]}, api_version), 400, "INVALID_ARGUMENT")
    assert "parts" in error["message"]


def test_empty_text_part(http: httpx.Client, api_version: str) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}, {"text": ""}]}]}
    error = assert_google_error(_generate(http, body, api_version), 400, "INVALID_ARGUMENT")
    assert "empty text parameter" in error["message"]


def test_empty_parts_through_sdk(genai_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=CHAT_MODEL, contents=[types.Content(role="user", parts=[])])
    assert_sdk_error(info.value, 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    ("part", "field"),
    [({"text": 5}, "text"), ({"text": ["x"]}, "text"), ({"text": "x", "thought": "yes"}, "thought")],
)
def test_part_field_of_wrong_type(http: httpx.Client, part: dict[str, Any], field: str) -> None:
    body = {"contents": [{"role": "user", "parts": [part]}]}
    error = assert_google_error(_generate(http, body), 400, "INVALID_ARGUMENT")
    assert f"contents[0].parts[0].{field}" in error["message"]


@pytest.mark.parametrize("instruction", ["Be terse", ["Be terse"], {"parts": []}, {"parts": [{"txt": "x"}]}])
def test_bad_system_instruction(http: httpx.Client, instruction: Any) -> None:
    body = {"contents": CONTENTS, "systemInstruction": instruction}
    assert_google_error(_generate(http, body), 400, "INVALID_ARGUMENT")


# -- Unknown fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({**BODY, "prompt": "x"}, "prompt"),
        ({**BODY, "generationConfig": {"max_tokens": 5}}, "max_tokens"),
        ({**BODY, "generationConfig": {"maxOutputTokens": 5, "stop": ["."]}}, "stop"),
        ({"contents": [{"role": "user", "parts": [{"text": "x"}], "name": "bob"}]}, "name"),
        ({"contents": [{"role": "user", "parts": [{"txt": "x"}]}]}, "txt"),
    ],
)
def test_unknown_field(http: httpx.Client, api_version: str, body: dict[str, Any], name: str) -> None:
    error = assert_google_error(_generate(http, body, api_version), 400, "INVALID_ARGUMENT")
    assert f'Unknown name "{name}"' in error["message"]


# -- generationConfig ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"maxOutputTokens": "abc"}, "max_output_tokens"),
        ({"maxOutputTokens": 1.5}, "max_output_tokens"),
        ({"maxOutputTokens": True}, "max_output_tokens"),
        ({"maxOutputTokens": [5]}, "max_output_tokens"),
        ({"candidateCount": "two"}, "candidate_count"),
        ({"candidateCount": {}}, "candidate_count"),
        ({"seed": "x"}, "seed"),
        ({"seed": 2**31}, "seed"),
        ({"seed": 1e20}, "seed"),
        ({"seed": "1" * 5000}, "seed"),  # past int()'s digit limit: once a 500
        ({"maxOutputTokens": "9" * 30}, "max_output_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": "nan"}, "temperature"),
        ({"temperature": False}, "temperature"),
        ({"topP": [1]}, "top_p"),
        ({"topK": "many"}, "top_k"),
        ({"stopSequences": "."}, "stop_sequences"),
        ({"stopSequences": [1]}, "stop_sequences"),
        ({"stopSequences": [".", None]}, "stop_sequences"),
        ({"responseMimeType": 5}, "response_mime_type"),
    ],
)
def test_bad_generation_config_types(http: httpx.Client, api_version: str, config: dict[str, Any], field: str) -> None:
    error = assert_google_error(_generate(http, _with_config(**config), api_version), 400, "INVALID_ARGUMENT")
    assert f"generation_config.{field}" in error["message"]


def test_error_message_shows_the_value_sent(http: httpx.Client) -> None:
    error = assert_google_error(_generate(http, _with_config(temperature="nan")), 400)
    assert error["message"] == "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"nan\""


@pytest.mark.parametrize("config", ["x", [], 5, True])
def test_generation_config_not_an_object(http: httpx.Client, config: Any) -> None:
    body = {"contents": CONTENTS, "generationConfig": config}
    error = assert_google_error(_generate(http, body), 400, "INVALID_ARGUMENT")
    assert "generation_config" in error["message"]


def test_bad_config_type_through_sdk(genai_client: genai.Client) -> None:
    # The SDK validates types client side, but passes per-request extra_body through.
    config = types.GenerateContentConfig(
        http_options=types.HttpOptions(extra_body={"generationConfig": {"maxOutputTokens": "lots"}})
    )
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=CHAT_MODEL, contents="Hi", config=config)
    error = assert_sdk_error(info.value, 400, "INVALID_ARGUMENT")
    assert "max_output_tokens" in error["message"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"stop_sequences": ["a", "b", "c", "d", "e", "f"]}, "stop_sequences"),
        ({"candidate_count": 9}, "candidate_count"),
        ({"candidate_count": 0}, "candidate_count"),
        ({"max_output_tokens": 65_537}, "maxOutputTokens"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
    ],
)
def test_out_of_range_through_sdk(genai_client: genai.Client, config: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(
            model=CHAT_MODEL, contents="Hi", config=types.GenerateContentConfig.model_validate(config)
        )
    error = assert_sdk_error(info.value, 400, "INVALID_ARGUMENT")
    assert field in error["message"]


def test_five_stop_sequences_are_allowed(http: httpx.Client) -> None:
    resp = _generate(http, _with_config(stopSequences=["a", "b", "c", "d", "e"], maxOutputTokens=3))
    assert resp.status_code == 200, resp.text


def test_max_output_tokens_limit_is_per_model(http: httpx.Client) -> None:
    # gemini-2.0-flash has an 8192-token output limit, gemini-2.5-flash 65536.
    assert_google_error(_generate(http, _with_config(maxOutputTokens=8193), model="gemini-2.0-flash"), 400)
    assert _generate(http, _with_config(maxOutputTokens=8192), model="gemini-2.0-flash").status_code == 200


def test_invalid_stream_request_is_a_plain_json_error(http: httpx.Client) -> None:
    for query in ("?alt=sse", ""):
        resp = http.post(f"/v1beta/models/{CHAT_MODEL}:streamGenerateContent{query}", json=_with_config(topP=7))
        assert_google_error(resp, 400, "INVALID_ARGUMENT")


def test_count_tokens_validates_contents(http: httpx.Client, api_version: str) -> None:
    path = f"/{api_version}/models/{CHAT_MODEL}:countTokens"
    assert_google_error(http.post(path, json={}), 400, "INVALID_ARGUMENT")
    assert_google_error(http.post(path, json={"contents": [{"role": "bot", "parts": [{"text": "x"}]}]}), 400)
    assert_google_error(http.post(path, json={"contents": CONTENTS, "generationConfig": {}}), 400)


# -- Embeddings ------------------------------------------------------------------------------


def test_batch_model_must_match_url(http: httpx.Client, api_version: str) -> None:
    request = {"content": {"parts": [{"text": "x"}]}, "model": "models/gemini-embedding-001"}
    resp = http.post(f"/{api_version}/models/{EMBED_MODEL}:batchEmbedContents", json={"requests": [request]})
    error = assert_google_error(resp, 400, "INVALID_ARGUMENT")
    assert "models/gemini-embedding-001" in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"requests": []},
        {"requests": "x"},
        {"requests": [None]},
        {"requests": [{}]},
        {"requests": [{"content": {"parts": [{"text": "x"}]}, "taskType": "GUESSING"}]},
        {"requests": [{"content": {"parts": [{"text": "x"}]}, "outputDimensionality": 769}]},
        {"requests": [{"content": {"parts": [{"text": "x"}]}, "outputDimensionality": 0}]},
        {"requests": [{"content": {"parts": [{"text": "x"}]}, "dimensions": 8}]},
        {"requests": [{"content": {"parts": [{"text": "x"}]}}] * 251},
    ],
)
def test_bad_batch_embed_request(http: httpx.Client, body: dict[str, Any]) -> None:
    resp = http.post(f"/v1beta/models/{EMBED_MODEL}:batchEmbedContents", json=body)
    assert_google_error(resp, 400, "INVALID_ARGUMENT")


def test_output_dimensionality_too_large_through_sdk(genai_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.embed_content(
            model=EMBED_MODEL, contents="x", config=types.EmbedContentConfig(output_dimensionality=4096)
        )
    assert_sdk_error(info.value, 400, "INVALID_ARGUMENT")


# -- Context window --------------------------------------------------------------------------

LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen"


def test_prompt_over_context_window(echo_server: LiveServer, echo_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        echo_client.models.generate_content(model="gemini-tiny", contents=LONG)
    error = assert_sdk_error(info.value, 400, "INVALID_ARGUMENT")
    assert "16" in error["message"]
    with pytest.raises(errors.ClientError) as info:
        list(echo_client.models.generate_content_stream(model="gemini-tiny", contents=LONG))
    assert_sdk_error(info.value, 400, "INVALID_ARGUMENT")
    # The system instruction counts towards the window too.
    config = types.GenerateContentConfig(system_instruction=LONG)
    with pytest.raises(errors.ClientError) as info:
        echo_client.models.generate_content(model="gemini-tiny", contents="Hi", config=config)
    assert_sdk_error(info.value, 400, "INVALID_ARGUMENT")
    for version in ("v1", "v1beta"):
        body = {"contents": [{"role": "user", "parts": [{"text": LONG}]}]}
        resp = httpx.post(f"{echo_server.url}/{version}/models/gemini-tiny:generateContent", json=body, timeout=10)
        assert_google_error(resp, 400, "INVALID_ARGUMENT")
    # A prompt that fits is served.
    ok = echo_client.models.generate_content(model="gemini-tiny", contents="short prompt")
    assert ok.text == "short prompt"


def test_error_body_is_compact_json(http: httpx.Client) -> None:
    resp = _generate(http, {"contents": []})
    assert json.loads(resp.content) == resp.json()
    assert list(resp.json()) == ["error"]
    assert resp.content.startswith(b'{"error":')


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body",
    [
        {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": _nested(300)}}}]}]},
        {"contents": [{"parts": [{"text": "Hi"}]}], "generationConfig": _nested(300)},
        {"contents": [{"parts": [{"text": "Hi"}]}], "generationConfig": {"seed": _nested(300)}},
        {"contents": [{"parts": [{"text": "Hi"}]}], "generationConfig": {"stopSequences": [_nested(300)]}},
    ],
)
def test_deeply_nested_values_are_a_400_not_a_crash(http: httpx.Client, body: dict[str, Any]) -> None:
    assert_google_error(_generate(http, body), 400, "INVALID_ARGUMENT")


def test_a_continuation_token_is_accepted(http: httpx.Client) -> None:
    body = {"contents": [{"parts": [{"text": "Hi"}]}], "continuationToken": "Y29udGludWU="}
    assert _generate(http, body).status_code == 200


# -- Nested settings the simulator only checks -------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"safetySettings": [{"bogus": 1}]}, "Unknown name \"bogus\" at 'safety_settings[0]'"),
        ({"safetySettings": [5]}, "Expected an object for 'safety_settings[0]'"),
        (
            {"safetySettings": [{"category": "HARM_CATEGORY_NOPE", "threshold": "BLOCK_NONE"}]},
            "Invalid value at 'safety_settings[0].category' (type.googleapis.com/HarmCategory), \"HARM_CATEGORY_NOPE\"",
        ),
        (
            {"safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_SOME"}]},
            "Invalid value at 'safety_settings[0].threshold' (type.googleapis.com/HarmBlockThreshold)",
        ),
        ({"toolConfig": {"bogus": 1}}, "Unknown name \"bogus\" at 'tool_config'"),
        (
            {"toolConfig": {"functionCallingConfig": {"bogus": 1}}},
            "Unknown name \"bogus\" at 'tool_config.function_calling_config'",
        ),
        ({"generationConfig": {"thinkingConfig": {"thinkingBudjet": 0}}}, 'Unknown name "thinkingBudjet"'),
        (
            {"generationConfig": {"responseModalities": ["FOO"]}},
            "generation_config.response_modalities[0]' (type.googleapis.com/Modality)",
        ),
        (
            {"generationConfig": {"mediaResolution": "FOO"}},
            "generation_config.media_resolution' (type.googleapis.com/MediaResolution)",
        ),
    ],
)
def test_bad_nested_settings_are_400s_naming_the_field(
    http: httpx.Client, extra: dict[str, Any], fragment: str
) -> None:
    error = assert_google_error(_generate(http, {"contents": CONTENTS, **extra}), 400, "INVALID_ARGUMENT")
    assert fragment in error["message"], error


def test_well_formed_nested_settings_are_accepted(http: httpx.Client) -> None:
    body = {
        "contents": CONTENTS,
        "safetySettings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH", "method": "SEVERITY"}
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "NONE"}},
        "generationConfig": {"responseModalities": ["TEXT"], "mediaResolution": "MEDIA_RESOLUTION_LOW"},
    }
    assert _generate(http, body).status_code == 200


@pytest.mark.parametrize(
    ("method", "body", "message"),
    [
        ("embedContent", {}, "* EmbedContentRequest.content: content is not specified."),
        (
            "embedContent",
            {"content": {"parts": []}},
            "* EmbedContentRequest.content.parts: contents.parts must not be empty.",
        ),
        ("embedContent", {"content": {"parts": [{"txt": "a"}]}}, "Unknown name \"txt\" at 'content.parts[0]'"),
        (
            "batchEmbedContents",
            {"requests": [{"content": {"parts": []}}]},
            "* BatchEmbedContentsRequest.requests[0].content.parts: contents.parts must not be empty.",
        ),
    ],
)
def test_embedding_errors_name_their_request_and_field(
    http: httpx.Client, method: str, body: Any, message: str
) -> None:
    response = http.post(f"/v1beta/models/{EMBED_MODEL}:{method}", json=body)
    error = assert_google_error(response, 400, "INVALID_ARGUMENT")
    assert message in error["message"], error


def test_a_schema_nested_too_deeply_is_a_400_not_a_crash(http: httpx.Client) -> None:
    # 1,000 levels of array items, written out by hand (json and orjson refuse the depth).
    depth = 1_000
    schema = '{"type":"ARRAY","items":' * depth + '{"type":"STRING"}' + "}" * depth
    config = '{"responseMimeType":"application/json","responseSchema":' + schema + "}"
    raw = '{"contents":' + json.dumps(CONTENTS) + ',"generationConfig":' + config + "}"
    response = http.post(f"/v1beta/models/{CHAT_MODEL}:generateContent", content=raw.encode())
    assert_google_error(response, 400, "INVALID_ARGUMENT")


def test_enum_names_are_read_in_any_casing(http: httpx.Client) -> None:
    # Google's own image-generation examples send ``responseModalities: ["Text", "Image"]``.
    body = {
        "contents": CONTENTS,
        "safetySettings": [{"category": "harm_category_harassment", "threshold": "block_none"}],
        "generationConfig": {"responseModalities": ["Text"]},
    }
    assert _generate(http, body).status_code == 200


def test_a_single_embed_requests_fields_have_no_leading_dot(http: httpx.Client) -> None:
    body = {"content": {"parts": [{"text": "a"}]}, "taskType": "NOPE"}
    response = http.post(f"/v1beta/models/{EMBED_MODEL}:embedContent", json=body)
    error = assert_google_error(response, 400, "INVALID_ARGUMENT")
    assert error["message"].startswith("Invalid value at 'task_type' (type.googleapis.com/TaskType)"), error
