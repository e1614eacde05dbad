"""``POST /v1/completions`` (legacy): prompts as text or token ids, echo, int logprobs."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.sse import sse_frame
from llm_simulator.core.types import (
    ChoicePlan,
    Endpoint,
    FinishEvent,
    FinishReason,
    GenerationPlan,
    GenerationRequest,
    Message,
    TokenLogprob,
)
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.openai.common import (
    MALFORMED_TEXT_CHUNK,
    check_limits,
    legacy_usage,
    new_id,
    parse_stream_options,
    require_generation_model,
    require_model,
    response_headers,
    stream_headers,
)
from llm_simulator.providers.openai.errors import stream_error_frame
from llm_simulator.providers.openai.ratelimits import limit_headers
from llm_simulator.providers.pipeline import serve_generation
from llm_simulator.providers.validation import (
    JsonObject,
    get_bool,
    get_int,
    get_number,
    get_stop,
    get_str,
    missing,
    parse_object,
    type_error,
)

DEFAULT_MAX_TOKENS = 16
FINISH = {
    FinishReason.STOP: "stop",
    FinishReason.STOP_SEQUENCE: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "stop",  # the legacy API has no tools: a scripted call is not sent
    FinishReason.REFUSAL: "content_filter",
}


@dataclass(slots=True)
class Prompt:
    """One prompt: its text, its tokens as units (for echo logprobs) and its count."""

    text: str
    tokens: int


def _is_token_list(value: list[Any]) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def parse_prompts(sim: Simulator, body: JsonObject) -> list[Prompt]:
    """Normalise ``prompt``: a string, strings, token ids, or lists of token ids."""
    if "prompt" not in body or body["prompt"] is None:
        raise missing("prompt")
    raw = body["prompt"]
    vocab = sim.tokenizer.vocab_size
    if isinstance(raw, str):
        return [Prompt(raw, sim.count_tokens(raw))]
    if not isinstance(raw, list):
        raise type_error("prompt", "a string, an array of strings, or token ids", raw)
    if not raw:
        raise invalid(
            "Invalid 'prompt': empty array. Expected at least one prompt.", param="prompt", code="empty_array"
        )
    if _is_token_list(raw):
        return [_token_prompt(sim, raw, "prompt", vocab)]
    prompts: list[Prompt] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            prompts.append(Prompt(item, sim.count_tokens(item)))
        elif isinstance(item, list) and _is_token_list(item):
            prompts.append(_token_prompt(sim, item, f"prompt[{i}]", vocab))
        else:
            raise type_error(f"prompt[{i}]", "a string or an array of token ids", item)
    return prompts


def _token_prompt(sim: Simulator, ids: list[int], param: str, vocab: int) -> Prompt:
    for token in ids:
        if not 0 <= token < vocab:
            raise invalid(f"Invalid token id {token} in '{param}': ids must be in [0, {vocab}).", param=param)
    return Prompt(sim.tokenizer.decode(ids), len(ids))


@dataclass(slots=True)
class LegacyOptions:
    """What the legacy renderer needs beyond the plan."""

    echo: bool
    logprobs: int | None
    prompts: list[Prompt]
    n: int

    def prompt_of(self, choice_index: int) -> Prompt:
        """The prompt a choice answers (choices are grouped by prompt, n per prompt)."""
        return self.prompts[choice_index // self.n]


ECHO_LOGPROB = -0.5


def _top_map(entries: tuple[tuple[str, float], ...]) -> dict[str, float]:
    """A legacy ``{token: logprob}`` map; the first (most likely) entry of a token wins.

    ``dict(entries)`` would let a later, less likely duplicate overwrite the chosen token.
    """
    top: dict[str, float] = {}
    for token, value in entries:
        top.setdefault(token, value)
    return top


def _legacy_logprobs(
    sim: Simulator,
    units: list[str],
    lps: list[TokenLogprob] | None,
    echo_prompt: str | None,
    start: int,
    k: int,
) -> dict[str, Any]:
    """The legacy ``logprobs`` object: parallel arrays of tokens, logprobs, tops and offsets.

    Echoed prompt tokens come first; the very first has no logprob (``null``), as in the
    real API.
    """
    tokens: list[str] = []
    token_logprobs: list[float | None] = []
    top: list[dict[str, float] | None] = []
    if echo_prompt:
        for i, unit in enumerate(sim.tokenizer.split(echo_prompt)):
            tokens.append(unit)
            token_logprobs.append(None if i == 0 else ECHO_LOGPROB)
            top.append(None if i == 0 else ({unit: ECHO_LOGPROB} if k else {}))
    for unit, lp in zip(units, lps or [], strict=False):
        tokens.append(unit)
        token_logprobs.append(lp.logprob)
        top.append(_top_map(lp.top))
    offsets = []
    pos = start
    for token in tokens:
        offsets.append(pos)
        pos += len(token)
    return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top, "text_offset": offsets}


def render_completion(sim: Simulator, plan: GenerationPlan, options: LegacyOptions, cid: str, created: int) -> bytes:
    """The non-streamed ``text_completion`` object."""
    choices = []
    for choice in plan.choices:
        prompt = options.prompt_of(choice.index).text if options.echo else ""
        logprobs = None
        if options.logprobs is not None:
            logprobs = _legacy_logprobs(sim, choice.tokens, choice.logprobs, prompt, 0, options.logprobs)
        choices.append(
            {
                "text": prompt + choice.text,
                "index": choice.index,
                "logprobs": logprobs,
                "finish_reason": FINISH[choice.finish_reason],
            }
        )
    prompt_tokens = sum(p.tokens for p in options.prompts)
    return orjson.dumps(
        {
            "id": cid,
            "object": "text_completion",
            "created": created,
            "model": plan.request.model,
            "system_fingerprint": plan.system_fingerprint,
            "choices": choices,
            "usage": legacy_usage(prompt_tokens, plan.completion_tokens),
        }
    )


async def stream_frames(
    sim: Simulator,
    plan: GenerationPlan,
    timeline: Timeline,
    options: LegacyOptions,
    cid: str,
    created: int,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """SSE frames of a legacy completion stream."""
    envelope = {
        "id": cid,
        "object": "text_completion",
        "created": created,
        "model": plan.request.model,
        "system_fingerprint": plan.system_fingerprint,
    }

    def frame(choice: dict[str, Any]) -> bytes:
        body: dict[str, Any] = {**envelope, "choices": [choice]}
        if include_usage:
            body["usage"] = None
        return sse_frame(orjson.dumps(body))

    echoed: set[int] = set()
    offsets = [0] * len(plan.choices)
    async for event in sim.stream(plan, timeline):
        index = event.choice
        if options.echo and index not in echoed:
            echoed.add(index)
            prompt = options.prompt_of(index).text
            lp = _legacy_logprobs(sim, [], None, prompt, 0, options.logprobs) if options.logprobs is not None else None
            offsets[index] = len(prompt)
            yield frame({"text": prompt, "index": index, "logprobs": lp, "finish_reason": None})
        if isinstance(event, FinishEvent):
            yield frame({"text": "", "index": index, "logprobs": None, "finish_reason": FINISH[event.reason]})
            continue
        lp = None
        if options.logprobs is not None:
            choice_lps = plan.choices[index].logprobs
            token_lp = [choice_lps[event.position]] if choice_lps else None
            lp = _legacy_logprobs(sim, [event.text], token_lp, None, offsets[index], options.logprobs)
        offsets[index] += len(event.text)
        yield frame({"text": event.text, "index": index, "logprobs": lp, "finish_reason": None})
    if include_usage:
        prompt_tokens = sum(p.tokens for p in options.prompts)
        usage = legacy_usage(prompt_tokens, plan.completion_tokens)
        yield sse_frame(orjson.dumps({**envelope, "choices": [], "usage": usage}))
    yield sse_frame(b"[DONE]")


async def handle(sim: Simulator, request: HttpRequest) -> Response:
    """Serve one legacy completion request."""
    return await serve(sim, request, parse_object(request.body))


async def serve(sim: Simulator, request: HttpRequest, body: JsonObject) -> Response:
    """Serve a legacy completion request whose body is already parsed (Azure rewrites its model first)."""
    started = time.monotonic()
    model_id, spec = require_model(sim, body)
    heavy = is_heavy(request)
    prompts = await off_loop(heavy, spec.context_window, parse_prompts, sim, body)
    require_generation_model(model_id, spec, "completions")
    max_tokens = get_int(body, "max_tokens", minimum=1)
    limit = max_tokens if max_tokens is not None else min(DEFAULT_MAX_TOKENS, spec.max_output_tokens)
    n = get_int(body, "n", minimum=1, maximum=128) or 1
    best_of = get_int(body, "best_of", minimum=1, maximum=20)
    if best_of is not None and best_of < n:
        raise invalid("best_of must be greater than or equal to n.", param="best_of")
    if len(prompts) * n > 128:
        raise invalid("Too many choices: the number of prompts times n must be at most 128.", param="n")
    logprobs = get_int(body, "logprobs", minimum=0, maximum=5)
    echo = get_bool(body, "echo")
    get_str(body, "suffix")
    get_number(body, "temperature", minimum=0, maximum=2)
    get_number(body, "top_p", minimum=0, maximum=1)
    stream = get_bool(body, "stream")
    include_usage = parse_stream_options(body, stream)
    stop = get_stop(body, "stop")
    seed = get_int(body, "seed")
    ignore_eos = get_bool(body, "ignore_eos")
    for prompt in prompts:
        check_limits(model_id, spec, prompt.tokens, limit, "max_tokens", "prompt")

    # One request as admission and fixtures see it: every prompt, every choice of each.
    gen = GenerationRequest(
        model=model_id,
        endpoint=Endpoint.COMPLETION,
        messages=tuple(Message("user", p.text) for p in prompts),
        prompt_tokens=sum(p.tokens for p in prompts),
        max_tokens=limit,
        n=n * len(prompts),
        stop=stop,
        seed=seed,
        ignore_eos=ignore_eos,
        logprobs=logprobs is not None,
        top_logprobs=logprobs or 0,
    )
    options = LegacyOptions(echo=echo, logprobs=logprobs, prompts=prompts, n=n)
    answer = CompletionAnswer(sim, request, started, options, include_usage)
    return await serve_generation(sim, request, gen, spec, answer, stream=stream, heavy=heavy, planner=answer.plan)


class CompletionAnswer:
    """How a legacy completion is planned (each prompt on its own) and answered."""

    __slots__ = ("_created", "_id", "_include_usage", "_options", "_request", "_sim", "_started")

    provider = "openai"
    limit_headers = staticmethod(limit_headers)

    def __init__(
        self, sim: Simulator, request: HttpRequest, started: float, options: LegacyOptions, include_usage: bool
    ) -> None:
        self._sim = sim
        self._request = request
        self._started = started
        self._options = options
        self._include_usage = include_usage
        self._id = ""
        self._created = 0

    def seed_identity(self, gen: GenerationRequest) -> tuple[object, ...]:
        """Model, the prompts' texts, ``n`` and ``max_tokens``."""
        return gen.model, [p.text for p in self._options.prompts], self._options.n, gen.max_tokens

    def plan(
        self, gen: GenerationRequest, spec: ModelSpec, base_seed: int, record: RequestRecord | None
    ) -> GenerationPlan:
        """Each prompt planned on its own (seed ``base_seed`` + its index), its choices numbered on."""
        n = self._options.n
        choices: list[ChoicePlan] = []
        fingerprint = ""
        for p_index, prompt in enumerate(self._options.prompts):
            sub_gen = dataclasses.replace(
                gen, messages=(Message("user", prompt.text),), prompt_tokens=prompt.tokens, n=n, admission=None
            )
            sub = self._sim.plan(sub_gen, spec, base_seed + p_index, record)
            fingerprint = sub.system_fingerprint
            for choice in sub.choices:
                choice.index = p_index * n + choice.index
                choices.append(choice)
        first = GenerationRequest(
            model=gen.model,
            endpoint=Endpoint.COMPLETION,
            messages=(),
            prompt_tokens=gen.prompt_tokens,
            admission=gen.admission,
            scripted=gen.scripted,
        )
        return GenerationPlan(request=first, choices=choices, system_fingerprint=fingerprint, record=record)

    def begin(self, plan: GenerationPlan) -> None:
        """The completion's id and creation time."""
        self._id = new_id("cmpl-")
        self._created = int(self._sim.clock.wall())

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """``text_completion`` chunks, then ``[DONE]``."""
        return StreamResponse(
            stream_frames(self._sim, plan, timeline, self._options, self._id, self._created, self._include_usage),
            stream_headers(self._request, plan.request.model),
            stream_error_frame,
            malformed=MALFORMED_TEXT_CHUNK,
        )

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """The ``text_completion`` body."""
        body = render_completion(self._sim, plan, self._options, self._id, self._created)
        return JsonResponse(200, body, response_headers(self._request, self._started, plan.request.model))
