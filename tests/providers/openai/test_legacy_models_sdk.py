"""The legacy completion models (issue 16, item 3) and the endpoint refusals, via the openai SDK."""

from __future__ import annotations

import openai
import pytest

LEGACY = ("gpt-3.5-turbo-instruct", "davinci-002", "babbage-002")


def _message(error: openai.APIStatusError) -> object:
    assert isinstance(error.body, dict)
    return error.body["message"]


@pytest.mark.parametrize("model", LEGACY)
def test_legacy_models_serve_completions(client: openai.OpenAI, model: str) -> None:
    completion = client.completions.create(model=model, prompt="Once upon a time", max_tokens=5)
    assert completion.model == model and completion.choices[0].text


def test_models_list_carries_the_legacy_ids(client: openai.OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert set(LEGACY) <= ids
    assert client.models.retrieve("davinci-002").owned_by == "system"


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-3.5-turbo", "gpt-5"])
def test_chat_models_are_refused_on_completions(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.completions.create(model=model, prompt="Once", max_tokens=3)
    assert caught.value.status_code == 404
    assert _message(caught.value) == (
        "This is a chat model and not supported in the v1/completions endpoint. "
        "Did you mean to use v1/chat/completions?"
    )
    assert caught.value.param == "model" and caught.value.code is None
    assert caught.value.type == "invalid_request_error"


@pytest.mark.parametrize("model", LEGACY)
def test_legacy_models_are_refused_on_chat(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert _message(caught.value) == (
        "This is not a chat model and thus not supported in the v1/chat/completions endpoint. "
        "Did you mean to use v1/completions?"
    )
    assert caught.value.param == "model" and caught.value.code is None
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=True)


def test_legacy_model_bad_input(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x", max_tokens=5000)
    assert caught.value.param == "max_tokens"
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="babbage-002", prompt="hello " * 20000, max_tokens=5)
    assert caught.value.code == "context_length_exceeded"
