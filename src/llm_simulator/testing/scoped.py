"""A test's scope on a simulator: its test id, clients that carry it, and its live journal.

The pytest plugin gives each test a scope (``llm_simulator_scope``): on the session-wide
server in shared mode (``--llm-simulator-shared``), else on the test's own. Every request the
scope's clients send carries ``x-simulator-test-id: <the test's id>``, so the test's chaos,
fixtures and journal are its own on a server other tests use at the same time.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Unpack

from llm_simulator.core.test_scope import TEST_ID_HEADER, is_valid_test_id
from llm_simulator.sdk import Admin, Client, Journal, JournalFilters
from llm_simulator.testing.handle import SimulatorHandle

__all__ = ["LiveJournal", "ScopedSimulator", "test_id_for"]

# Characters a test id may not hold (the complement of core.test_scope's pattern).
_UNSAFE = re.compile(r"[^A-Za-z0-9._:/\[\]=+@-]")
MAX_TEST_ID = 200


def test_id_for(node_id: str) -> str:
    """A valid test id for a pytest node id: the id itself when it fits the pattern.

    Otherwise unsafe characters become ``_`` and a digest of the original is appended (so two
    node ids that differ only in unsafe characters, or past 200 characters, stay distinct).
    """
    if is_valid_test_id(node_id):
        return node_id
    digest = "@" + hashlib.sha256(node_id.encode()).hexdigest()[:12]
    return _UNSAFE.sub("_", node_id)[: MAX_TEST_ID - len(digest)] + digest


test_id_for.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


class LiveJournal:
    """A test scope's journal read afresh by every call: the ``journal`` fixture.

    ``journal()`` (with filters, ``JournalFilters``) returns the entries now; ``last``,
    ``assert_requested``, ``assert_tool_result_sent`` and ``assert_no_unmatched`` read it and
    assert as ``llm_simulator.sdk.Journal`` does; ``clear()`` forgets the scope's entries.
    """

    def __init__(self, admin: Admin) -> None:
        self._admin = admin

    def __call__(self, **filters: Unpack[JournalFilters]) -> Journal:
        """The scope's entries now, oldest first, narrowed on the server by ``filters``."""
        return self._admin.journal(**filters)

    def last(self, **filters: Any) -> dict[str, Any] | None:
        """The newest entry whose fields equal ``filters``, or None."""
        return self().last(**filters)

    def assert_requested(self, times: int | None = None, **filters: Any) -> Journal:
        """At least one request (or exactly ``times``) matched; the matching entries."""
        return self().assert_requested(times, **filters)

    def assert_tool_result_sent(
        self, call_id: str | None = None, *, name: str | None = None, **filters: Any
    ) -> dict[str, Any]:
        """The last request (matching ``filters``) carried the result of call ``call_id`` (or tool ``name``)."""
        return self().assert_tool_result_sent(call_id, name=name, **filters)

    def assert_no_unmatched(self) -> None:
        """No request of the scope missed every fixture under strict mode."""
        self().assert_no_unmatched()

    def clear(self) -> int:
        """Forget the scope's entries; how many there were."""
        return int(self._admin.clear_journal().get("cleared", 0))


class ScopedSimulator:
    """A simulator as one test sees it: its URLs, its test id, and clients that send it.

    ``handle`` is the server's ``SimulatorHandle`` (shared with other tests in shared mode:
    its ``chaos()``/``fixtures()`` blocks change the global state every test sees).
    ``headers`` is the test-id header to give any other client.
    """

    def __init__(self, handle: SimulatorHandle, test_id: str) -> None:
        self.handle = handle
        self.test_id = test_id
        self.url = handle.url
        self.api_key = handle.api_key
        self.admin_key = handle.admin_key
        self.headers = {TEST_ID_HEADER: test_id}
        self._client: Client | None = None

    def __repr__(self) -> str:
        return f"<ScopedSimulator {self.test_id!r} on {self.url}>"

    @property
    def openai_base_url(self) -> str:
        """The OpenAI SDK's ``base_url``."""
        return self.handle.openai_base_url

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic SDK's ``base_url``."""
        return self.handle.anthropic_base_url

    @property
    def gemini_base_url(self) -> str:
        """google-genai's ``HttpOptions(base_url=...)``."""
        return self.handle.gemini_base_url

    @property
    def client(self) -> Client:
        """An SDK client in this scope (no retries): its API and admin calls carry the test id."""
        if self._client is None:
            self._client = Client(
                self.url, api_key=self.api_key, admin_key=self.admin_key, retry=None, test_id=self.test_id
            )
        return self._client

    @property
    def admin(self) -> Admin:
        """The admin API in this scope (``client.admin``)."""
        return self.client.admin

    @property
    def journal(self) -> LiveJournal:
        """The scope's journal, read afresh by each call."""
        return LiveJournal(self.admin)

    def close(self) -> None:
        """Close the scope's client (the server is not this scope's to stop)."""
        if self._client is not None:
            self._client.close()
            self._client = None
