"""The Conversations API through the official openai SDK (strict validation), and ``conversation`` on responses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.conversations import Message
from openai.types.responses import ResponseFunctionToolCallItem, ResponseOutputMessage

from tests.live import LiveServer
from tests.providers.openai.helpers import assert_openai_error


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.openai_base, timeout=30) as c:
        yield c


def test_conversation_lifecycle(client: openai.OpenAI) -> None:
    conv = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "Hello!"}], metadata={"topic": "demo"}
    )
    assert conv.id.startswith("conv_") and conv.object == "conversation" and conv.metadata == {"topic": "demo"}
    assert client.conversations.retrieve(conv.id).id == conv.id
    updated = client.conversations.update(conv.id, metadata={"topic": "other"})
    assert updated.metadata == {"topic": "other"}
    added = client.conversations.items.create(
        conv.id,
        items=[
            {"type": "message", "role": "assistant", "content": "Hi, how can I help?"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Tell me a joke"}]},
        ],
    )
    assert len(added.data) == 2 and added.first_id == added.data[0].id and added.last_id == added.data[1].id
    items = list(client.conversations.items.list(conv.id, order="asc"))
    assert [i.type for i in items] == ["message"] * 3
    first = items[0]
    assert isinstance(first, Message) and first.role == "user" and first.content[0].type == "input_text"
    newest_first = client.conversations.items.list(conv.id, limit=2)
    assert [i.id for i in newest_first.data] == [items[2].id, items[1].id] and newest_first.has_more
    # Paging follows last_id until has_more is false.
    assert [i.id for i in client.conversations.items.list(conv.id, limit=1)] == [i.id for i in reversed(items)]
    item_id = items[1].id
    assert item_id is not None
    got = client.conversations.items.retrieve(item_id, conversation_id=conv.id)
    assert got.id == item_id
    after = client.conversations.items.delete(item_id, conversation_id=conv.id)
    assert after.id == conv.id
    assert len(list(client.conversations.items.list(conv.id))) == 2
    deleted = client.conversations.delete(conv.id)
    assert deleted.deleted and deleted.object == "conversation.deleted"
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conv.id)


def test_responses_in_a_conversation_append_their_items_and_read_its_context(client: openai.OpenAI) -> None:
    conv = client.conversations.create()
    first = client.responses.create(model="gpt-4o", input="What is the capital of France?", conversation=conv.id)
    assert first.conversation is not None and first.conversation.id == conv.id
    items = list(client.conversations.items.list(conv.id, order="asc"))
    assert [i.type for i in items] == ["message", "message"]
    assert isinstance(items[1], Message) and items[1].role == "assistant" and items[1].id == first.output[0].id
    second = client.responses.create(model="gpt-4o", input="And of Spain?", conversation={"id": conv.id})
    assert second.usage is not None and first.usage is not None
    # The conversation's items are the second turn's context.
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
    assert len(list(client.conversations.items.list(conv.id))) == 4


def test_function_calls_in_a_conversation(client: openai.OpenAI) -> None:
    tool: Any = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}
    conv = client.conversations.create()
    called = client.responses.create(
        model="gpt-4o", input="Look it up", tools=[tool], tool_choice="required", conversation=conv.id
    )
    (call,) = [o for o in called.output if o.type == "function_call"]
    answered = client.responses.create(
        model="gpt-4o",
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "42"}],
        tools=[tool],
        conversation=conv.id,
    )
    assert isinstance(answered.output[-1], ResponseOutputMessage)
    kinds = [i.type for i in client.conversations.items.list(conv.id, order="asc")]
    assert kinds == ["message", "function_call", "function_call_output", "message"]
    stored = client.conversations.items.list(conv.id, order="asc").data[1]
    assert isinstance(stored, ResponseFunctionToolCallItem) and stored.call_id == call.call_id


def test_conversation_bad_input(http: httpx.Client, client: openai.OpenAI) -> None:
    conv = client.conversations.create().id
    body = {"model": "gpt-4o", "input": "Hi"}
    previous = http.post("/responses", json=body).json()["id"]
    assert_openai_error(
        http.post("/responses", json={**body, "conversation": conv, "previous_response_id": previous}),
        400,
        param="conversation",
        code="mutually_exclusive_parameters",
    )
    assert_openai_error(http.post("/responses", json={**body, "conversation": "conv_nope"}), 404, param="conversation")
    assert_openai_error(http.post("/responses", json={**body, "conversation": 5}), 400, param="conversation")
    assert_openai_error(http.get("/conversations/conv_nope"), 404, param="conversation_id")
    assert_openai_error(http.post("/conversations", json={"items": "x"}), 400, param="items")
    assert_openai_error(http.post("/conversations", json={"items": [{"role": "robot", "content": "x"}]}), 400)
    too_many = [{"role": "user", "content": "x"}] * 21
    assert_openai_error(http.post("/conversations", json={"items": too_many}), 400, code="array_above_max_length")
    assert_openai_error(http.post("/conversations", json={"metadata": {"k": 1}}), 400, param="metadata.k")
    assert_openai_error(http.post(f"/conversations/{conv}", json={}), 400, param="metadata")
    assert_openai_error(http.post(f"/conversations/{conv}/items", json={"items": []}), 400, param="items")
    orphan = [{"type": "function_call_output", "call_id": "call_x", "output": "1"}]
    assert_openai_error(http.post(f"/conversations/{conv}/items", json={"items": orphan}), 400)
    assert_openai_error(http.get(f"/conversations/{conv}/items", params={"order": "up"}), 400, param="order")
    assert_openai_error(http.get(f"/conversations/{conv}/items", params={"limit": 0}), 400, param="limit")
    assert_openai_error(http.get(f"/conversations/{conv}/items/msg_nope"), 404, param="item_id")
    assert_openai_error(http.delete(f"/conversations/{conv}/items/msg_nope"), 404, param="item_id")
