"""The SDK's scope admin methods on a live server: strict mode, one-shot faults, scoped fixtures, drop.

The official SDKs send the scoped traffic; the journal then shows what strict mode and the
faults did, so the scopes half and the journal half are checked as one feature.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from llm_simulator.providers.scripting import STRICT_NO_FIXTURE
from llm_simulator.sdk import AsyncClient, BadRequestError, Client, JournalAssertionError, NotFoundError, scope
from llm_simulator.sdk.journal import STRICT_MISS_ERROR_TYPES
from llm_simulator.testing import SimulatorHandle, start_simulator

KEY = "sk-scope-admin"
PING = {"rules": [{"match": {"message": "ping"}, "respond": {"text": "pong"}}]}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator() as handle:
        yield handle


def _sdk(sim: SimulatorHandle, test_id: str | None) -> Client:
    return Client(sim.url, api_key=KEY, retry=None, test_id=test_id)


def _openai(sim: SimulatorHandle, test_id: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.openai_base_url, api_key=KEY, max_retries=0, **scope.openai_options(test_id))


def _ask(client: openai.OpenAI, text: str, model: str = "gpt-4o") -> str:
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], max_tokens=8)
    return reply.choices[0].message.content or ""


def test_the_journal_knows_the_error_type_strict_mode_records() -> None:
    # The SDK may not import the server side (import contracts), so it keeps its own copy.
    assert STRICT_NO_FIXTURE in STRICT_MISS_ERROR_TYPES


def test_a_strict_miss_is_journaled_and_assert_no_unmatched_names_it(sim: SimulatorHandle) -> None:
    test_id = "tests/scope_admin.py::strict[miss]"
    with _sdk(sim, test_id) as sdk, _openai(sim, test_id) as client:
        assert sdk.admin.set_strict()["strict_in_force"] is True
        sdk.admin.load_fixtures(PING)  # the scoped client's admin writes go to its scope
        assert _ask(client, "ping") == "pong"
        sdk.journal().assert_no_unmatched()  # a fixture answered: nothing unmatched yet
        with pytest.raises(openai.BadRequestError):
            _ask(client, "Where is my order?", model="gpt-4o-mini")
        journal = sdk.journal()
        missed = journal.assert_requested(times=1, error_type="strict_no_fixture", status=400)
        assert missed[0]["test_id"] == test_id and missed[0]["model"] == "gpt-4o-mini"
        with pytest.raises(JournalAssertionError) as caught:
            journal.assert_no_unmatched()
        message = str(caught.value)
        assert "1 request(s) matched no fixture" in message
        assert "POST /v1/chat/completions" in message and "error_type=strict_no_fixture" in message
        assert "Where is my order?" in message  # the server's error message names the request
        assert sdk.admin.scope_counters()["strict_misses"] == 1
        # Another scope on the same server is neither strict nor holds this fixture.
        with _openai(sim, "tests/scope_admin.py::other") as other:
            assert _ask(other, "ping") != "pong"


def test_fail_next_arms_one_shot_faults_in_the_clients_scope_only(sim: SimulatorHandle) -> None:
    with _sdk(sim, "faults-a") as sdk, _openai(sim, "faults-a") as mine, _openai(sim, "faults-b") as theirs:
        armed = sdk.admin.fail_next(2, "rate_limit", model="gpt-4o-mini")
        assert (armed["scope"], armed["remaining"]) == ("faults-a", 2)
        assert [f["remaining"] for f in sdk.admin.faults()] == [2]
        assert _ask(theirs, "hi", model="gpt-4o-mini")  # another scope never meets it
        assert _ask(mine, "hi", model="gpt-4o")  # nor does another model
        for _ in range(2):
            with pytest.raises(openai.RateLimitError):
                _ask(mine, "hi", model="gpt-4o-mini")
        assert _ask(mine, "hi", model="gpt-4o-mini")
        assert sdk.admin.faults() == []
        assert sdk.journal().assert_requested(times=2, status=429)
        # Any chaos rule field passes through: a one-shot misbehaviour, then disarmed unused.
        sdk.admin.fail_next(misbehave="refusal")
        assert sdk.admin.clear_faults()["cleared"] == 1
        assert _ask(mine, "hi")


def test_drop_scope_clears_its_fixtures_faults_and_settings(sim: SimulatorHandle) -> None:
    with _sdk(sim, "dropped") as sdk, _openai(sim, "dropped") as client:
        sdk.admin.load_fixtures(PING)
        sdk.admin.set_strict(True)
        sdk.admin.fail_next(error="server_error")
        assert sdk.admin.scope()["strict"] is True
        assert sdk.admin.drop_scope() == {"cleared": True}
        with pytest.raises(NotFoundError):
            sdk.admin.scope()
        assert _ask(client, "ping") != "pong"  # no fixture, no fault, not strict: a generated answer
        assert sdk.admin.scope()["strict"] is None


def test_scope_methods_need_a_valid_test_id(sim: SimulatorHandle) -> None:
    with _sdk(sim, None) as unscoped:
        with pytest.raises(ValueError, match="no test scope"):
            unscoped.admin.set_strict()
        with pytest.raises(ValueError, match="invalid test id"):
            unscoped.admin.drop_scope("has spaces")
        with pytest.raises(BadRequestError) as caught:  # the server's 400: a fault must inject something
            unscoped.admin.fail_next(test_id="bad-fault")
        assert "Invalid one-shot fault" in str(caught.value)
        with pytest.raises(BadRequestError):
            unscoped.admin.fail_next(0, "rate_limit", test_id="bad-fault")
        # Without a test id a fault is global: the next request of any scope meets it.
        unscoped.admin.fail_next(error="rate_limit", model="gpt-4o-mini")
        with _openai(sim, "global-fault") as client, pytest.raises(openai.RateLimitError):
            _ask(client, "hi", model="gpt-4o-mini")
        assert all(f["remaining"] == 0 for f in unscoped.admin.faults())  # spent (listed or forgotten)


async def test_the_async_client_has_the_same_scope_methods(sim: SimulatorHandle) -> None:
    async with AsyncClient(sim.url, api_key=KEY, retry=None, test_id="async-scope") as sdk:
        await sdk.admin.set_strict()
        await sdk.admin.fail_next(1, "rate_limit")
        assert len(await sdk.admin.faults()) == 1
        assert (await sdk.admin.scope())["strict_in_force"] is True
        with _openai(sim, "async-scope") as client:
            with pytest.raises(openai.RateLimitError):
                _ask(client, "hi")
            with pytest.raises(openai.BadRequestError):
                _ask(client, "hi")
        counters = await sdk.admin.scope_counters()
        assert counters["strict_misses"] == 1
        (await sdk.journal()).assert_requested(times=1, error_type="strict_no_fixture")
        assert (await sdk.admin.clear_faults())["cleared"] == 0
        assert any(s["id"] == "async-scope" for s in (await sdk.admin.scopes())["scopes"])
        assert (await sdk.admin.drop_scope())["cleared"] is True


def test_a_scoped_client_arms_a_global_fault_only_when_it_opts_in(sim: SimulatorHandle) -> None:
    # A scoped client sends its test id header on every admin call: by default its faults
    # are its scope's; ``global_=True`` (``?global=true``) reaches the global ones.
    with (
        _sdk(sim, "opt-in") as sdk,
        _openai(sim, "opt-in") as mine,
        _openai(sim, "bystander") as theirs,
        openai.OpenAI(base_url=sim.openai_base_url, api_key=KEY, max_retries=0) as unscoped,
    ):
        try:
            armed = sdk.admin.fail_next(2, "rate_limit", model="gpt-4.1-nano", global_=True)
            assert (armed["scope"], armed["remaining"]) == (None, 2)
            assert sdk.admin.faults() == []  # the client's own scope holds none
            listed = sdk.admin.faults(global_=True)  # (an earlier test's spent fault may still be listed)
            assert [f["remaining"] for f in listed if f["id"] == armed["id"]] == [2]
            # Another test's scope and an unscoped client meet it, once each.
            for client in (theirs, unscoped):
                with pytest.raises(openai.RateLimitError):
                    _ask(client, "hi", model="gpt-4.1-nano")
            assert _ask(mine, "hi", model="gpt-4.1-nano")  # spent: the fault failed exactly two requests
            sdk.admin.fail_next(error="server_error", model="gpt-4.1-nano", global_=True)
            assert sdk.admin.clear_faults(global_=True)["cleared"] >= 1
            assert sdk.admin.faults(global_=True) == []
            assert _ask(unscoped, "hi", model="gpt-4.1-nano")
            with pytest.raises(ValueError, match="not both"):
                sdk.admin.fail_next(error="rate_limit", test_id="other", global_=True)
        finally:
            sdk.admin.clear_faults(global_=True)  # a global fault outlives the test: never leave one armed


def test_the_global_opt_in_refuses_a_contradiction_or_a_bad_value(sim: SimulatorHandle) -> None:
    headers = {"authorization": f"Bearer {KEY}", **scope.headers("opt-in-bad")}
    fault = {"error_type": "rate_limit", "models": ["gpt-4.1-nano"]}
    with httpx.Client(base_url=sim.url, headers=headers) as http:
        both = http.post("/admin/faults", params={"scope": "x", "global": "true"}, json=fault)
        assert both.status_code == 400 and both.json()["error"]["param"] == "global"
        assert "not both" in both.json()["error"]["message"]
        # A scope named in the path contradicts the opt-in as ?scope= does; a bad value is refused there too.
        in_path = http.post("/admin/scopes/x/faults", params={"global": "true"}, json=fault)
        assert in_path.status_code == 400 and "not both" in in_path.json()["error"]["message"]
        assert http.get("/admin/scopes/x/faults", params={"global": "maybe"}).status_code == 400
        bad = http.get("/admin/faults", params={"global": "yes"})
        assert bad.status_code == 400 and "true or false" in bad.json()["error"]["message"]
        # ``global=false`` is the default: the header's scope.
        listed = http.get("/admin/faults", params={"global": "false"})
        assert listed.status_code == 200 and listed.json()["scope"] == "opt-in-bad"
    # Nothing was armed globally by the refused calls.
    with _sdk(sim, None) as unscoped:
        assert all(f["models"] != ["gpt-4.1-nano"] or f["remaining"] == 0 for f in unscoped.admin.faults())
