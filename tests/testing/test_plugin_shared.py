"""The plugin's shared mode: one server for the session, a test scope per test, its journal."""

from __future__ import annotations

import pytest

from llm_simulator.core.test_scope import is_valid_test_id
from llm_simulator.testing.scoped import test_id_for
from tests.testing.pytester_ini import INI, inner

pytest_plugins = ["pytester"]
__all__ = ["inner"]  # the fixture, imported to be used here

TESTS = """
import pytest

URLS = []

def _ask(client, text):
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], max_tokens=5
    )
    assert reply.choices[0].message.content

@pytest.mark.parametrize("n", [1, 2])
def test_openai(openai_client, journal, llm_simulator_scope, request, n):
    URLS.append(llm_simulator_scope.url)
    assert llm_simulator_scope.test_id == request.node.nodeid
    _ask(openai_client, f"question {n}")
    _ask(openai_client, f"again {n}")
    entries = journal()
    assert [e["body"]["messages"][0]["content"] for e in entries] == [f"question {n}", f"again {n}"]
    assert {e["test_id"] for e in entries} == {request.node.nodeid}
    journal.assert_requested(times=2, model="gpt-4o-mini")

def test_anthropic_and_gemini(anthropic_client, gemini_client, journal, llm_simulator_scope):
    URLS.append(llm_simulator_scope.url)
    anthropic_client.messages.create(
        model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    gemini_client.models.generate_content(model="gemini-2.0-flash", contents="hi")
    assert [e["provider"] for e in journal()] == ["anthropic", "gemini"]
    assert journal.last(provider="gemini")["status"] == 200

def test_the_scope_client_carries_the_id_too(llm_simulator_scope, journal):
    URLS.append(llm_simulator_scope.url)
    llm_simulator_scope.client.chat("hi", provider="anthropic")
    journal.assert_requested(times=1, provider="anthropic")
    assert journal.clear() == 1 and journal() == []

def test_the_servers(request):
    shared = request.config.getoption("llm_simulator_shared")
    assert len(set(URLS)) == (1 if shared else 4)
"""


def test_shared_mode_one_server_a_scope_per_test(inner: pytest.Pytester) -> None:
    inner.makepyfile(TESTS)
    inner.runpytest("--llm-simulator-shared").assert_outcomes(passed=5)


def test_the_same_tests_on_a_server_per_test(inner: pytest.Pytester) -> None:
    inner.makepyfile(TESTS)
    inner.runpytest().assert_outcomes(passed=5)


def test_shared_by_ini_and_a_test_asking_for_its_own_server_gets_one(inner: pytest.Pytester) -> None:
    inner.makeini(INI + "llm_simulator_shared = true\n")
    inner.makepyfile(
        """
        import pytest

        SEEN = {}

        def test_shared(llm_simulator_scope, llm_simulator_session):
            SEEN["shared"] = llm_simulator_scope.url
            assert llm_simulator_scope.url == llm_simulator_session.url

        def test_own(llm_simulator, llm_simulator_scope, openai_client):
            assert llm_simulator_scope.url == llm_simulator.url != SEEN["shared"]
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], max_tokens=2
            )
            (entry,) = llm_simulator.requests()
            assert entry["test_id"] == llm_simulator_scope.test_id

        @pytest.mark.llm_simulator(config={"seed": 9})
        def test_marked(llm_simulator_scope):
            assert llm_simulator_scope.url != SEEN["shared"]
            assert llm_simulator_scope.handle.config.seed == 9
        """
    )
    inner.runpytest().assert_outcomes(passed=3)


def test_a_failed_test_reports_its_journal(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_agent(openai_client, journal):
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "what now"}], max_tokens=2
            )
            journal.assert_tool_result_sent("call_missing")
        """
    )
    result = inner.runpytest("--llm-simulator-shared")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*JournalAssertionError: expected the last request (#1) to carry the result of call 'call_missing'*",
            "*llm-simulator journal test_a_failed_test_reports_its_journal.py::test_agent*",
            "*#1 POST /v1/chat/completions provider=openai model=gpt-4o-mini* status=200*",
        ]
    )


def test_shared_mode_under_xdist_is_one_server_per_worker(inner: pytest.Pytester) -> None:
    """Two workers, eight tests: one server per worker, each test's journal its own."""
    pytest.importorskip("xdist")
    inner.makepyfile(
        test_parallel="""
        import os
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_scoped(openai_client, journal, llm_simulator_scope, n):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            with open("servers.txt", "a") as out:
                out.write(f"{worker} {llm_simulator_scope.url}\\n")
            text = f"request {n}"
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": text}], max_tokens=2
            )
            assert [e["body"]["messages"][0]["content"] for e in journal()] == [text]
        """
    )
    result = inner.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--llm-simulator-shared")
    result.assert_outcomes(passed=8)
    pairs = {tuple(line.split()) for line in (inner.path / "servers.txt").read_text().splitlines()}
    workers = {worker for worker, _ in pairs}
    assert len(workers) == 2 and len(pairs) == 2  # one URL per worker, two in all


@pytest.mark.parametrize(
    "node_id",
    [
        "tests/test_x.py::test_y[param-1]",
        "tests/test_x.py::test_y[hello world]",
        "tests/test_x.py::test_y[ünïcode]",
        "tests/test_x.py::test_" + "y" * 300,
    ],
)
def test_test_ids_from_node_ids_are_valid_and_distinct(node_id: str) -> None:
    test_id = test_id_for(node_id)
    assert is_valid_test_id(test_id)
    if is_valid_test_id(node_id):
        assert test_id == node_id
    else:
        assert test_id != test_id_for(node_id + "x")  # a digest keeps near-identical ids apart
    assert test_id_for("a b") != test_id_for("a_b")
