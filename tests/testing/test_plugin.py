"""The pytest plugin as a user meets it: small test files run by ``pytester`` (in process)."""

from __future__ import annotations

import pytest

from tests.testing.pytester_ini import INI, inner

pytest_plugins = ["pytester"]
__all__ = ["inner"]  # the fixture, imported to be used here


def test_fixtures_are_registered(inner: pytest.Pytester) -> None:
    result = inner.runpytest("--fixtures")
    for name in (
        "llm_simulator ",
        "llm_simulator_factory",
        "llm_simulator_session ",
        "llm_simulator_session_config",
        "openai_client",
        "async_openai_client",
        "anthropic_client",
        "gemini_client",
        "llm_simulator_scope",
        "journal ",
    ):
        assert any(line.startswith(name) for line in result.outlines), name
    result = inner.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--llm-simulator-subprocess*", "*--llm-simulator-shared*", "*--llm-simulator-strict*"]
    )
    result = inner.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.llm_simulator(config=None, *, subprocess=None, strict=None)*"])


def test_each_test_gets_its_own_simulator_and_official_clients(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import openai

        URLS = []

        def test_openai(llm_simulator, openai_client):
            URLS.append(llm_simulator.url)
            reply = openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
            )
            assert reply.choices[0].message.content
            assert openai_client.max_retries == 0
            (received,) = llm_simulator.requests()
            assert received["body"]["max_tokens"] == 5

        def test_anthropic_and_gemini(llm_simulator, anthropic_client, gemini_client):
            URLS.append(llm_simulator.url)
            assert llm_simulator.requests() == []  # a fresh simulator: nothing from the test before
            message = anthropic_client.messages.create(
                model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
            assert message.content[0].text
            answer = gemini_client.models.generate_content(model="gemini-2.0-flash", contents="hi")
            assert answer.text
            assert [r["provider"] for r in llm_simulator.requests()] == ["anthropic", "gemini"]

        async def test_async_openai(async_openai_client):
            reply = await async_openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            assert reply.choices[0].message.content

        def test_the_servers_were_distinct():
            assert len(URLS) == len(set(URLS)) == 2
        """
    )
    inner.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


def test_marker_config_nested_dotted_and_closest_wins(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.llm_simulator(config={"generation": {"strategy": "fixed", "fixed_text": "module"}})

        def test_module_level(llm_simulator):
            assert llm_simulator.client.chat("hi").text == "module"

        @pytest.mark.llm_simulator(config={"generation.fixed_text": "function"})
        def test_function_over_module(llm_simulator):
            assert llm_simulator.client.chat("hi").text == "function"
            assert llm_simulator.config.generation.strategy == "fixed"  # merged, not replaced

        @pytest.mark.llm_simulator({"latency.enabled": True, "latency.multiplier": 0.01})
        def test_defaults_can_be_overridden(llm_simulator):
            assert llm_simulator.config.latency.enabled is True
            assert llm_simulator.config.telemetry.request_log.enabled is True  # the other defaults stay

        @pytest.mark.llm_simulator(config=["not", "a", "mapping"])
        def test_bad_marker(llm_simulator):
            pass

        @pytest.mark.llm_simulator(config={"chaos.no_such_key": 1})
        def test_bad_config(llm_simulator):
            pass
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(["*config must be a mapping*", "*chaos.no_such_key: unknown key*"])


def test_factory_with_sections(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_two_simulators(llm_simulator_factory):
            echo = llm_simulator_factory(generation={"strategy": "echo"})
            fixed = llm_simulator_factory({"generation.strategy": "fixed"}, seed=9)
            assert echo.url != fixed.url
            assert echo.client.chat("parrot") .text == "parrot"
            assert fixed.config.seed == 9
            assert fixed.client.chat("x").text == fixed.config.generation.fixed_text
        """
    )
    inner.runpytest().assert_outcomes(passed=1)


def test_session_simulator_is_shared_and_configurable(inner: pytest.Pytester) -> None:
    inner.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def llm_simulator_session_config():
            return {"generation.strategy": "echo"}
        """
    )
    inner.makepyfile(
        """
        URLS = set()

        def test_one(llm_simulator_session):
            URLS.add(llm_simulator_session.url)
            assert llm_simulator_session.client.chat("one").text == "one"

        def test_two(llm_simulator_session):
            URLS.add(llm_simulator_session.url)
            assert len(llm_simulator_session.requests()) == 1  # state is shared ...
            llm_simulator_session.reset()  # ... until reset
            assert llm_simulator_session.requests() == []
            assert len(URLS) == 1
        """
    )
    inner.runpytest().assert_outcomes(passed=2)


def test_missing_sdk_skips_with_a_reason(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import sys
        import pytest

        @pytest.fixture(autouse=True)
        def no_anthropic(monkeypatch):
            monkeypatch.setitem(sys.modules, "anthropic", None)

        def test_needs_anthropic(anthropic_client):
            pass
        """
    )
    result = inner.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*anthropic is not installed (pip install anthropic)*"])


def test_subprocess_mode_by_option_ini_and_marker(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import pytest

        def test_where(llm_simulator, request):
            expected = request.config.getoption("llm_simulator_subprocess")
            assert llm_simulator.in_process is not expected
            assert llm_simulator.client.chat("hi", provider="anthropic").text

        @pytest.mark.llm_simulator(subprocess=False)
        def test_marker_overrides(llm_simulator):
            assert llm_simulator.in_process
        """
    )
    inner.runpytest().assert_outcomes(passed=2)
    inner.runpytest("--llm-simulator-subprocess").assert_outcomes(passed=2)
    inner.makeini(INI + "llm_simulator_subprocess = true\n")
    inner.makepyfile(
        """
        def test_ini(llm_simulator):
            assert not llm_simulator.in_process
        """
    )
    inner.runpytest().assert_outcomes(passed=1)


def test_safe_under_pytest_xdist(inner: pytest.Pytester) -> None:
    """Two xdist workers, eight tests: each test's simulator sees its own requests only."""
    pytest.importorskip("xdist")
    inner.makepyfile(
        test_parallel="""
        import os
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_isolated(llm_simulator, openai_client, n):
            worker = os.environ.get("PYTEST_XDIST_WORKER", "none")
            text = f"request {n} from {worker}"
            reply = openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": text}], max_tokens=5
            )
            assert reply.choices[0].message.content
            seen = [r["body"]["messages"][0]["content"] for r in llm_simulator.requests()]
            assert seen == [text]
            assert worker.startswith("gw")
        """
    )
    result = inner.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
