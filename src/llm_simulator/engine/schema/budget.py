"""One request's schema work budget, across all its schemas.

``generate``'s own budget bounds one schema; a request can carry 128 tools, each with a
distinct schema that needs nearly the whole of it (about 0.3 s of pure Python apiece). While
a request step runs inside ``request_budget``, every schema check that misses the cache and
every draw is charged here too:

- **inline** (the step runs on the event loop): a small budget. Running out raises
  ``OffLoopNeeded``, and the caller runs the whole step again off the loop. Cached schemas
  and ordinary ones cost a few units, so the common request never leaves the loop.
- **off the loop**: ``REQUEST_WORK`` units. Running out refuses the request's schemas with a
  ``SchemaError`` (the provider's 400), which is not cached: each schema alone may be fine.

Outside ``request_budget`` (library use, tests) nothing is charged.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from llm_simulator.engine.schema.errors import SchemaError

INLINE_WORK = 2_500
"""Units (about 10 µs each) a step may spend on the event loop before it moves off it."""
REQUEST_WORK = 300_000
"""Units one request step may spend in all (about 1–3 s of CPU): 128 tools of 40 subschemas
each, all new, still fit; a hostile request is refused after a few seconds of work."""
CHECK_UNITS = 20
"""Fixed charge of a schema check that misses the cache."""
OBJECT_UNITS = 50
"""Charge per JSON object in a schema that misses the cache, before it is checked: the
metaschema validation costs 0.1–0.6 ms per subschema (measured), more than all the rest."""


def check_units(key: str) -> int:
    """Units to charge for checking the schema whose cache key (JSON text) is ``key``."""
    return CHECK_UNITS + OBJECT_UNITS * key.count("{")


class OffLoopNeeded(BaseException):
    """The step outgrew its inline budget: run it again off the event loop.

    A ``BaseException`` so that the generator's catch-all fallbacks (which turn any failure of
    a draw into the checked trial instance) let it through.
    """


@dataclass
class RequestBudget:
    """The schema work left for one request step."""

    work: int
    inline: bool

    def charge(self, units: int) -> None:
        """Take ``units``; signal (inline) or refuse (off the loop) once the budget is gone."""
        self.work -= units
        if self.work < 0:
            self.exhausted()

    def exhausted(self) -> None:
        """Raise what running out means here."""
        if self.inline:
            raise OffLoopNeeded
        raise SchemaError(
            f"the request's schemas together need too much work to check and generate (more than "
            f"{REQUEST_WORK} units); send fewer or simpler schemas"
        )


_CURRENT: contextvars.ContextVar[RequestBudget | None] = contextvars.ContextVar(
    "llm_simulator_schema_budget", default=None
)


def current() -> RequestBudget | None:
    """The running step's budget (None outside ``request_budget``)."""
    return _CURRENT.get()


def enter_budget(*, inline: bool) -> contextvars.Token[RequestBudget | None]:
    """Start a fresh budget (``INLINE_WORK`` if ``inline``, else ``REQUEST_WORK``); ``exit_budget`` ends it.

    The pair without a context manager is for the per-request hot path (``engine.cpu``).
    """
    return _CURRENT.set(RequestBudget(INLINE_WORK if inline else REQUEST_WORK, inline))


def exit_budget(token: contextvars.Token[RequestBudget | None]) -> None:
    """End the budget ``enter_budget`` started (the one before it is current again)."""
    _CURRENT.reset(token)


@contextlib.contextmanager
def request_budget(*, inline: bool) -> Iterator[RequestBudget]:
    """A fresh budget for the step run inside (``INLINE_WORK`` if ``inline``, else ``REQUEST_WORK``)."""
    token = enter_budget(inline=inline)
    try:
        budget = _CURRENT.get()
        assert budget is not None
        yield budget
    finally:
        exit_budget(token)
