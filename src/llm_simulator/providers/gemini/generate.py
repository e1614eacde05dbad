"""``:generateContent``, ``:streamGenerateContent`` and ``:countTokens``.

A streamed response is a sequence of complete ``GenerateContentResponse`` objects, each
holding only the new text; the chunk that ends a candidate carries its ``finishReason``,
and the last one the full ``usageMetadata`` (earlier ones repeat the prompt count, as the
API does). With ``alt=sse`` each is one ``data:`` line and nothing else (the SDK rejects
any other SSE field); without it the body is one JSON array streamed element by element.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.core.plain import PlainTokens
from llm_simulator.core.sse import DATA, END, sse_frame
from llm_simulator.core.types import (
    Endpoint,
    GenerationPlan,
    GenerationRequest,
)
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.admission import no_limit_headers
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.gemini.body import prompt_details, render_response
from llm_simulator.providers.gemini.chunks import (
    MALFORMED_CHUNK,
    ArrayStream,
    CandidateTokens,
    ChunkWriter,
    stream_chunks,
)
from llm_simulator.providers.gemini.common import json_headers, new_response_id
from llm_simulator.providers.gemini.contents import ends_with_function_response, parse_contents, parse_system
from llm_simulator.providers.gemini.errors import sse_error_frame
from llm_simulator.providers.gemini.settings import check_generation_settings, check_safety_settings, check_tool_config
from llm_simulator.providers.gemini.tools import parse_output, parse_tool_config, parse_tools, thinking_budget
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.pipeline import fixed_id, serve_generation
from llm_simulator.providers.seeding import header_seed
from llm_simulator.providers.validation import JsonObject, parse_object, preview

MAX_CANDIDATES = 8
MAX_STOP_SEQUENCES = 5

REQUEST_FIELDS = (
    "model",
    "continuationToken",
    "contents",
    "systemInstruction",
    "generationConfig",
    "safetySettings",
    "tools",
    "toolConfig",
    "labels",
    "cachedContent",
    "serviceTier",
    "store",
)
CONFIG_FIELDS = (
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "responseLogprobs",
    "logprobs",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "mediaResolution",
    "speechConfig",
    "thinkingConfig",
    "imageConfig",
    "enableEnhancedCivicAnswers",
    "audioTranscriptionConfig",
    "enableAffectiveDialog",
)
CONFIG = "generation_config"


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """A parsed generate request: the neutral request and whether thoughts are returned."""

    request: GenerationRequest
    include_thoughts: bool


def _stop_sequences(config: JsonObject) -> tuple[str, ...]:
    raw = fields.get_list(config, "stopSequences", f"{CONFIG}.stop_sequences")
    if raw is None:
        return ()
    if len(raw) > MAX_STOP_SEQUENCES:
        raise invalid(
            f"* GenerateContentRequest.{CONFIG}.stop_sequences: at most {MAX_STOP_SEQUENCES} stop sequences "
            f"are allowed, got {len(raw)}.",
            param=f"{CONFIG}.stop_sequences",
        )
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            raise invalid(
                f"Invalid value at '{CONFIG}.stop_sequences[{i}]' (TYPE_STRING), {preview(item)}",
                param=f"{CONFIG}.stop_sequences",
            )
    return tuple(s for s in raw if s)


# A generationConfig of only these fields, each a plain int in its range (the usual one),
# needs none of the per-field checks: ``_plain_config`` reads it at once.
PLAIN_CONFIG = frozenset({"maxOutputTokens", "candidateCount", "seed"})

GenerationConfig = tuple[int | None, int, tuple[str, ...], int | None]


def _plain_config(config: JsonObject, spec: ModelSpec) -> GenerationConfig | None:
    """``_generation_config``'s result for a plain config (see ``PLAIN_CONFIG``); None: check it field by field."""
    if not PLAIN_CONFIG.issuperset(config):
        return None
    max_tokens, count, seed = config.get("maxOutputTokens"), config.get("candidateCount"), config.get("seed")
    if max_tokens is not None and not (type(max_tokens) is int and 1 <= max_tokens <= spec.max_output_tokens):
        return None
    if count is not None and not (type(count) is int and 1 <= count <= MAX_CANDIDATES):
        return None
    if seed is not None and not (type(seed) is int and fields.INT32_MIN <= seed <= fields.INT32_MAX):
        return None
    return max_tokens, count or 1, (), seed


def _generation_config(body: JsonObject, spec: ModelSpec) -> GenerationConfig:
    """``maxOutputTokens``, ``candidateCount``, ``stopSequences`` and ``seed``, validated."""
    config = fields.get_object(body, "generationConfig", CONFIG)
    if config is None:
        return None, 1, (), None
    plain = _plain_config(config, spec)
    if plain is not None:
        return plain
    fields.check_known(config, CONFIG_FIELDS, CONFIG)
    temperature = fields.get_float(config, "temperature", f"{CONFIG}.temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        raise invalid(
            f"* GenerateContentRequest.{CONFIG}.temperature: temperature must be between 0 and 2, got {temperature}.",
            param=f"{CONFIG}.temperature",
        )
    top_p = fields.get_float(config, "topP", f"{CONFIG}.top_p")
    if top_p is not None and not 0 <= top_p <= 1:
        raise invalid(
            f"* GenerateContentRequest.{CONFIG}.top_p: top_p must be between 0 and 1, got {top_p}.",
            param=f"{CONFIG}.top_p",
        )
    fields.get_float(config, "topK", f"{CONFIG}.top_k")
    fields.get_float(config, "presencePenalty", f"{CONFIG}.presence_penalty")
    fields.get_float(config, "frequencyPenalty", f"{CONFIG}.frequency_penalty")
    fields.get_str(config, "responseMimeType", f"{CONFIG}.response_mime_type")
    count = fields.get_int(config, "candidateCount", f"{CONFIG}.candidate_count", minimum=1) or 1
    if count > MAX_CANDIDATES:
        raise invalid(
            f"* GenerateContentRequest.{CONFIG}.candidate_count: must be at most {MAX_CANDIDATES}, got {count}.",
            param=f"{CONFIG}.candidate_count",
        )
    max_tokens = fields.get_int(config, "maxOutputTokens", f"{CONFIG}.max_output_tokens", minimum=1)
    if max_tokens is not None and max_tokens > spec.max_output_tokens:
        raise invalid(
            f"Unable to submit request because it has a maxOutputTokens value of {max_tokens} but the supported "
            f"range is from 1 (inclusive) to {spec.max_output_tokens + 1} (exclusive). Update the value and try again.",
            param=f"{CONFIG}.max_output_tokens",
        )
    seed = fields.get_int(config, "seed", f"{CONFIG}.seed")
    return max_tokens, count, _stop_sequences(config), seed


def parse_request(
    sim: Simulator, request: HttpRequest, body: JsonObject, model: str, spec: ModelSpec
) -> GenerateRequest:
    """Validate a ``GenerateContentRequest`` into a neutral request."""
    fields.check_known(body, REQUEST_FIELDS, "")
    system, system_tokens = parse_system(sim, body)
    turns, tokens = parse_contents(sim, body)
    prompt_tokens = tokens + system_tokens
    check_safety_settings(body)
    declared, tool_tokens = parse_tools(sim, body)
    prompt_tokens += tool_tokens
    check_tool_config(body)
    tools, choice = parse_tool_config(body, declared)
    max_tokens, count, stops, seed = _generation_config(body, spec)
    config = fields.get_object(body, "generationConfig", CONFIG)
    check_generation_settings(config, CONFIG)
    budget, include_thoughts = thinking_budget(config, spec)
    messages = ((system,) if system else ()) + tuple(turns)
    if prompt_tokens > spec.context_window:
        raise SimulatorError(
            ErrorKind.CONTEXT_LENGTH,
            f"The input token count ({prompt_tokens}) exceeds the maximum number of tokens allowed "
            f"({spec.context_window}).",
            param="contents",
        )
    gen = GenerationRequest(
        model=model,
        endpoint=Endpoint.CHAT,
        messages=messages,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        n=count,
        stop=stops,
        seed=seed if seed is not None else header_seed(request.headers),
        tools=tools,
        tool_choice=choice,
        follows_tool_result=ends_with_function_response(body),
        output=parse_output(config, messages),
        reasoning_budget=budget,
    )
    return GenerateRequest(gen, include_thoughts)


async def generate(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec, *, stream: bool) -> Response:
    """Serve ``:generateContent`` (``stream`` False) or ``:streamGenerateContent``."""
    heavy = is_heavy(request)
    body = parse_object(request.body)
    parsed = await off_loop(heavy, spec.context_window, parse_request, sim, request, body, model, spec)
    answer = GenerateAnswer(sim, request, parsed.include_thoughts)
    return await serve_generation(sim, request, parsed.request, spec, answer, stream=stream, heavy=heavy)


class GenerateAnswer:
    """How content is answered: streamed (a JSON array, or SSE with ``alt=sse``) or whole."""

    __slots__ = ("_id", "_include_thoughts", "_request", "_sim")

    provider = "gemini"
    limit_headers = staticmethod(no_limit_headers)

    def __init__(self, sim: Simulator, request: HttpRequest, include_thoughts: bool) -> None:
        self._sim = sim
        self._request = request
        self._include_thoughts = include_thoughts
        self._id = ""

    @staticmethod
    def seed_identity(gen: GenerationRequest) -> tuple[object, ...]:
        """Model, contents, ``candidateCount`` and ``maxOutputTokens``."""
        return gen.model, gen.messages, gen.n, gen.max_tokens

    def begin(self, plan: GenerationPlan) -> None:
        """The response id."""
        self._id = fixed_id(plan) or new_response_id()

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """``GenerateContentResponse`` chunks, as SSE events or as the elements of one array."""
        sim = self._sim
        if self._request.query.get("alt") == "sse":
            writer = ChunkWriter(plan, self._id, DATA, END)
            frames = stream_chunks(sim, plan, timeline, writer, self._include_thoughts)
            pacer = sim.pacer(plan, timeline)
            plain = None if pacer is None else PlainTokens(pacer, CandidateTokens(writer, plan.choices[0]), frames)
            return StreamResponse(frames, on_error=sse_error_frame, malformed=sse_frame(MALFORMED_CHUNK), plain=plain)
        array = ArrayStream(stream_chunks(sim, plan, timeline, ChunkWriter(plan, self._id), self._include_thoughts))
        headers = [(b"content-type", b"application/json; charset=UTF-8"), (b"cache-control", b"no-cache")]
        # In array mode a malformed element leaves the JSON array unparseable, as a cut proxy would.
        return StreamResponse(array.frames(), headers, array.error, malformed=b",\r\n" + MALFORMED_CHUNK)

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """One ``GenerateContentResponse``."""
        return JsonResponse(200, render_response(plan, self._id, self._include_thoughts), json_headers())


async def count_tokens(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec) -> Response:
    """Serve ``:countTokens`` for ``contents`` or a whole ``generateContentRequest``."""
    body = parse_object(request.body)
    fields.check_known(body, ("contents", "generateContentRequest"), "")
    inner = fields.get_object(body, "generateContentRequest", "generate_content_request")
    # Exact counts (no ceiling), except for a whole request, which is refused over the window.
    if inner is not None:
        parsed = await off_loop(is_heavy(request), spec.context_window, parse_request, sim, request, inner, model, spec)
        total = parsed.request.prompt_tokens
    else:
        _, total = await off_loop(is_heavy(request), None, parse_contents, sim, body)
    payload = {"totalTokens": total, "promptTokensDetails": prompt_details(total)}
    return JsonResponse(200, orjson.dumps(payload), json_headers())
