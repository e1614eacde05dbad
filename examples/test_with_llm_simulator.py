"""Testing an application that calls OpenAI, with the llm-simulator pytest plugin.

Installing llm-simulator is all the setup: pytest finds the plugin, and each test that asks
for ``llm_simulator`` (or ``openai_client``) gets a simulator of its own on a free port, with
no latency and every request it receives recorded. Run with ``pytest examples/``.

The application under test is ``SupportBot``: it answers a customer's question with one chat
completion and retries rate limits a few times, honouring the server's retry hint.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import openai
import pytest

from llm_simulator.testing import SimulatorHandle

# -- the application under test ------------------------------------------------------------

SYSTEM_PROMPT = "You are a concise support assistant for ACME."


class BotUnavailableError(Exception):
    """The model kept refusing: the bot tells the customer to come back later."""


class SupportBot:
    """Answers questions with one chat completion; retries 429s up to ``max_attempts`` times."""

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        model: str = "gpt-4o-mini",
        max_attempts: int = 3,
        backoff_s: float = 0.05,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.client = client
        self.model = model
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.sleep = sleep

    def answer(self, question: str) -> str:
        """The model's answer to ``question``."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                completion = self.client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": question},
                    ],
                    max_tokens=200,
                )
            except openai.RateLimitError as exc:
                if attempt == self.max_attempts:
                    raise BotUnavailableError("the assistant is busy, try again later") from exc
                hint = exc.response.headers.get("retry-after")
                self.sleep(float(hint) if hint else self.backoff_s * 2 ** (attempt - 1))
            else:
                return completion.choices[0].message.content or ""
        raise AssertionError("unreachable")


# -- the tests -----------------------------------------------------------------------------


def test_answers_a_question(llm_simulator: SimulatorHandle, openai_client: openai.OpenAI) -> None:
    """A plain answer, and the request the application sent, as the simulator received it."""
    bot = SupportBot(openai_client)

    assert bot.answer("Where is my parcel?")

    # What did the application actually send?
    (request,) = llm_simulator.requests()
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "gpt-4o-mini"
    assert request["body"]["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert request["body"]["messages"][1]["content"] == "Where is my parcel?"


def test_a_scripted_reply(llm_simulator: SimulatorHandle, openai_client: openai.OpenAI) -> None:
    """A fixture scripts the exact reply for matching questions, for one block."""
    bot = SupportBot(openai_client)
    refunds = {
        "rules": [
            {
                "match": {"message": {"contains": "refund", "ignore_case": True}},
                "respond": {"text": "Refunds take 5 business days."},
            }
        ]
    }

    with llm_simulator.fixtures(refunds):
        assert bot.answer("When do I get my REFUND?") == "Refunds take 5 business days."
        assert bot.answer("Where is my parcel?") != "Refunds take 5 business days."

    # Outside the block the fixture is gone.
    assert bot.answer("When do I get my refund?") != "Refunds take 5 business days."


@pytest.mark.llm_simulator(config={"generation.strategy": "echo"})
def test_configured_per_test(openai_client: openai.OpenAI) -> None:
    """The marker configures this test's simulator: the echo strategy answers with the question."""
    assert SupportBot(openai_client).answer("ping") == "ping"


def test_recovers_from_one_rate_limit(llm_simulator: SimulatorHandle, openai_client: openai.OpenAI) -> None:
    """One scripted 429 (``times: 1``), then normal answers: the bot retries once and succeeds."""
    waits: list[float] = []
    bot = SupportBot(openai_client, sleep=waits.append)
    once = {"rules": [{"times": 1, "respond": {"error": {"status": 429, "message": "Slow down."}}}]}

    with llm_simulator.fixtures(once):
        assert bot.answer("Where is my parcel?")

    assert [r["status"] for r in llm_simulator.requests()] == [429, 200]
    assert len(waits) == 1


def test_gives_up_during_a_rate_limit_storm(llm_simulator: SimulatorHandle, openai_client: openai.OpenAI) -> None:
    """Chaos fails every request in the block: the bot retries, honours the hint, then gives up."""
    waits: list[float] = []
    bot = SupportBot(openai_client, sleep=waits.append)

    # Every chat request fails with a 429 and `retry-after: 2` while the block runs.
    with llm_simulator.chaos(error_type="rate_limit", retry_after_s=2), pytest.raises(BotUnavailableError):
        bot.answer("Where is my parcel?")

    assert waits == [2.0, 2.0]  # the bot honoured the server's hint between its 3 attempts
    received = llm_simulator.requests()
    assert [r["status"] for r in received] == [429, 429, 429]
    assert {r["error_type"] for r in received} == {"rate_limit"}

    # Chaos ended with the block.
    assert bot.answer("Where is my parcel?")
