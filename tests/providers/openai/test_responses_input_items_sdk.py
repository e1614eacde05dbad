"""``GET /v1/responses/{id}/input_items`` through the official openai SDK (strict validation)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import openai
import pytest
from openai.types.responses import ResponseInputItemParam

from tests.live import LiveServer, live_server
from tests.providers.openai.helpers import assert_openai_error

TOOL: openai.types.responses.FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def _texts(items: Sequence[object]) -> list[str]:
    """The text of each message item (its first content part), in order."""
    texts = []
    for item in items:
        content = getattr(item, "content", None)
        texts.append(getattr(content[0], "text", "") if content else "")
    return texts


def test_a_string_input_is_one_user_message(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="What is the capital of France?")
    page = client.responses.input_items.list(response.id)
    (item,) = page.data
    assert item.type == "message" and item.role == "user" and item.status == "completed"
    assert item.id.startswith("msg_")
    assert item.content[0].type == "input_text" and item.content[0].text == "What is the capital of France?"
    extra = page.model_extra or {}  # the SDK's cursor page declares data and has_more only
    assert extra["first_id"] == extra["last_id"] == item.id and page.has_more is False


def test_order_and_cursor_pagination(client: openai.OpenAI) -> None:
    inputs: list[ResponseInputItemParam] = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": [{"type": "input_text", "text": "three"}]},
    ]
    response = client.responses.create(model="gpt-4o", input=inputs)
    newest_first = client.responses.input_items.list(response.id).data
    assert _texts(newest_first) == ["three", "two", "one", "Be brief."]
    assert newest_first[1].type == "message" and newest_first[1].role == "assistant"
    assert newest_first[1].content[0].type == "output_text"  # an assistant message reads as output
    oldest_first = client.responses.input_items.list(response.id, order="asc").data
    assert [i.id for i in oldest_first] == [i.id for i in reversed(newest_first)]
    # Pages of one, followed by the SDK through after=last_id.
    first = client.responses.input_items.list(response.id, limit=1, order="asc")
    assert len(first.data) == 1 and first.has_more is True
    walked = list(client.responses.input_items.list(response.id, limit=1, order="asc"))
    assert [i.id for i in walked] == [i.id for i in oldest_first]
    rest = client.responses.input_items.list(response.id, order="asc", after=oldest_first[1].id)
    assert [i.id for i in rest.data] == [i.id for i in oldest_first[2:]] and rest.has_more is False
    # The ids are stable from one call to the next.
    assert [i.id for i in client.responses.input_items.list(response.id).data] == [i.id for i in newest_first]


def test_a_continued_response_lists_the_whole_context(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gpt-4o", input="Weather in Paris?", tools=[TOOL], tool_choice="required")
    call = next(item for item in first.output if item.type == "function_call")
    second = client.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 21}'}],
        tools=[TOOL],
    )
    items = client.responses.input_items.list(second.id, order="asc").data
    kinds = [item.type for item in items]
    assert kinds == ["message", "function_call", "function_call_output"]
    assert items[1].id == call.id and items[1].type == "function_call" and items[1].call_id == call.call_id
    assert items[2].type == "function_call_output" and items[2].output == '{"temp": 21}'
    assert items[2].id.startswith("fco_")
    # The first response still lists only its own input.
    assert len(client.responses.input_items.list(first.id).data) == 1


def test_background_response_lists_its_items_at_once(client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="Tell me a long story.", background=True)
    items = client.responses.input_items.list(created.id).data
    assert _texts(items) == ["Tell me a long story."]


def test_conversation_turn_items_match_the_conversation(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    response = client.responses.create(model="gpt-4o", input="Hello there", conversation=conversation.id)
    listed = client.responses.input_items.list(response.id).data
    stored = client.conversations.items.list(conversation.id, order="asc").data
    assert [i.id for i in listed] == [stored[0].id]


def test_include_is_accepted(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="hi")
    page = client.responses.input_items.list(response.id, include=["message.input_image.image_url"])
    assert len(page.data) == 1


def test_unstored_and_unknown_responses_are_not_found(client: openai.OpenAI) -> None:
    unstored = client.responses.create(model="gpt-4o", input="hi", store=False)
    for response_id in (unstored.id, "resp_nope"):
        with pytest.raises(openai.NotFoundError):
            client.responses.input_items.list(response_id)


def test_a_deleted_response_is_not_found(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="hi")
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(response.id)


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=many", "limit"),
        ("order=sideways", "order"),
        ("include[]=everything", "include"),
        ("include=everything", "include"),
    ],
)
def test_bad_query(server: LiveServer, client: openai.OpenAI, query: str, param: str) -> None:
    response = client.responses.create(model="gpt-4o", input="hi")
    got = httpx.get(f"{server.openai_base}/responses/{response.id}/input_items?{query}", timeout=10)
    assert_openai_error(got, 400, param=param)


def test_unknown_id_is_an_openai_404(server: LiveServer) -> None:
    got = httpx.get(f"{server.openai_base}/responses/resp_missing/input_items", timeout=10)
    assert_openai_error(got, 404, param="response_id")


def test_a_cancelled_background_response_keeps_its_items() -> None:
    with (
        live_server("--seed", "7") as slow,  # the standard latency: a long answer takes seconds
        openai.OpenAI(base_url=slow.openai_base, api_key="k", max_retries=0, _strict_response_validation=True) as c,
    ):
        created = c.responses.create(
            model="gpt-4o", input="Write a long essay.", background=True, max_output_tokens=4000
        )
        while_running = c.responses.input_items.list(created.id).data
        assert c.responses.cancel(created.id).status == "cancelled"
        after = c.responses.input_items.list(created.id).data
    assert _texts(while_running) == _texts(after) == ["Write a long essay."]
    assert [i.id for i in while_running] == [i.id for i in after]
