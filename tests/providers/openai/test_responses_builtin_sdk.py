"""Built-in tools on the Responses API, simulated, through the official openai SDK (strict validation)."""

from __future__ import annotations

import base64
from typing import Any

import openai
from openai.types.responses import (
    ResponseCodeInterpreterToolCall,
    ResponseCompletedEvent,
    ResponseFileSearchToolCall,
    ResponseFunctionWebSearch,
    ResponseOutputMessage,
    ResponseOutputText,
)
from openai.types.responses.response_output_item import ImageGenerationCall

WEB: Any = [{"type": "web_search"}]
ALL: Any = [
    {"type": "web_search"},
    {"type": "file_search", "vector_store_ids": ["vs_1"]},
    {"type": "code_interpreter", "container": {"type": "auto"}},
    {"type": "image_generation"},
]


def _text(output: list[Any]) -> ResponseOutputText:
    (message,) = [o for o in output if isinstance(o, ResponseOutputMessage)]
    part = message.content[0]
    assert isinstance(part, ResponseOutputText)
    return part


def test_web_search_call_then_an_answer_citing_its_sources(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o", input="Latest news about Paris", tools=WEB, include=["web_search_call.action.sources"]
    )
    search, message = response.output
    assert isinstance(search, ResponseFunctionWebSearch) and search.status == "completed"
    assert search.action.type == "search" and search.action.query == "Latest news about Paris"
    assert search.action.sources and search.action.sources[0].url.startswith("https://example.com/")
    assert isinstance(message, ResponseOutputMessage)
    part = _text(response.output)
    (citation,) = part.annotations
    assert citation.type == "url_citation" and citation.end_index == len(part.text)
    assert response.tools[0].type == "web_search"


def test_every_builtin_tool_makes_one_call_with_its_extras_when_included(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o",
        input="Analyse the data",
        tools=ALL,
        include=["file_search_call.results", "code_interpreter_call.outputs"],
    )
    kinds = [o.type for o in response.output]
    assert kinds == ["web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call", "message"]
    files = response.output[1]
    assert isinstance(files, ResponseFileSearchToolCall) and files.queries == ["Analyse the data"]
    assert files.results and files.results[0].text
    code = response.output[2]
    assert isinstance(code, ResponseCodeInterpreterToolCall) and code.code and code.outputs
    image = response.output[3]
    assert isinstance(image, ImageGenerationCall) and image.result
    assert base64.b64decode(image.result).startswith(b"\x89PNG")
    plain = client.responses.create(model="gpt-4o", input="Analyse the data", tools=ALL)
    assert plain.output[1].results is None  # type: ignore[union-attr]
    assert plain.output[2].outputs is None  # type: ignore[union-attr]
    none = client.responses.create(model="gpt-4o", input="Hi", tools=ALL, tool_choice="none")
    assert [o.type for o in none.output] == ["message"]


def test_builtin_tool_stream_events(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="gpt-4o", input="Search and compute", tools=ALL, stream=True))
    types = [e.type for e in events]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for expected in (
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.file_search_call.completed",
        "response.code_interpreter_call_code.delta",
        "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
        "response.image_generation_call.generating",
        "response.image_generation_call.completed",
        "response.output_text.annotation.added",
    ):
        assert expected in types, expected
    assert types.index("response.web_search_call.completed") < types.index("response.output_text.delta")
    last = events[-1]
    assert isinstance(last, ResponseCompletedEvent)
    assert [o.type for o in last.response.output][:4] == [
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
    ]
    # Continuing the conversation: the built-in calls are not replayed as input.
    follow = client.responses.create(model="gpt-4o", input="Thanks", previous_response_id=last.response.id)
    assert follow.status == "completed"


def test_builtin_calls_in_a_conversation(client: openai.OpenAI) -> None:
    conv = client.conversations.create()
    client.responses.create(model="gpt-4o", input="Search this", tools=WEB, conversation=conv.id)
    kinds = [i.type for i in client.conversations.items.list(conv.id, order="asc")]
    assert kinds == ["message", "web_search_call", "message"]
    again = client.responses.create(model="gpt-4o", input="More", tools=WEB, conversation=conv.id)
    assert again.status == "completed"
