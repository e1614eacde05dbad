"""engine.cpu: the token ceiling, the lower bound, running steps off the loop, the schema budget."""

from __future__ import annotations

import random
import threading

import pytest

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.engine import cpu
from llm_simulator.engine.schema import OffLoopNeeded, SchemaError, check_schema, generate, request_budget
from llm_simulator.engine.schema import api as schema_api
from llm_simulator.engine.schema import budget as budget_module
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.tokenizer import get_tokenizer


def _costly(i: int) -> dict[str, object]:
    return {"type": "object", "properties": {f"p{i}_{k}": {"type": "integer", "minimum": k} for k in range(20)}}


def _check_all(count: int) -> None:
    for i in range(count):
        check_schema(_costly(i))


def test_long_texts_count_exactly_through_the_buffer() -> None:
    tokenizer = get_tokenizer()
    rng = random.Random(7)
    alphabet = "ab cd\n\t<|endoftext|>é漢😀1234!?"
    for size in (5_000, 60_000):
        text = "".join(rng.choice(alphabet) for _ in range(size))
        assert tokenizer.count(text) == len(tokenizer.encode(text))


def test_max_token_bytes_comes_from_the_vocabulary() -> None:
    tokenizer = get_tokenizer()
    lengths = [len(tokenizer.token_bytes(i)) for i in range(199_998)]  # the ordinary tokens of o200k_base
    assert tokenizer.max_token_bytes == max(lengths) == 128


def test_tokens_at_least_is_a_lower_bound() -> None:
    tokenizer = get_tokenizer()
    for text in ("a" * 100_000, "漢字" * 20_000, "-" * 50_000, "hello world " * 5_000):
        floor = cpu.tokens_at_least(text, tokenizer.max_token_bytes)
        assert 0 < floor <= tokenizer.count(text)
    assert cpu.tokens_at_least("é" * 128, 128) == 2  # bytes, not characters


async def test_count_tokens_under_a_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(SimulatorConfig())
    long = "a" * 200_000
    # Under a ceiling the text is over by its bytes alone: the bound comes back, untokenised
    # (and is not remembered as the text's count).
    monkeypatch.setattr(sim.tokenizer, "count", lambda text: pytest.fail("tokenised"))
    assert await cpu.off_loop(False, 1000, sim.count_tokens, long) == 1563
    assert await cpu.off_loop(True, 1000, sim.count_tokens, long) == 1563
    monkeypatch.undo()
    # A ceiling the text may fit: counted exactly; and no ceiling leaks out of a step.
    exact = await cpu.off_loop(True, 30_000, sim.count_tokens, long)
    assert exact == 25_000 == sim.count_tokens(long)
    assert cpu.token_ceiling() is None
    # Once counted, a long text's count is remembered: under a ceiling it comes back as it
    # is (over the ceiling all the same), still without tokenising.
    monkeypatch.setattr(sim.tokenizer, "count", lambda text: pytest.fail("tokenised"))
    assert await cpu.off_loop(True, 1000, sim.count_tokens, long) == exact


async def test_off_loop_runs_heavy_steps_on_the_pool() -> None:
    here = threading.get_ident()
    assert await cpu.off_loop(False, None, threading.get_ident) == here
    assert await cpu.off_loop(True, None, threading.get_ident) != here
    with pytest.raises(ZeroDivisionError):
        await cpu.off_loop(True, None, divmod, 1, 0)


async def test_a_step_over_its_inline_budget_moves_off_the_loop() -> None:
    schema_api.clear_cache()
    here = threading.get_ident()
    ran: list[int] = []

    def step() -> None:
        ran.append(threading.get_ident())
        _check_all(10)

    await cpu.off_loop(False, None, step)
    assert ran[0] == here  # tried inline first,
    assert ran[-1] != here  # then run again on the pool with the full budget
    ran.clear()
    await cpu.off_loop(False, None, step)  # now cached: cheap, stays inline
    assert ran == [here]


def test_inline_budget_signals_and_the_full_one_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    schema_api.clear_cache()
    with request_budget(inline=True), pytest.raises(OffLoopNeeded):
        _check_all(10)
    monkeypatch.setattr(budget_module, "REQUEST_WORK", 3_000)
    schema_api.clear_cache()
    with request_budget(inline=False), pytest.raises(SchemaError, match="need too much work"):
        _check_all(10)
    # The refusal was the request's, not the schemas': each is fine on its own.
    _check_all(10)


def test_generation_under_a_spent_budget_falls_back_to_the_checked_instance() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    check_schema(schema)
    with request_budget(inline=False) as budget:
        budget.work = 0
        value = generate(schema, random.Random(3))
    assert isinstance(value, dict)
    assert isinstance(value["a"], int)
    with request_budget(inline=True) as budget:
        budget.work = 0
        with pytest.raises(OffLoopNeeded):
            generate(schema, random.Random(3))
