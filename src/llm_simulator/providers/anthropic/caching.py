"""Prompt caching on the Messages API: ``cache_control`` breakpoints and the usage they earn.

Claude caches only what a breakpoint marks: the prompt up to the last block carrying
``cache_control`` (on a tool, a system block, a message content block, or the request's
top-level ``cache_control``, which marks the end of the last message). The prompt's order
is tools, system, messages. The load-aware engine hashes that prefix only (the request's
``cacheable_prompt_tokens``); its hit becomes ``cache_read_input_tokens``, the rest of the
prefix ``cache_creation_input_tokens`` (split by time to live), and what follows the last
breakpoint ``input_tokens``. Without an engine with prefix caching every cache field is 0.

The engine hashes messages, not tool definitions (``engine.load.prefix``), so the tools'
tokens ride on the first hit of the messages' prefix: a prefix whose messages are read
from the cache reads its tools too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.frozen import fast_init
from llm_simulator.core.types import GenerationPlan
from llm_simulator.engine.load.prefix import MESSAGE_OVERHEAD_TOKENS
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.anthropic.prompt import block_text
from llm_simulator.providers.validation import JsonObject

MAX_BREAKPOINTS = 4
TTLS = ("5m", "1h")
# The least prefix Claude caches (Anthropic's prompt-caching guide); below it a breakpoint
# is accepted and nothing is cached. Most specific model marker first.
_MINIMUM: tuple[tuple[str, int], ...] = (("claude-3-haiku", 2048), ("claude-3-5-haiku", 2048), ("haiku", 4096))
DEFAULT_MINIMUM = 1024


@functools.lru_cache(maxsize=256)  # a scan of the markers per request otherwise; ids may be any string
def minimum_cacheable(model_id: str) -> int:
    """The least number of prompt tokens a breakpoint must cover for ``model_id`` to cache them."""
    for marker, minimum in _MINIMUM:
        if marker in model_id:
            return minimum
    return DEFAULT_MINIMUM


@dataclass(frozen=True, slots=True)
class CachePrefix:
    """Where a request's breakpoints end its cacheable prefix.

    ``message_tokens`` is measured as the engine hashes (each message's text plus its
    framing, system first); ``one_hour_end`` in prompt tokens from the start (tools first).
    """

    tools_tokens: int = 0  # the tool definitions, cached with any breakpoint
    message_tokens: int = 0  # system and messages up to the last breakpoint
    one_hour_end: int = 0  # the prefix up to the last breakpoint with ttl "1h"
    marked: bool = False  # some breakpoint was given

    @property
    def total(self) -> int:
        """Prompt tokens up to the last breakpoint (0 without one)."""
        return self.tools_tokens + self.message_tokens if self.marked else 0

    @property
    def engine_tokens(self) -> int:
        """The prefix the engine hashes: the messages' part (the tools' size when only tools are marked)."""
        return self.message_tokens or self.tools_tokens


NO_PREFIX = CachePrefix()


def _control(item: Any, where: str) -> str | None:
    """The ttl of ``item``'s ``cache_control`` (None: it has none); raises on a malformed one."""
    if not isinstance(item, dict):
        return None
    control = item.get("cache_control")
    if control is None:
        return None
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise invalid(f"{where}.cache_control.type: Input should be 'ephemeral'", param=f"{where}.cache_control")
    ttl = control.get("ttl", "5m")
    if ttl not in TTLS:
        raise invalid(f"{where}.cache_control.ttl: Input should be '5m' or '1h'", param=f"{where}.cache_control.ttl")
    return str(ttl)


def _content_marks(sim: Simulator, content: Any, where: str) -> list[tuple[int, str]]:
    """(tokens of the content up to the marked block, ttl) for every marked block of a content list."""
    if not isinstance(content, list):
        return []
    marks: list[tuple[int, str]] = []
    texts: list[str] = []
    for i, block in enumerate(content):
        ttl = _control(block, f"{where}.{i}")
        if isinstance(block, dict):
            text, _ = block_text(sim, block, f"{where}.{i}")
            if text:
                texts.append(text)
        if ttl is not None:
            marks.append((sim.count_tokens("\n".join(texts)), ttl))
    return marks


def cache_prefix(sim: Simulator, body: JsonObject, tools_tokens: int) -> CachePrefix:
    """The cacheable prefix of a (validated) Messages body; raises on malformed ``cache_control``."""
    if not _has_marks(body):
        return NO_PREFIX
    marks: list[tuple[int, str]] = []  # (prompt tokens from the start, ttl) of each breakpoint
    tools = body.get("tools")
    if isinstance(tools, list):
        for i, tool in enumerate(tools):
            ttl = _control(tool, f"tools.{i}")
            if ttl is not None:
                marks.append((tools_tokens, ttl))
    end = 0  # message tokens so far, as the engine hashes them
    system = body.get("system")
    if isinstance(system, list):
        for within, ttl in _content_marks(sim, system, "system"):
            marks.append((tools_tokens + end + MESSAGE_OVERHEAD_TOKENS + within, ttl))
        end += MESSAGE_OVERHEAD_TOKENS + sim.count_tokens(_joined(sim, system))
    elif isinstance(system, str) and system:
        end += MESSAGE_OVERHEAD_TOKENS + sim.count_tokens(system)
    messages = body.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for within, ttl in _content_marks(sim, content, f"messages.{i}.content"):
            marks.append((tools_tokens + end + MESSAGE_OVERHEAD_TOKENS + within, ttl))
        text = content if isinstance(content, str) else _joined(sim, content)
        end += MESSAGE_OVERHEAD_TOKENS + sim.count_tokens(text)
    top = _control(body, "")
    if top is not None:  # marks the last block of the last message: the end of the messages
        marks.append((tools_tokens + end, top))
    if not marks:
        return NO_PREFIX
    if len(marks) > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(marks)}.",
            param="cache_control",
        )
    last = max(position for position, _ in marks)
    one_hour = max((position for position, ttl in marks if ttl == "1h"), default=0)
    return CachePrefix(tools_tokens, last - tools_tokens, one_hour, marked=True)


def _joined(sim: Simulator, content: Any) -> str:
    """The text a content list reads as (its blocks' texts, one per line), as the prompt parser joins it."""
    if not isinstance(content, list):
        return ""
    texts = (block_text(sim, block, "")[0] for block in content if isinstance(block, dict))
    return "\n".join(text for text in texts if text)


def _has_marks(body: JsonObject) -> bool:
    """Whether anything in the body carries ``cache_control`` (cheap: no token is counted)."""
    if "cache_control" in body:
        return True
    tools = body.get("tools")
    if isinstance(tools, list) and any(isinstance(t, dict) and "cache_control" in t for t in tools):
        return True
    system = body.get("system")
    contents: list[Any] = [system] if isinstance(system, list) else []
    messages = body.get("messages")
    if isinstance(messages, list):
        contents += [m.get("content") for m in messages if isinstance(m, dict)]
    return any(
        isinstance(content, list) and any(isinstance(b, dict) and "cache_control" in b for b in content)
        for content in contents
    )


@fast_init  # built once per request: slots set directly, not through frozen __setattr__
@dataclass(frozen=True, slots=True)
class CacheReport:
    """How one request's usage reports its cache: the prefix, the engine's block size and the model's minimum."""

    prefix: CachePrefix = NO_PREFIX
    block_size: int = 0  # 0: no prefix cache serves the model (every cache field is 0)
    minimum: int = DEFAULT_MINIMUM

    @property
    def caches(self) -> bool:
        """Whether the prefix is long enough to cache at all."""
        return self.prefix.total >= self.minimum and self.prefix.total > 0

    def counts(self, plan: GenerationPlan) -> tuple[int, int, int]:
        """(cache read, cache creation with a 5-minute ttl, with a 1-hour ttl) in prompt tokens."""
        prefix = self.prefix
        if self.block_size <= 0 or not self.caches:
            return 0, 0, 0
        total = min(prefix.total, plan.request.prompt_tokens)
        engine = prefix.engine_tokens
        hit = min(plan.cached_tokens, engine)
        if hit <= 0:
            read = 0
        elif engine - hit < self.block_size:
            read = total  # every full block of the prefix was cached: the API reads it all
        else:
            read = min(total, hit + (prefix.tools_tokens if prefix.message_tokens else 0))
        created = total - read
        one_hour = min(created, max(0, min(prefix.one_hour_end, total) - read))
        return read, created - one_hour, one_hour


NO_REPORT = CacheReport()


def engine_cacheable(report: CacheReport) -> int:
    """The prompt tokens the engine may cache for this request (0: nothing, the API would not cache)."""
    return report.prefix.engine_tokens if report.caches else 0
