"""The plugin's scope per test: strict mode (marker, switch), faults and fixtures through the
scoped SDK, the journal's strict-miss assertion, and shared mode's teardown of the scope.

The same inner tests run in shared mode and with a server per test.
"""

from __future__ import annotations

import pytest

from tests.testing.pytester_ini import INI, inner

pytest_plugins = ["pytester"]
__all__ = ["inner"]  # the fixture, imported to be used here

TESTS = """
import openai
import pytest
from llm_simulator.sdk import JournalAssertionError

PING = {"rules": [{"match": {"message": "ping"}, "respond": {"text": "pong"}}]}
SCOPES = []

def _ask(client, text):
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], max_tokens=5
    )
    return reply.choices[0].message.content

@pytest.mark.llm_simulator(strict=True)
def test_strict(openai_client, journal, llm_simulator_scope):
    SCOPES.append(llm_simulator_scope)
    llm_simulator_scope.admin.load_fixtures(PING)
    llm_simulator_scope.admin.fail_next(1, "rate_limit")
    assert llm_simulator_scope.admin.scope()["strict_in_force"] is True
    with pytest.raises(openai.RateLimitError):
        _ask(openai_client, "ping")
    assert _ask(openai_client, "ping") == "pong"
    with pytest.raises(openai.BadRequestError):
        _ask(openai_client, "no fixture for this")
    with pytest.raises(JournalAssertionError, match="matched no fixture") as caught:
        journal.assert_no_unmatched()
    assert "error_type=strict_no_fixture" in str(caught.value)
    journal.assert_requested(times=3)

def test_not_strict_and_clean(openai_client, journal, llm_simulator_scope):
    SCOPES.append(llm_simulator_scope)
    assert _ask(openai_client, "ping") != "pong"  # the other test's fixture is not here
    journal.assert_no_unmatched()

def test_the_scopes_were_cleared(request, llm_simulator_session):
    shared = request.config.getoption("llm_simulator_shared")
    strict, plain = SCOPES
    assert (strict.url == plain.url == llm_simulator_session.url) is shared  # strict= keeps the shared server
    if shared:
        from llm_simulator.sdk import NotFoundError
        for scope in SCOPES:
            with pytest.raises(NotFoundError):
                llm_simulator_session.admin.scope(test_id=scope.test_id)
            assert llm_simulator_session.admin.journal(test_id=scope.test_id) == []
"""


@pytest.mark.parametrize("mode", [["--llm-simulator-shared"], []], ids=["shared", "per-test"])
def test_strict_marker_faults_fixtures_and_teardown(inner: pytest.Pytester, mode: list[str]) -> None:
    inner.makepyfile(TESTS)
    inner.runpytest(*mode).assert_outcomes(passed=3)


def test_the_strict_switch_and_a_marker_opting_out(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import openai
        import pytest

        def _ask(client):
            return client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
            )

        def test_strict_by_switch(openai_client, journal):
            with pytest.raises(openai.BadRequestError, match="Strict mode"):
                _ask(openai_client)
            journal.assert_no_unmatched()
        """
    )
    result = inner.runpytest("--llm-simulator-shared", "--llm-simulator-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*JournalAssertionError: 1 request(s) matched no fixture (strict mode):*",
            "*#1 POST /v1/chat/completions provider=openai model=gpt-4o-mini status=400 error_type=strict_no_fixture*",
        ]
    )


def test_a_marker_opts_out_of_the_ini_switch(inner: pytest.Pytester) -> None:
    inner.makeini(INI + "llm_simulator_strict = true\n")
    inner.makepyfile(
        """
        import pytest

        @pytest.mark.llm_simulator(strict=False)
        def test_lenient(openai_client, llm_simulator_scope):
            reply = openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
            )
            assert reply.choices[0].message.content
            assert llm_simulator_scope.admin.scope()["strict_in_force"] is False

        def test_strict(llm_simulator_scope):
            assert llm_simulator_scope.admin.scope()["strict_in_force"] is True
        """
    )
    inner.runpytest("--llm-simulator-shared").assert_outcomes(passed=2)


def test_scopes_stay_apart_under_xdist(inner: pytest.Pytester) -> None:
    """Two workers, six strict tests each arming a fault and a fixture of its own on its worker's server."""
    pytest.importorskip("xdist")
    inner.makepyfile(
        test_parallel="""
        import openai
        import pytest

        def _ask(client, text):
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": text}], max_tokens=5
            )
            return reply.choices[0].message.content

        @pytest.mark.parametrize("n", range(6))
        def test_scoped(openai_client, journal, llm_simulator_scope, n):
            rules = [{"match": {"message": f"q{n}"}, "respond": {"text": f"a{n}"}}]
            llm_simulator_scope.admin.load_fixtures({"rules": rules})
            llm_simulator_scope.admin.fail_next(1, "server_error")
            with pytest.raises(openai.InternalServerError):
                _ask(openai_client, f"q{n}")
            assert _ask(openai_client, f"q{n}") == f"a{n}"
            with pytest.raises(openai.BadRequestError):  # strict: another test's fixture is not ours
                _ask(openai_client, f"q{(n + 1) % 6}")
            assert [e["status"] for e in journal()] == [500, 200, 400]
        """
    )
    args = ("-n", "2", "-p", "no:cacheprovider", "--llm-simulator-shared", "--llm-simulator-strict")
    inner.runpytest_subprocess(*args).assert_outcomes(passed=6)
