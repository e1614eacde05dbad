"""``read_admin_scope``: which state an admin request names (a scope, or the global one on opt-in).

Every scoped admin route (faults, chaos, fixtures, sessions) reads its target here, so the
explicit ``?global=true`` opt-in of a scoped client works on all of them alike.
"""

from __future__ import annotations

import pytest

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.test_scope import TEST_ID_HEADER, read_admin_scope

SCOPED = {TEST_ID_HEADER: "tests/a.py::t"}


def test_the_header_names_the_scope_unless_the_request_opts_in_to_the_global_state() -> None:
    assert read_admin_scope(SCOPED, {}) == "tests/a.py::t"
    assert read_admin_scope(SCOPED, {"global": "false"}) == "tests/a.py::t"
    assert read_admin_scope(SCOPED, {"global": "true"}) is None
    assert read_admin_scope({}, {"scope": "other"}) == "other"
    assert read_admin_scope({}, {}) is None


@pytest.mark.parametrize(
    ("query", "says"),
    [({"global": "true", "scope": "x"}, "not both"), ({"global": "1"}, "true or false"), ({"global": ""}, "true")],
)
def test_a_contradiction_or_a_bad_value_is_a_400_naming_global(query: dict[str, str], says: str) -> None:
    with pytest.raises(SimulatorError) as caught:
        read_admin_scope(SCOPED, query)
    assert caught.value.status == 400 and caught.value.param == "global" and says in caught.value.message


def test_a_scope_named_in_the_path_comes_first_but_contradicts_the_global_opt_in() -> None:
    # /admin/scopes/{id}/faults: the path's scope, unless ?global=true says otherwise (a 400).
    assert read_admin_scope(SCOPED, {}, "in-path") == "in-path"
    assert read_admin_scope(SCOPED, {"global": "false"}, "in-path") == "in-path"
    for query, says in (({"global": "true"}, "not both"), ({"global": "maybe"}, "true or false")):
        with pytest.raises(SimulatorError) as caught:
            read_admin_scope(SCOPED, query, "in-path")
        assert caught.value.status == 400 and caught.value.param == "global" and says in caught.value.message
