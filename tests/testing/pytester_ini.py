"""The ini file of the plugin's inner ``pytester`` sessions, and a fixture that writes it."""

from __future__ import annotations

import pytest

# The inner sessions run in this process under this session's warning filters (errors), so
# they need pytest-asyncio's loop scope set like the outer one.
INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """``pytester`` with the inner sessions' ini file written."""
    pytester.makeini(INI)
    return pytester
