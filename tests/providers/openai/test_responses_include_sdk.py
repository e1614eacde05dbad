"""``include`` on the Responses API through the official openai SDK (strict validation)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import httpx
import openai
import pytest
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)

from tests.live import LiveServer
from tests.providers.openai.helpers import assert_openai_error

SEED = {"x-simulator-seed": "5"}
LOGPROBS: Final = "message.output_text.logprobs"


def _part(response: Response) -> ResponseOutputText:
    (message,) = [o for o in response.output if isinstance(o, ResponseOutputMessage)]
    part = message.content[0]
    assert isinstance(part, ResponseOutputText)
    return part


def test_output_text_logprobs_when_included(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o", input="Hi", include=[LOGPROBS], top_logprobs=3, extra_headers=SEED
    )
    part = _part(response)
    assert part.logprobs
    assert "".join(lp.token for lp in part.logprobs) == part.text
    assert all(lp.logprob <= 0 and len(lp.top_logprobs) == 3 for lp in part.logprobs)
    assert part.logprobs[0].bytes == list(part.logprobs[0].token.encode())
    plain = client.responses.create(model="gpt-4o", input="Hi", extra_headers=SEED)
    assert plain.output_text == response.output_text
    assert _part(plain).logprobs == []


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_models_logprobs_cover_the_visible_text(client: openai.OpenAI, stream: bool) -> None:
    # The plan's logprobs cover the text after the hidden reasoning (was an IndexError, a 500).
    kwargs: dict[str, Any] = {"include": [LOGPROBS], "top_logprobs": 2, "extra_headers": SEED}
    if stream:
        events = list(client.responses.create(model="gpt-5", input="Hi", stream=True, **kwargs))
        last = events[-1]
        assert isinstance(last, ResponseCompletedEvent)
        response = last.response
    else:
        response = client.responses.create(model="gpt-5", input="Hi", **kwargs)
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens > 0
    part = _part(response)
    assert part.text and "".join(lp.token for lp in part.logprobs or []) == part.text


def test_streamed_deltas_carry_their_logprobs(client: openai.OpenAI) -> None:
    events = list(
        client.responses.create(
            model="gpt-4o", input="Hi", include=[LOGPROBS], top_logprobs=2, stream=True, extra_headers=SEED
        )
    )
    deltas = [e for e in events if isinstance(e, ResponseTextDeltaEvent)]
    assert deltas and all(len(d.logprobs) == 1 and d.logprobs[0].token == d.delta for d in deltas)
    done = next(e for e in events if isinstance(e, ResponseTextDoneEvent))
    assert [lp.token for lp in done.logprobs or []] == [d.delta for d in deltas]
    last = events[-1]
    assert isinstance(last, ResponseCompletedEvent)
    whole = client.responses.create(model="gpt-4o", input="Hi", include=[LOGPROBS], top_logprobs=2, extra_headers=SEED)
    assert _part(last.response).logprobs == _part(whole).logprobs


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.openai_base, timeout=30) as c:
        yield c


def test_include_bad_input(http: httpx.Client) -> None:
    body = {"model": "gpt-4o", "input": "Hi"}
    assert_openai_error(
        http.post("/responses", json={**body, "include": ["nope"]}), 400, param="include[0]", code="invalid_value"
    )
    assert_openai_error(http.post("/responses", json={**body, "include": [1]}), 400, param="include[0]")
    assert_openai_error(http.post("/responses", json={**body, "include": "x"}), 400, param="include")
