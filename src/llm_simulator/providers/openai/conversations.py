"""The Conversations API: ``/v1/conversations`` and its items, and ``conversation`` on responses.

A conversation is a list of items (input messages, function calls and their outputs,
reasoning, output messages) with metadata. A response made with ``conversation`` reads the
conversation's items as its context and, when it completes, appends its input items and
its output items. Items are stored in their output shape (``id``, ``status``, typed content
parts), checked with the same rules as a response's ``input``.

The store is per process and bounded: at most ``MAX_CONVERSATIONS`` conversations and
``MAX_CONVERSATION_BYTES`` bytes of items in all (least recently used conversation evicted
first), at most ``MAX_ITEMS`` items per conversation (appending beyond is a 400).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import Clock
from llm_simulator.providers.openai.listing import list_limit, list_order, list_page
from llm_simulator.providers.openai.responses_input import parse_input, parse_metadata
from llm_simulator.providers.openai.responses_render import new_item_id
from llm_simulator.providers.openai.responses_store import EMPTY_CONVERSATION, Conversation
from llm_simulator.providers.validation import JsonObject, get_list, parse_object, type_error

MAX_CONVERSATIONS = 10_000
MAX_CONVERSATION_BYTES = 256 * 1024 * 1024
MAX_ITEMS = 10_000
# Items one create call may add (``conversations.create`` and ``items.create``), as on the API.
MAX_ITEMS_PER_CALL = 20
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20
_ITEM_PREFIX = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_", "reasoning": "rs_"}


@dataclass(slots=True)
class StoredConversation:
    """One conversation: id, creation time, metadata and its items in order (by id)."""

    id: str
    created_at: int
    metadata: dict[str, str]
    items: OrderedDict[str, JsonObject] = field(default_factory=OrderedDict)
    size: int = 0

    def describe(self) -> JsonObject:
        """The Conversation object."""
        return {"id": self.id, "object": "conversation", "created_at": self.created_at, "metadata": self.metadata}


def _sized(item: JsonObject) -> int:
    return len(orjson.dumps(item))


class ConversationStore:
    """The conversations of one process, bounded in number and bytes."""

    def __init__(
        self, clock: Clock, max_conversations: int = MAX_CONVERSATIONS, max_bytes: int = MAX_CONVERSATION_BYTES
    ) -> None:
        self._clock = clock
        self._max = max_conversations
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, StoredConversation] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """Bytes of items held."""
        return self._bytes

    def create(self, metadata: dict[str, str]) -> StoredConversation:
        """A new, empty conversation."""
        conversation = StoredConversation(new_item_id("conv_"), int(self._clock.wall()), metadata)
        self._entries[conversation.id] = conversation
        self._evict()
        return conversation

    def get(self, conversation_id: str) -> StoredConversation | None:
        """The conversation (a hit counts as a use), or None."""
        conversation = self._entries.get(conversation_id)
        if conversation is not None:
            self._entries.move_to_end(conversation_id)
        return conversation

    def require(self, conversation_id: str, param: str | None = None) -> StoredConversation:
        """The conversation, or a 404."""
        conversation = self.get(conversation_id)
        if conversation is None:
            raise SimulatorError(
                ErrorKind.NOT_FOUND, f"Conversation with id '{conversation_id}' not found.", param=param
            )
        return conversation

    def delete(self, conversation_id: str) -> None:
        """Forget a conversation (no-op when unknown)."""
        conversation = self._entries.pop(conversation_id, None)
        if conversation is not None:
            self._bytes -= conversation.size

    def append(self, conversation: StoredConversation, items: list[JsonObject]) -> None:
        """Add items at the end (a 400 beyond ``MAX_ITEMS``); may evict other conversations."""
        if len(conversation.items) + len(items) > MAX_ITEMS:
            raise invalid(
                f"Conversation '{conversation.id}' would hold more than {MAX_ITEMS} items.",
                param="items",
                code="invalid_value",
            )
        ids = [item["id"] for item in items]
        if len(set(ids)) < len(ids) or any(i in conversation.items for i in ids):
            raise invalid("Item ids must be unique within a conversation.", param="items", code="invalid_value")
        for item in items:
            size = _sized(item)
            conversation.items[item["id"]] = item
            conversation.size += size
            self._bytes += size
        self._evict(keep=conversation.id)

    def remove_item(self, conversation: StoredConversation, item_id: str) -> None:
        """Delete one item."""
        item = conversation.items.pop(item_id)
        size = _sized(item)
        conversation.size -= size
        self._bytes -= size

    def _evict(self, keep: str | None = None) -> None:
        entries = self._entries
        while len(entries) > self._max or (self._bytes > self._max_bytes and len(entries) > 1):
            oldest = next(iter(entries))
            if oldest == keep:
                entries.move_to_end(oldest)
                oldest = next(iter(entries))
                if oldest == keep:
                    return
            self.delete(oldest)


# -- items ---------------------------------------------------------------------------------


def _part(part: Any, role: str) -> Any:
    if isinstance(part, dict) and part.get("type") == "input_image" and "detail" not in part:
        return {**part, "detail": "auto"}
    if isinstance(part, dict) and part.get("type") == "output_text":
        return {"annotations": [], "logprobs": [], **part}
    return part


def stored_items(raw: list[Any]) -> list[JsonObject]:
    """Checked input items in their stored (output) shape: ids, ``status``, typed content parts."""
    items: list[JsonObject] = []
    for item in raw:
        kind = item.get("type") or "message"
        item_id = item.get("id") or new_item_id(_ITEM_PREFIX.get(kind, "item_"))
        stored: JsonObject = {"id": item_id, **{k: v for k, v in item.items() if k != "id"}}
        stored["type"] = kind
        if kind == "message":
            role = item["role"]
            content = item["content"]
            if isinstance(content, str):
                part_type = "output_text" if role == "assistant" else "input_text"
                content = [{"type": part_type, "text": content}]
            stored["content"] = [_part(part, role) for part in content]
            stored["status"] = item.get("status") or "completed"
        elif kind in ("function_call", "function_call_output"):
            stored["status"] = item.get("status") or "completed"
        items.append(stored)
    return items


def context(sim: Simulator, conversation: StoredConversation) -> Conversation:
    """The conversation's items as the next response's history."""
    # Built-in tool calls (web search…) are context the model saw, not input items to replay.
    # (``list`` copies at once: a heavy request parses off the event loop while it appends.)
    items = [item for item in list(conversation.items.values()) if item.get("type") in _ITEM_PREFIX]
    if not items:
        return EMPTY_CONVERSATION
    parsed = parse_input(sim, items, EMPTY_CONVERSATION)
    return Conversation(tuple(parsed.messages), parsed.tokens, frozenset(parsed.call_ids))


def checked_items(sim: Simulator, raw: Any, param: str, history: Conversation) -> list[JsonObject]:
    """``items`` of a create call: at most 20 valid input items, in stored shape."""
    if not isinstance(raw, list):
        raise type_error(param, "an array of input items", raw)
    if len(raw) > MAX_ITEMS_PER_CALL:
        raise invalid(
            f"Invalid '{param}': array too long. Expected an array with maximum length {MAX_ITEMS_PER_CALL}, "
            f"but got an array with length {len(raw)} instead.",
            param=param,
            code="array_above_max_length",
        )
    if not raw:
        return []
    try:
        parse_input(sim, raw, history)
    except SimulatorError as error:
        where = error.param
        if where is not None and where.startswith("input"):
            error.param = param + where.removeprefix("input")
            error.message = error.message.replace("'input", f"'{param}")
        raise
    return stored_items(raw)


# -- handlers --------------------------------------------------------------------------------


def _json(body: object, request: HttpRequest) -> JsonResponse:
    return JsonResponse(200, orjson.dumps(body), [JSON_CONTENT_TYPE, (b"x-request-id", request.request_id.encode())])


def _conversation(store: ConversationStore, request: HttpRequest) -> StoredConversation:
    return store.require(request.path_params["conversation_id"], "conversation_id")


async def create(sim: Simulator, store: ConversationStore, request: HttpRequest) -> Response:
    """Serve ``POST /v1/conversations`` (``items``, ``metadata``)."""
    body = parse_object(request.body) if request.body.strip() else {}
    metadata = parse_metadata(body)
    raw = body.get("items")
    items = checked_items(sim, raw, "items", EMPTY_CONVERSATION) if raw is not None else []
    conversation = store.create(metadata)
    store.append(conversation, items)
    return _json(conversation.describe(), request)


async def retrieve(store: ConversationStore, request: HttpRequest) -> Response:
    """Serve ``GET /v1/conversations/{conversation_id}``."""
    return _json(_conversation(store, request).describe(), request)


async def update(store: ConversationStore, request: HttpRequest) -> Response:
    """Serve ``POST /v1/conversations/{conversation_id}``: replace the metadata."""
    conversation = _conversation(store, request)
    body = parse_object(request.body)
    if "metadata" not in body:
        raise invalid("Missing required parameter: 'metadata'.", param="metadata", code="missing_required_parameter")
    conversation.metadata = parse_metadata(body)
    return _json(conversation.describe(), request)


async def delete(store: ConversationStore, request: HttpRequest) -> Response:
    """Serve ``DELETE /v1/conversations/{conversation_id}``."""
    conversation = _conversation(store, request)
    store.delete(conversation.id)
    return _json({"id": conversation.id, "object": "conversation.deleted", "deleted": True}, request)


async def list_items(store: ConversationStore, request: HttpRequest) -> Response:
    """Serve ``GET /v1/conversations/{conversation_id}/items`` (``after``, ``limit``, ``order``: default desc)."""
    conversation = _conversation(store, request)
    limit = list_limit(request, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
    ids = list(conversation.items)
    if list_order(request) == "desc":
        ids.reverse()
    return _json(list_page(ids, request, limit, lambda i: i, lambda i: conversation.items[i]), request)


async def create_items(sim: Simulator, store: ConversationStore, request: HttpRequest) -> Response:
    """Serve ``POST /v1/conversations/{conversation_id}/items``: append 1–20 items."""
    conversation = _conversation(store, request)
    body = parse_object(request.body)
    raw = get_list(body, "items", required=True)
    if not raw:
        raise invalid(
            "Invalid 'items': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="items",
            code="empty_array",
        )
    items = checked_items(sim, raw, "items", context(sim, conversation))
    store.append(conversation, items)
    return _json(
        {"object": "list", "data": items, "first_id": items[0]["id"], "last_id": items[-1]["id"], "has_more": False},
        request,
    )


def _item(conversation: StoredConversation, request: HttpRequest) -> str:
    item_id = request.path_params["item_id"]
    if item_id not in conversation.items:
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"Item with id '{item_id}' not found in conversation '{conversation.id}'.",
            param="item_id",
        )
    return item_id


async def retrieve_item(store: ConversationStore, request: HttpRequest) -> Response:
    """Serve ``GET /v1/conversations/{conversation_id}/items/{item_id}``."""
    conversation = _conversation(store, request)
    return _json(conversation.items[_item(conversation, request)], request)


async def delete_item(store: ConversationStore, request: HttpRequest) -> Response:
    """Serve ``DELETE /v1/conversations/{conversation_id}/items/{item_id}``: the conversation after."""
    conversation = _conversation(store, request)
    store.remove_item(conversation, _item(conversation, request))
    return _json(conversation.describe(), request)


__all__ = ["ConversationStore", "context", "stored_items"]
