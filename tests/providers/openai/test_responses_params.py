"""The Responses API's top-level fields: the SDK's own, and the API's 400 for any other."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openai.types.responses import input_token_count_params, response_create_params

from llm_simulator.providers.openai.responses_fields import COUNT_FIELDS, CREATE_FIELDS
from tests.live import LiveServer
from tests.providers.openai.helpers import assert_openai_error


def test_the_known_fields_are_the_sdks() -> None:
    # A bump of the pinned SDK that adds a field shows here first.
    create = set(response_create_params.ResponseCreateParamsBase.__annotations__)
    create |= set(response_create_params.ResponseCreateParamsStreaming.__annotations__)
    assert create == CREATE_FIELDS
    assert set(input_token_count_params.InputTokenCountParams.__annotations__) == COUNT_FIELDS


@pytest.mark.parametrize(
    ("path", "field", "code", "words"),
    [
        ("/responses", "max_tokens", "unknown_parameter", "Unknown parameter: 'max_tokens'."),
        ("/responses", "seed", "unknown_parameter", "Unknown parameter: 'seed'."),
        ("/responses", "response_format", "unsupported_parameter", "has moved to 'text.format'"),
        ("/responses/input_tokens", "max_output_tokens", "unknown_parameter", "Unknown parameter"),
        ("/responses/input_tokens", "stream", "unknown_parameter", "Unknown parameter: 'stream'."),
    ],
)
def test_a_field_the_api_does_not_know_is_a_400(
    server: LiveServer, path: str, field: str, code: str, words: str
) -> None:
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "input": "Hi",
        field: {"type": "json_object"} if "format" in field else 5,
    }
    error = assert_openai_error(
        httpx.post(server.openai_base + path, json=body, timeout=10), 400, param=field, code=code
    )
    assert words in error["message"]
