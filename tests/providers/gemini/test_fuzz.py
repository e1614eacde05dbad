"""Any JSON body to ``:generateContent`` gives a 200 or a Google-shaped 4xx, never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.providers.gemini.helpers import BODY, CHAT_MODEL, assert_google_error

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
# Values that probe the validators' edges: ints around the int32 range, numeric strings.
EDGE_VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [None, True, 0, -1, 1, 2, 8, 9, 2**31 - 1, 2**31, -(2**31) - 1, 1e30, 0.5, 2.5, "5", "-3", "nan", "1e400", "²"]
)
VALUES = EDGE_VALUES | JSON
TOP_FIELDS = ["contents", "systemInstruction", "system_instruction", "generationConfig", "tools", "toolConfig", "x"]
CONFIG_FIELDS = [
    "maxOutputTokens",
    "max_output_tokens",
    "candidateCount",
    "stopSequences",
    "temperature",
    "topP",
    "topK",
    "seed",
    "responseMimeType",
    "thinkingConfig",
    "unknown",
]
PART: st.SearchStrategy[Any] = st.fixed_dictionaries(
    {}, optional={"text": VALUES, "thought": VALUES, "inlineData": VALUES, "functionCall": VALUES, "bad": VALUES}
)
CONTENT: st.SearchStrategy[Any] = st.fixed_dictionaries(
    {}, optional={"role": st.sampled_from(["user", "model", "system", ""]) | VALUES, "parts": st.lists(PART) | VALUES}
)


def _post(http: httpx.Client, body: Any) -> None:
    resp = http.post(f"/v1beta/models/{CHAT_MODEL}:generateContent", json=body)
    assert resp.status_code < 500, (body, resp.text)
    if resp.status_code != 200:
        assert 400 <= resp.status_code < 500
        assert_google_error(resp, resp.status_code)
    else:
        assert "candidates" in resp.json()


@settings(max_examples=100, deadline=None, database=None)
@given(body=JSON)
def test_any_json_body(fast_http: httpx.Client, body: Any) -> None:
    _post(fast_http, body)


@settings(max_examples=200, deadline=None, database=None)
@given(
    top=st.dictionaries(st.sampled_from(TOP_FIELDS), VALUES, max_size=2),
    config=st.dictionaries(st.sampled_from(CONFIG_FIELDS), VALUES, max_size=3),
    contents=st.lists(CONTENT, max_size=3),
)
def test_any_field_value(
    fast_http: httpx.Client, top: dict[str, Any], config: dict[str, Any], contents: list[Any]
) -> None:
    body = {**BODY, "contents": contents, "generationConfig": config, **top}
    _post(fast_http, body)
