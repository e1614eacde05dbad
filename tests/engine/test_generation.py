"""Planning: lengths, limits, stop sequences, seeds and logprobs."""

from __future__ import annotations

import time

from llm_simulator.config import load_config
from llm_simulator.core.types import (
    Endpoint,
    FinishReason,
    GenerationRequest,
    Message,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
)
from llm_simulator.engine.generation import cut_at_stop, system_fingerprint
from llm_simulator.engine.simulator import Simulator


def sim_and_model(**flags: object) -> tuple[Simulator, object]:
    sim = Simulator(load_config(flags=flags))
    return sim, sim.resolve_model("gpt-4o", "openai")


def req(**kw: object) -> GenerationRequest:
    base: dict[str, object] = {
        "model": "gpt-4o",
        "endpoint": Endpoint.CHAT,
        "messages": (Message("user", "hello"),),
        "prompt_tokens": 5,
    }
    base.update(kw)
    return GenerationRequest(**base)  # type: ignore[arg-type]


def test_cut_at_stop_inside_and_between_units() -> None:
    assert cut_at_stop(["Hello", " world", "."], (".",)) == (["Hello", " world"], ".")
    assert cut_at_stop(["Hello", " world"], ("wor",)) == (["Hello", " "], "wor")
    assert cut_at_stop(["Hello", " world"], ("zzz",)) == (["Hello", " world"], None)
    assert cut_at_stop(["Hello"], ("H",)) == ([], "H")


def test_ignore_eos_gives_exactly_max_tokens() -> None:
    sim, model = sim_and_model(**{"generation.strategy": "fixed"})
    for max_tokens in (1, 7, 300):
        plan = sim.plan(req(max_tokens=max_tokens, ignore_eos=True), model, 3)  # type: ignore[arg-type]
        assert plan.completion_tokens == max_tokens
        assert plan.choices[0].finish_reason is FinishReason.LENGTH


def test_fixed_text_ends_naturally_with_stop() -> None:
    sim, model = sim_and_model(**{"generation.strategy": "fixed", "generation.fixed_text": "Just this."})
    plan = sim.plan(req(max_tokens=100), model, 3)  # type: ignore[arg-type]
    assert plan.choices[0].text == "Just this."
    assert plan.choices[0].finish_reason is FinishReason.STOP


def test_stop_sequence_reason_and_text() -> None:
    sim, model = sim_and_model(**{"generation.strategy": "fixed", "generation.fixed_text": "One two. Three"})
    plan = sim.plan(req(max_tokens=100, stop=(".",)), model, 1)  # type: ignore[arg-type]
    choice = plan.choices[0]
    assert choice.text == "One two"
    assert choice.finish_reason is FinishReason.STOP_SEQUENCE
    assert choice.stop_sequence == "."


def test_same_seed_same_plan_and_n_choices_differ() -> None:
    sim, model = sim_and_model()
    a = sim.plan(req(n=3, max_tokens=40), model, 99)  # type: ignore[arg-type]
    b = sim.plan(req(n=3, max_tokens=40), model, 99)  # type: ignore[arg-type]
    assert [c.text for c in a.choices] == [c.text for c in b.choices]
    assert len({c.text for c in a.choices}) == 3
    assert a.system_fingerprint == system_fingerprint("gpt-4o")


def test_run_seed_reproduces_request_sequence() -> None:
    def texts(seed: int | None) -> list[str]:
        sim, model = sim_and_model(seed=seed) if seed is not None else sim_and_model()
        return [sim.plan(req(max_tokens=20), model, sim.request_seed(None)).choices[0].text for _ in range(3)]  # type: ignore[arg-type]

    assert texts(5) == texts(5)
    assert texts(5) != texts(6)
    assert texts(None) != texts(None)


def test_logprobs_are_ordered_and_consistent() -> None:
    sim, model = sim_and_model()
    plan = sim.plan(req(max_tokens=60, logprobs=True, top_logprobs=5), model, 4)  # type: ignore[arg-type]
    choice = plan.choices[0]
    assert choice.logprobs is not None
    assert [lp.token for lp in choice.logprobs] == choice.tokens
    for lp in choice.logprobs:
        values = [v for _, v in lp.top]
        assert len(values) == 5 and values == sorted(values, reverse=True)
        assert len({tok for tok, _ in lp.top}) == 5
        assert lp.top[0] == (lp.token, lp.logprob) and lp.logprob <= 0


def test_output_length_capped_by_model_limit() -> None:
    sim = Simulator(load_config(flags={"models.add": [{"id": "tiny", "max_output_tokens": 4}]}))
    model = sim.resolve_model("tiny", "openai")
    assert model is not None
    plan = sim.plan(req(model="tiny", max_tokens=None), model, 1)
    assert plan.completion_tokens <= 4


def test_a_huge_reasoning_budget_costs_only_the_output_limit() -> None:
    sim, model = sim_and_model()
    started = time.perf_counter()
    plan = sim.plan(req(max_tokens=10, reasoning_budget=10**9), model, 1)  # type: ignore[arg-type]
    assert time.perf_counter() - started < 1.0
    (choice,) = plan.choices
    assert choice.reasoning_tokens == 10 and choice.finish_reason is FinishReason.LENGTH


def test_a_tool_call_cut_by_max_tokens_reports_only_what_was_emitted() -> None:
    sim, model = sim_and_model()
    tool = ToolSpec(
        "lookup",
        parameters={
            "type": "object",
            "properties": {"query": {"type": "string", "minLength": 40}},
            "required": ["query"],
        },
    )
    plan = sim.plan(req(max_tokens=3, tools=(tool,), tool_choice=ToolChoice(ToolChoiceMode.REQUIRED)), model, 2)  # type: ignore[arg-type]
    (choice,) = plan.choices
    assert choice.finish_reason is FinishReason.LENGTH
    (call,) = choice.tool_calls
    assert call.arguments == "".join(choice.tokens) and len(choice.tokens) == 3


def test_the_fingerprint_is_one_bounded_cache_around_the_digest() -> None:
    """Hashed once per model id, in one cache: not a cache of a cache (two bounded maps per id)."""
    assert system_fingerprint.cache_info().maxsize == 1024
    assert not hasattr(system_fingerprint.__wrapped__, "cache_info")
    assert system_fingerprint("m") == system_fingerprint("m") != system_fingerprint("n")
