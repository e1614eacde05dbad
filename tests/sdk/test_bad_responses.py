"""Responses no provider sends: success statuses with other bodies, streams cut without their end."""

from __future__ import annotations

import httpx
import pytest

from llm_simulator.sdk import APIConnectionError, Client, InvalidResponseError


def _client(handler: httpx.MockTransport) -> Client:
    return Client("http://sim.test", transport=handler, retry=None)


@pytest.mark.parametrize("body", [b"<html>hi</html>", b"[1, 2"])
def test_a_200_that_is_not_a_chat_answer(body: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with _client(transport) as client, pytest.raises(InvalidResponseError) as caught:
        client.chat("hi")
    assert caught.value.status == 200


def test_an_admin_answer_that_is_not_json() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"<html>"))
    with _client(transport) as client, pytest.raises(InvalidResponseError):
        client.admin.stats()


def test_an_embedding_of_strings() -> None:
    body = b'{"data": [{"embedding": ["x"]}]}'
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with _client(transport) as client, pytest.raises(InvalidResponseError):
        client.embed(["hi"])


def test_a_stream_without_its_final_event() -> None:
    cut = b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=cut, headers={"content-type": "text/event-stream"})
    )
    with _client(transport) as client, pytest.raises(APIConnectionError):
        list(client.stream("hi"))
