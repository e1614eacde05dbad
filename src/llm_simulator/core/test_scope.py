"""Which test a request belongs to: the test id that scopes chaos, fixtures and the journal.

A shared simulator serves many tests at once; each test marks its requests with an id, in
the ``x-simulator-test-id`` header or (for clients that cannot add headers) the
``simulator_test_id`` query parameter. The id names a *test scope*: the chaos rules,
fixtures, scenarios, one-shot faults, counters and journal entries of that test. Requests
without one see the global state, as before.

Only the reading of the id lives here (the server and the engine both need it); what a
scope holds lives with the state it scopes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from llm_simulator.core.errors import invalid

# The header a test's requests carry (lower-case: the server lower-cases header names).
TEST_ID_HEADER = "x-simulator-test-id"
# The query parameter with the same meaning, for clients that cannot set a header.
TEST_ID_QUERY = "simulator_test_id"
# What a test id may look like: safe in a log line, a metric-free label and a Redis key.
# pytest node ids ("tests/test_x.py::test_y[param-1]") fit, so the plugin can use them.
TEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:/\[\]=+@-]{1,200}")


def read_test_id(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The request's test id as given (header first, then query), or None when it has none.

    The value is returned unchecked: ``is_valid_test_id`` tells whether the server should
    refuse it (a provider-shaped 400), which is the caller's decision.
    """
    given = headers.get(TEST_ID_HEADER)
    if given is None:
        given = query.get(TEST_ID_QUERY)
    return given


def is_valid_test_id(test_id: str) -> bool:
    """Whether ``test_id`` is a well-formed test id (1–200 characters of a safe set)."""
    return TEST_ID_PATTERN.fullmatch(test_id) is not None


# The admin API's query parameter naming the scope an admin request reads or changes.
SCOPE_QUERY = "scope"
# ``?global=true``: the global state, whatever test id the request carries. A scoped client
# sends its test id header on every call, so without this opt-in it can only reach its scope.
GLOBAL_QUERY = "global"


def read_admin_scope(headers: Mapping[str, str], query: Mapping[str, str], named: str | None = None) -> str | None:
    """The scope an admin request targets: ``named`` (a path's), ``?scope=``, the test id header or query; None: global.

    ``?global=true`` is the explicit opt-in for the global state from a scoped client (its
    test id header is then ignored); with a scope named in the path or by ``?scope=`` it is
    a 400, as is any value but ``true`` or ``false``.
    """
    everywhere = query.get(GLOBAL_QUERY)
    if everywhere is not None:
        if everywhere not in ("true", "false"):
            raise invalid(f"global must be true or false, got {everywhere!r}.", param=GLOBAL_QUERY)
        if everywhere == "true":
            if named is not None or SCOPE_QUERY in query:
                raise invalid(
                    "Name a scope (in the path or ?scope=) or the global state (?global=true), not both.",
                    param=GLOBAL_QUERY,
                )
            return None
    if named is not None:
        return named
    given = query.get(SCOPE_QUERY)
    return given if given is not None else read_test_id(headers, query)
