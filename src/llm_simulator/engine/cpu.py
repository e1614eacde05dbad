"""Keeping one request's CPU work from freezing the worker's event loop.

Three tools, used by the providers around the synchronous steps of a request (parsing and
token counting, planning, embedding):

- ``off_loop`` runs a step on a small thread pool when the request is large (``heavy``), so
  the event loop goes on serving probes and releasing stream tokens meanwhile. tiktoken's
  Rust core releases the GIL while it encodes (measured: a thread tokenising a 7.5 MB text
  leaves the main thread free within ~1 ms slices), so the costliest step, counting a huge
  prompt, runs truly in parallel; pure-Python steps still share the GIL, which the
  interpreter hands back to the loop every switch interval (5 ms), and are bounded by budgets
  (the schema work budget, the embeddings' token cap). Small requests run inline: a thread
  hop costs more than they do.
- a **token ceiling**: while a step runs under ``off_loop(..., ceiling=n)`` (the model's
  context window), counting a text whose byte length alone proves it holds more than ``n``
  tokens returns that lower bound instead of tokenising it. The request is refused anyway
  (its prompt exceeds the window), and its context-length error comes at once.
- every step runs in a copy of the caller's context, so the ceiling and the schema budget
  (``engine.schema``) of one request never leak into another.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import functools
import math
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from llm_simulator.engine.schema import OffLoopNeeded, request_budget
from llm_simulator.engine.schema.budget import enter_budget, exit_budget

T = TypeVar("T")

HEAVY_BYTES = 32 * 1024
"""Request bodies from this size on are parsed and planned off the event loop.

Below it tokenising takes at most ~5 ms even for tiktoken's worst texts (one long run of
letters or punctuation; ordinary text well under 1 ms), little next to a thread hop's
overhead for the common small request; above it a single such text can take seconds
(7.5 MB: 4 s).
"""
WORKERS = 2
"""Threads for heavy steps. More would only queue them for the GIL (pure-Python parts) or the
two cores; fewer keeps the loop's share of the GIL large when several heavy requests arrive."""

_CEILING: contextvars.ContextVar[int | None] = contextvars.ContextVar("llm_simulator_token_ceiling", default=None)


def token_ceiling() -> int | None:
    """The context window the running step counts against (None: count every text exactly)."""
    return _CEILING.get()


def tokens_at_least(text: str, max_token_bytes: int) -> int:
    """A lower bound of the tokens in ``text``: ``ceil(utf8_bytes / max_token_bytes)``.

    Every token stands for at most ``max_token_bytes`` bytes of the text, so a text of N bytes
    needs at least N / max_token_bytes of them.
    """
    # An ASCII text's UTF-8 length is its length (isascii is O(1) in CPython): no 4 ms encode of
    # a 7.5 MB prompt while holding the GIL.
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return math.ceil(size / max_token_bytes)


# While a pool thread runs pure Python, the event loop gets the GIL back only when the switch
# interval (5 ms by default) expires, and it needs it several times to answer one request; at
# 1 ms a probe waits a few ms instead of tens (measured in docs/performance.md). Only a process
# that ever moves work off the loop pays for the more frequent switches.
POOL_SWITCH_INTERVAL_S = 0.001


@functools.cache
def _pool_executor() -> ThreadPoolExecutor:
    """The process's CPU pool, created on first use (its threads start lazily too)."""
    sys.setswitchinterval(min(sys.getswitchinterval(), POOL_SWITCH_INTERVAL_S))
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="llm-simulator-cpu")


def _run(ceiling: int | None, fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` under ``ceiling`` and a fresh pool budget (inside a copied context, on a pool thread)."""
    _CEILING.set(ceiling)
    with request_budget(inline=False):
        return fn(*args)


class Outgrown(enum.Enum):
    """``inline``'s answer for a step that outgrew its inline budget (run it on the pool)."""

    OUTGROWN = "outgrown"


OUTGROWN = Outgrown.OUTGROWN


def inline(ceiling: int | None, fn: Callable[..., T], *args: object) -> T | Outgrown:
    """``fn(*args)`` run inline under ``ceiling`` and a fresh inline budget; ``OUTGROWN`` when it outgrew it.

    ``off_loop``'s inline half, for a caller that wants no coroutine for the usual small
    step: it awaits ``off_loop(True, …)`` (the pool) only when ``OUTGROWN`` comes back.
    """
    # Set and reset the two variables in the caller's context rather than copy it (half
    # the cost on every request); neither outlives the step. (No ceiling to set for the
    # usual small body: every ContextVar.set copies the context's map.)
    ceiling_token = _CEILING.set(ceiling) if ceiling is not None else None
    budget_token = enter_budget(inline=True)
    try:
        return fn(*args)
    except OffLoopNeeded:
        return OUTGROWN
    finally:
        exit_budget(budget_token)
        if ceiling_token is not None:
            _CEILING.reset(ceiling_token)


async def off_loop(heavy: bool, ceiling: int | None, fn: Callable[..., T], *args: object) -> T:
    """Run the synchronous step ``fn(*args)``: on the CPU pool if ``heavy``, else inline.

    An inline step that outgrows its schema budget (``OffLoopNeeded``) is run again on the
    pool, so ``fn`` must be repeatable (parsing, planning from a seed). ``ceiling`` (a model's
    context window, or None) lets token counting stop early at texts that cannot fit it (see
    ``tokens_at_least``). Exceptions propagate as if ``fn`` had been called inline.
    """
    if not heavy:
        result = inline(ceiling, fn, *args)
        if not isinstance(result, Outgrown):
            return result
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(_pool_executor(), context.run, _run, ceiling, fn, *args)
