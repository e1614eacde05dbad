"""Built-in tools on the Responses API, simulated: web and file search, code interpreter, images.

The tools are ``web_search``, ``file_search``, ``code_interpreter`` and ``image_generation``.
Nothing is searched, run or drawn. A response whose ``tools`` declare a built-in tool (and
whose ``tool_choice`` is not ``none``) calls each one once, before the model's own output:
a ``web_search_call``, ``file_search_call``, ``code_interpreter_call`` or
``image_generation_call`` item in the API's shape, with its stream events, and the answer's
text then cites the web search's (made-up, ``example.com``) sources as ``url_citation``
annotations. Queries are the last user message's first words; results, code and logs are
deterministic placeholders; the image is a small valid PNG.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from llm_simulator.core.errors import invalid
from llm_simulator.infra.media import png
from llm_simulator.providers.validation import JsonObject, get_list, type_error

WEB_SEARCH = ("web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11")
BUILTIN_TOOLS = (*WEB_SEARCH, "file_search", "code_interpreter", "image_generation")
_PREFIX = {"web_search": "ws_", "file_search": "fs_", "code_interpreter": "ci_", "image_generation": "ig_"}
QUERY_WORDS = 12
IMAGE_SIDE = 64


@dataclass(frozen=True, slots=True)
class BuiltinCall:
    """One simulated built-in tool call: its family (``web_search``…) and its finished item."""

    family: str
    item: JsonObject

    @property
    def id(self) -> str:
        """The item's id."""
        return str(self.item["id"])


def family(kind: str) -> str:
    """``web_search`` for every web search tool type, else the type itself."""
    return "web_search" if kind in WEB_SEARCH else kind


def builtin_echo(kind: str, item: JsonObject, where: str) -> JsonObject:
    """A built-in tool as the Response echoes it; the fields the API requires are checked."""
    if kind == "file_search":
        ids = get_list(item, "vector_store_ids", f"{where}.vector_store_ids", required=True) or []
        if not all(isinstance(i, str) for i in ids):
            raise type_error(f"{where}.vector_store_ids", "an array of strings", ids)
    if kind == "code_interpreter":
        container = item.get("container")
        if container is None:
            raise invalid(
                f"Missing required parameter: '{where}.container'.",
                param=f"{where}.container",
                code="missing_required_parameter",
            )
        if not isinstance(container, (str, dict)):
            raise type_error(f"{where}.container", "a string or an object", container)
    return dict(item)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def plan_calls(kinds: list[str], query_text: str, response_id: str, include: frozenset[str]) -> list[BuiltinCall]:
    """The calls a response makes: one per declared built-in tool family, in declaration order."""
    words = query_text.split()[:QUERY_WORDS]
    query = " ".join(words) or "search"
    calls: list[BuiltinCall] = []
    seen: set[str] = set()
    for kind in kinds:
        name = family(kind)
        if name in seen:
            continue
        seen.add(name)
        digest = _digest(response_id, name, query)
        item_id = _PREFIX[name] + digest[:48]
        item: JsonObject
        if name == "web_search":
            action: JsonObject = {"type": "search", "query": query}
            if "web_search_call.action.sources" in include:
                action["sources"] = [{"type": "url", "url": url} for url, _ in citations(query)]
            item = {"id": item_id, "type": "web_search_call", "status": "completed", "action": action}
        elif name == "file_search":
            item = {"id": item_id, "type": "file_search_call", "status": "completed", "queries": [query]}
            item["results"] = None
            if "file_search_call.results" in include:
                item["results"] = [
                    {
                        "file_id": "file-" + _digest(digest, str(i))[:22],
                        "filename": f"document_{i + 1}.txt",
                        "score": round(0.9 - 0.1 * i, 2),
                        "text": f"Passage {i + 1} relevant to: {query}",
                        "attributes": {},
                    }
                    for i in range(2)
                ]
        elif name == "code_interpreter":
            code = f"# {query}\nresult = sum(range(10))\nprint(result)"
            item = {
                "id": item_id,
                "type": "code_interpreter_call",
                "status": "completed",
                "code": code,
                "container_id": "cntr_" + digest[:48],
                "outputs": [{"type": "logs", "logs": "45\n"}] if "code_interpreter_call.outputs" in include else None,
            }
        else:
            image = png(IMAGE_SIDE, IMAGE_SIDE, int(digest[:8], 16))
            item = {
                "id": item_id,
                "type": "image_generation_call",
                "status": "completed",
                "result": base64.b64encode(image).decode(),
            }
        calls.append(BuiltinCall(name, item))
    return calls


def citations(query: str) -> list[tuple[str, str]]:
    """The (url, title) sources a simulated web search finds for ``query``."""
    slug = "-".join(w.strip("?.!,").lower() for w in query.split()[:6]) or "search"
    return [(f"https://example.com/{slug}", f"About {query}"[:80])]


def opened(call: BuiltinCall) -> JsonObject:
    """The item as ``response.output_item.added`` announces it (in progress, no results yet)."""
    item = dict(call.item)
    item["status"] = "in_progress"
    if call.family == "code_interpreter":
        item["code"] = ""
        item["outputs"] = None
    elif call.family == "image_generation":
        item["result"] = None
    elif call.family == "file_search":
        item["results"] = None
    return item


def progress_events(call: BuiltinCall) -> list[tuple[str, JsonObject]]:
    """The events between an item's ``added`` and ``done``: (type, fields without ids)."""
    prefix = f"response.{call.family}_call"
    if call.family in ("web_search", "file_search"):
        return [(f"{prefix}.in_progress", {}), (f"{prefix}.searching", {}), (f"{prefix}.completed", {})]
    if call.family == "code_interpreter":
        code = str(call.item["code"])
        return [
            (f"{prefix}.in_progress", {}),
            (f"{prefix}_code.delta", {"delta": code}),
            (f"{prefix}_code.done", {"code": code}),
            (f"{prefix}.interpreting", {}),
            (f"{prefix}.completed", {}),
        ]
    return [(f"{prefix}.in_progress", {}), (f"{prefix}.generating", {}), (f"{prefix}.completed", {})]
