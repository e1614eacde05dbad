"""Plans a response: picks its length, writes its text, applies stop sequences and limits.

Everything is decided before the first byte is sent, from a per-request RNG, so a streamed
and a non-streamed response with the same seed carry the same text, and ``usage`` is simply
the number of units planned.
"""

from __future__ import annotations

import functools
import hashlib
import random

from llm_simulator._version import __version__
from llm_simulator.config.distributions import DistributionSpec
from llm_simulator.core.types import (
    ChoicePlan,
    FinishReason,
    GenerationPlan,
    GenerationRequest,
    OutputKind,
    ScriptedReply,
    Segment,
    SegmentKind,
    TokenLogprob,
    ToolCall,
    ToolSpec,
)
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.latency.distributions import Sampler, build_sampler
from llm_simulator.engine.prompt_json import PromptJson, requested
from llm_simulator.engine.textgen.strategies import PieceCache, TextStrategy
from llm_simulator.engine.textgen.words import COMMON_WORDS, LOREM_WORDS
from llm_simulator.engine.tokenizer import Tokenizer
from llm_simulator.engine.tooling import call_id, choose_tools, structured_text, tool_call


# Every answer of a model carries its fingerprint: hashed once per model id (ids come from
# callers, so the cache is bounded), not once per request (≈ 3 % of a small one).
@functools.lru_cache(maxsize=1024)
def system_fingerprint(model: str) -> str:
    """A stable ``fp_…`` identifying the simulated backend configuration of ``model``."""
    return "fp_" + hashlib.blake2b(f"{model}/{__version__}".encode(), digest_size=5).hexdigest()


def cut_at_stop(units: list[str], stops: tuple[str, ...]) -> tuple[list[str], str | None]:
    """Cut ``units`` before the earliest stop sequence; returns the kept units and the stop.

    The stop text itself is not returned (as the providers do). When the stop begins inside
    a unit, that unit's prefix is kept as the last unit. No stops: ``units`` as they are
    (``Planner._choice`` calls it only when there are stops).
    """
    text = "".join(units)
    best: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, stop)
    if best is None:
        return units, None
    cut, stop = best
    kept: list[str] = []
    pos = 0
    for unit in units:
        end = pos + len(unit)
        if end <= cut:
            kept.append(unit)
        else:
            if cut > pos:
                kept.append(unit[: cut - pos])
            break
        pos = end
    return kept, stop


# Share of the reasoning budget a response uses at least (uniformly up to all of it).
REASONING_MIN_SHARE = 0.4


def override(plan: GenerationPlan, reply: ScriptedReply) -> None:
    """Apply a fixture's overrides of what the response reports: fingerprint, finish, output usage.

    A finish reason given with generated content (no ``text``, ``tool_calls`` or ``parts``)
    replaces every choice's; with ordered parts it was already used by the layout. The
    response id, model and input usage are applied earlier (the request carries them).
    """
    if reply.system_fingerprint is not None:
        plan.system_fingerprint = reply.system_fingerprint
    if reply.finish is not None and not reply.parts:
        for choice in plan.choices:
            choice.finish_reason = reply.finish
    if reply.usage is not None and reply.usage.output_tokens is not None:
        plan.completion_tokens = reply.usage.output_tokens


class Planner:
    """Turns a ``GenerationRequest`` into a ``GenerationPlan``."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        strategy: TextStrategy,
        filler: TextStrategy,
        output_tokens: DistributionSpec,
        pieces: PieceCache,
        *,
        tool_call_probability: float = 0.8,
        max_parallel_tool_calls: int = 3,
        answer_after_tool_result: bool = True,
    ) -> None:
        self._tool_probability = tool_call_probability
        self._max_parallel = max_parallel_tool_calls
        self._answer_after_tool_result = answer_after_tool_result
        self._tokenizer = tokenizer
        self._strategy = strategy
        self._filler = filler
        self._default_length = build_sampler(output_tokens)
        self._model_lengths: dict[str, Sampler] = {}
        # Output lengths an adapter set at run time (the observatory), over the model's own.
        self._observed_lengths: dict[str, Sampler] = {}
        self._pieces = pieces

    @functools.cached_property
    def _alternatives(self) -> tuple[str, ...]:
        """Units offered as logprob alternatives: the first unit of every known word (built on first use)."""
        units = self._pieces.units
        return tuple(dict.fromkeys(unit for word in LOREM_WORDS + COMMON_WORDS for unit in units(" " + word)[:1]))

    def warm(self) -> None:
        """Build what the first request would otherwise wait for: the tokenizer, pools, alternatives."""
        self._tokenizer.load()
        for strategy in (self._strategy, self._filler):
            warm = getattr(strategy, "warm", None)
            if warm is not None:
                warm()
        _ = self._alternatives

    def set_output_tokens(self, model_id: str, spec: DistributionSpec | None) -> None:
        """Draw natural output lengths of ``model_id`` from ``spec`` from now on; None undoes it."""
        if spec is None:
            self._observed_lengths.pop(model_id, None)
        else:
            self._observed_lengths[model_id] = build_sampler(spec)

    def _length_sampler(self, model: ModelSpec) -> Sampler:
        if self._observed_lengths and model.id in self._observed_lengths:
            return self._observed_lengths[model.id]
        if model.output_tokens is None:
            return self._default_length
        sampler = self._model_lengths.get(model.id)
        if sampler is None:
            sampler = self._model_lengths[model.id] = build_sampler(model.output_tokens)
        return sampler

    def plan(self, request: GenerationRequest, model: ModelSpec, rng: random.Random) -> GenerationPlan:
        """Decide every choice's text, tool calls, finish reason and (if asked) logprobs."""
        limit = min(request.max_tokens or model.max_output_tokens, model.max_output_tokens)
        sample_length = self._length_sampler(model)
        probability = self._tool_probability if model.tool_call_probability is None else model.tool_call_probability
        choices = []
        scripted = request.scripted
        # The JSON the prompt asks for (text and json_object answers; see ``prompt_json``).
        kind = request.output.kind
        prompted = (
            requested(request.messages, kind is OutputKind.JSON_OBJECT)
            if (kind is OutputKind.TEXT or kind is OutputKind.JSON_OBJECT)
            and (scripted is None or not scripted.has_content)
            else None
        )
        for index in range(request.n):
            if scripted is not None and scripted.has_content:
                if scripted.parts:
                    choices.append(self._scripted_parts(index, scripted, limit, rng))
                else:
                    choices.append(self._scripted(index, scripted, request, limit, rng))
            else:
                choices.append(self._choice(index, request, limit, sample_length, probability, rng, prompted))
        plan = GenerationPlan(request=request, choices=choices, system_fingerprint=system_fingerprint(model.id))
        if scripted is not None:
            override(plan, scripted)
        return plan

    def _choice(
        self,
        index: int,
        request: GenerationRequest,
        limit: int,
        sample_length: Sampler,
        tool_probability: float,
        rng: random.Random,
        prompted: PromptJson | None = None,
    ) -> ChoicePlan:
        # Reasoning comes first and counts against the output limit, as with the real
        # reasoning models: a budget spent on thinking leaves an empty, "length" answer.
        # (The common choice has no reasoning budget, no tools and no stop sequences: none
        # of those steps is called, and none would have drawn from the RNG; each step
        # leaves that test to its caller.)
        reasoning: list[str] = []
        if request.reasoning_budget:
            reasoning = self._reasoning_units(request, rng, limit)
            if len(reasoning) >= limit:
                return ChoicePlan(
                    index, reasoning, FinishReason.LENGTH, segments=[Segment(SegmentKind.REASONING, 0, limit)]
                )
        room = limit - len(reasoning)
        if request.tools:
            tools = choose_tools(
                request,
                rng,
                probability=tool_probability,
                max_parallel=self._max_parallel,
                answer_after_tool_result=self._answer_after_tool_result,
            )
            if tools:
                return self._tool_calls(index, reasoning, tools, room, rng)
        if request.output.kind is OutputKind.TEXT and prompted is None:
            target = room if request.ignore_eos else max(1, min(room, round(sample_length(rng))))
            units = self._strategy.compose(request.messages, rng, target)
            if not self._strategy.bounded:
                units = units[:target]
            while request.ignore_eos and len(units) < target:
                units.extend(self._filler.compose(request.messages, rng, target - len(units)))
        else:
            units = self._tokenizer.split(structured_text(request.output, rng, prompted))
        units, stop = cut_at_stop(units, request.stop) if request.stop else (units, None)
        if stop is not None and len(units) <= room:
            reason = FinishReason.STOP_SEQUENCE
        elif len(units) >= room:
            units = units[:room]
            reason = FinishReason.LENGTH
        else:
            reason = FinishReason.STOP
        logprobs = self._logprobs(units, request.top_logprobs, rng) if request.logprobs else None
        if not reasoning:  # the common choice: its units are its tokens, one text segment
            return ChoicePlan(index, units, reason, stop, logprobs, [])
        segments = [
            Segment(SegmentKind.REASONING, 0, len(reasoning)),
            Segment(SegmentKind.TEXT, len(reasoning), len(reasoning) + len(units)),
        ]
        return ChoicePlan(
            index=index,
            tokens=reasoning + units,
            finish_reason=reason,
            stop_sequence=stop,
            logprobs=logprobs,
            segments=segments,
        )

    def _scripted(
        self, index: int, reply: ScriptedReply, request: GenerationRequest, limit: int, rng: random.Random
    ) -> ChoicePlan:
        """A choice with a fixture's text and tool calls, cut by stop sequences and the token limit.

        A stop sequence in the text ends the choice there (the calls after it are never
        made); text that exactly fills the limit ends naturally; tool call arguments cut by
        the limit are truncated JSON, as with generated calls. Scripted replies carry no
        hidden reasoning.
        """
        units = self._tokenizer.split(reply.text) if reply.text else []
        units, stop = cut_at_stop(units, request.stop)
        reason = FinishReason.STOP_SEQUENCE if stop is not None else FinishReason.STOP
        if len(units) > limit:
            units = units[:limit]
            reason = FinishReason.LENGTH
        logprobs = self._logprobs(units, request.top_logprobs, rng) if request.logprobs else None
        if not reply.tool_calls or reason is not FinishReason.STOP:
            return ChoicePlan(index, units, reason, stop_sequence=stop, logprobs=logprobs)
        tokens = list(units)
        segments = [Segment(SegmentKind.TEXT, 0, len(units))] if units else []
        reason = FinishReason.TOOL_CALLS
        for scripted in reply.tool_calls:
            call = ToolCall(call_id(rng), scripted.name, scripted.arguments)
            arguments = self._tokenizer.split(call.arguments)
            if len(tokens) + len(arguments) > limit:
                arguments = arguments[: limit - len(tokens)]
                reason = FinishReason.LENGTH
            self._add_call(tokens, segments, call, arguments)
            if reason is FinishReason.LENGTH:
                break
        if reason is FinishReason.TOOL_CALLS and not any(seg.tool_call for seg in segments):
            reason = FinishReason.STOP  # every scripted call had empty arguments
        return ChoicePlan(index, tokens, reason, logprobs=logprobs, segments=segments)

    def _scripted_parts(self, index: int, reply: ScriptedReply, limit: int, rng: random.Random) -> ChoicePlan:
        """A choice laid out from a reply's ordered parts, sent as written (no stop sequences).

        The token limit still cuts it (finish ``length``; a call cut short keeps truncated
        JSON); otherwise the finish is the reply's, else ``tool_calls`` when a call was made.
        A part with no tokens is dropped, except that a reply of nothing at all is one empty
        text (an empty answer).
        """
        tokens: list[str] = []
        segments: list[Segment] = []
        cut = False
        for part in reply.parts:
            text = part.call.arguments if part.call is not None else part.text
            units = self._tokenizer.split(text) if text else []
            if len(tokens) + len(units) > limit:
                units = units[: limit - len(tokens)]
                cut = True
            if part.call is not None:
                call = ToolCall(part.call.id or call_id(rng), part.call.name, part.call.arguments)
                self._add_call(tokens, segments, call, units)
            elif units:
                segments.append(Segment(part.kind, len(tokens), len(tokens) + len(units)))
                tokens.extend(units)
            if cut:
                break
        if not segments:
            segments.append(Segment(SegmentKind.TEXT, 0, 0))
        if cut:
            reason = FinishReason.LENGTH
        elif reply.finish is not None:
            reason = reply.finish
        else:
            reason = FinishReason.TOOL_CALLS if any(s.tool_call for s in segments) else FinishReason.STOP
        return ChoicePlan(index, tokens, reason, segments=segments)

    def _reasoning_units(self, request: GenerationRequest, rng: random.Random, limit: int) -> list[str]:
        """The hidden reasoning of a request with a reasoning budget: a share of it, within ``limit``."""
        # Never compose more than the output limit allows: a huge budget must cost nothing.
        count = min(limit, max(1, round(request.reasoning_budget * rng.uniform(REASONING_MIN_SHARE, 1.0))))
        units = self._filler.compose(request.messages, rng, count)[:count]
        while len(units) < count:
            units.extend(self._filler.compose(request.messages, rng, count - len(units)))
        return units[:count]

    def _tool_calls(
        self, index: int, reasoning: list[str], tools: list[ToolSpec], room: int, rng: random.Random
    ) -> ChoicePlan:
        """A choice that ends in tool calls: each call's arguments JSON streamed as its tokens."""
        tokens = list(reasoning)
        segments = [Segment(SegmentKind.REASONING, 0, len(reasoning))] if reasoning else []
        reason = FinishReason.TOOL_CALLS
        for tool in tools:
            call = tool_call(tool, rng)
            units = self._tokenizer.split(call.arguments)
            left = len(reasoning) + room - len(tokens)
            if len(units) > left:
                # Cut by max tokens: the arguments are truncated JSON, as with the real API.
                units = units[:left]
                reason = FinishReason.LENGTH
            self._add_call(tokens, segments, call, units)
            if reason is FinishReason.LENGTH:
                break
        return ChoicePlan(index=index, tokens=tokens, finish_reason=reason, segments=segments)

    @staticmethod
    def _add_call(tokens: list[str], segments: list[Segment], call: ToolCall, units: list[str]) -> None:
        """Append a call whose arguments are ``units`` (what is streamed is what is reported).

        A call with no argument tokens at all (cut before it began, or scripted with empty
        arguments) is dropped: a stream could not announce it, so no response shows it.
        """
        if not units:
            return
        call.arguments = "".join(units)
        start = len(tokens)
        tokens.extend(units)
        segments.append(Segment(SegmentKind.TOOL_CALL, start, len(tokens), call))

    def _logprobs(self, units: list[str], top: int, rng: random.Random) -> list[TokenLogprob]:
        """Plausible log-probabilities: the emitted token is always the most likely one.

        The chosen token's logprob is −Exp(mean 0.35) (most tokens are confident); each
        alternative is less likely than the previous by −Exp(mean 1.5).
        """
        out: list[TokenLogprob] = []
        alternatives = self._alternatives
        for unit in units:
            lp = -rng.expovariate(1 / 0.35)
            entries: list[tuple[str, float]] = []
            if top:
                entries.append((unit, lp))
                current = lp
                # Distinct alternatives, never the emitted token itself.
                picks = rng.sample(alternatives, min(top, len(alternatives)))
                for alt in [a for a in picks if a != unit][: top - 1]:
                    current -= rng.expovariate(1 / 1.5)
                    entries.append((alt, current))
            out.append(TokenLogprob(unit, lp, tuple(entries)))
        return out
