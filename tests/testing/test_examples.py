"""``examples/test_with_llm_simulator.py`` runs green with the plugin (so the default test run covers it)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "test_with_llm_simulator.py"
INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def test_the_example_passes(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_with_llm_simulator=EXAMPLE.read_text(encoding="utf-8"))
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*test_gives_up_during_a_rate_limit_storm PASSED*"])


def test_the_example_passes_in_subprocess_mode(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_with_llm_simulator=EXAMPLE.read_text(encoding="utf-8"))
    pytester.runpytest("--llm-simulator-subprocess", "-k", "storm or scripted").assert_outcomes(passed=2, deselected=3)


def test_the_readme_snippet_passes(pytester: pytest.Pytester) -> None:
    readme = (EXAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### In your tests (the pytest plugin)", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makeini(INI)
    pytester.makepyfile(test_readme_snippet=snippet)
    pytester.runpytest().assert_outcomes(passed=1)


def _guide_snippet(marker: str) -> str:
    """The Python block after ``<!-- marker -->`` in docs/testing.md."""
    guide = (EXAMPLE.parents[1] / "docs" / "testing.md").read_text(encoding="utf-8")
    return guide.split(f"<!-- {marker} -->\n```python\n", 1)[1].split("```", 1)[0]


def test_the_misbehaviour_snippet_of_the_testing_guide_passes(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_misbehaviour_snippet=_guide_snippet("misbehaviour-example"))
    pytester.runpytest("-v").assert_outcomes(passed=2)


def test_the_journal_snippet_of_the_testing_guide_passes(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_journal_snippet=_guide_snippet("journal-example"))
    pytester.runpytest("-v").assert_outcomes(passed=1)
    pytester.runpytest("-v", "--llm-simulator-shared").assert_outcomes(passed=1)


def test_the_scope_snippet_of_the_testing_guide_passes(pytester: pytest.Pytester) -> None:
    """Fixtures, a one-shot fault, strict mode and the journal per test: shared and per-test servers."""
    pytester.makeini(INI)
    pytester.makepyfile(test_scope_snippet=_guide_snippet("scope-example"))
    pytester.runpytest("-v", "--llm-simulator-shared").assert_outcomes(passed=2)
    pytester.runpytest("-v").assert_outcomes(passed=2)
