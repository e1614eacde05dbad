"""``POST /v1/responses``, ``GET`` and ``DELETE /v1/responses/{id}``: the Responses API.

Parsing turns the request (``input`` items, ``instructions``, flat function tools,
``text.format``, ``reasoning``, ``previous_response_id``) into one neutral
``GenerationRequest``; the engine plans and paces it exactly as for chat; rendering turns
the plan into a Response object or its typed event stream. Stored responses (``store``,
default true) live in a bounded per-process ``ResponseStore``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.core.types import Endpoint, FinishEvent, GenerationPlan, GenerationRequest, Message, SegmentKind
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.heavy import body_window, is_heavy
from llm_simulator.providers.openai.common import (
    RESPONSES_SERVICE_TIERS,
    check_limits,
    require_generation_model,
    response_headers,
    service_tier,
    stream_headers,
)
from llm_simulator.providers.openai.conversations import ConversationStore, StoredConversation, context, stored_items
from llm_simulator.providers.openai.errors import error_status
from llm_simulator.providers.openai.ratelimits import limit_headers
from llm_simulator.providers.openai.responses_background import BackgroundJob, BackgroundJobs
from llm_simulator.providers.openai.responses_builtin import citations, plan_calls
from llm_simulator.providers.openai.responses_fields import (
    COUNT_FIELDS,
    CREATE_FIELDS,
    INPUT_TOO_LONG,
    reject_unknown,
    reject_unsupported,
    responses_model,
)
from llm_simulator.providers.openai.responses_input import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_ITEM,
    ParsedInput,
    parse_function_tools,
    parse_include,
    parse_input,
    parse_metadata,
    parse_reasoning,
    parse_text,
    parse_tool_choice,
)
from llm_simulator.providers.openai.responses_render import (
    CALL_ID_PREFIX,
    EventWriter,
    OutputLayout,
    ResponseHead,
    new_item_id,
)
from llm_simulator.providers.openai.responses_store import (
    EMPTY_CONVERSATION,
    Conversation,
    Items,
    ResponseStore,
    StoredResponse,
)
from llm_simulator.providers.openai.tools import check_reasoning_model_params, tools_prompt_tokens
from llm_simulator.providers.pipeline import fixed_id, serve_generation
from llm_simulator.providers.seeding import header_seed
from llm_simulator.providers.validation import (
    JsonObject,
    get_bool,
    get_int,
    get_number,
    get_object,
    get_str,
    missing,
    parse_object,
    type_error,
)

LOGPROBS = "message.output_text.logprobs"
# The API rejects output limits below 16 tokens.
MIN_OUTPUT_TOKENS = 16
TRUNCATION = ("auto", "disabled")


@dataclass(slots=True)
class ResponsesRequest:
    """A parsed request: the neutral request plus what rendering and storing need."""

    gen: GenerationRequest
    spec: ModelSpec
    stream: bool
    store: bool
    echo: JsonObject
    summary: str | None
    encrypted: bool
    background: bool
    # History and this turn's input items (for storing the conversation).
    conversation: Conversation
    # Built-in tools declared (their types), what their calls return, the text they query.
    builtin_kinds: tuple[str, ...] = ()
    include: frozenset[str] = frozenset()
    query: str = ""
    # With ``conversation``: the store, the conversation and this turn's input items to append.
    joined: tuple[ConversationStore, StoredConversation, list[JsonObject]] | None = None
    # What ``input_items`` lists once stored (see ``StoredResponse.items``) and this turn's bytes.
    input_items: Items = ()
    items_size: int = 0


def _history(store: ResponseStore, body: JsonObject) -> tuple[str | None, StoredResponse | None]:
    previous = get_str(body, "previous_response_id")
    if previous is None:
        return None, None
    stored = store.get(previous)
    if stored is None:  # a 400 on the Responses API, not a 404 (the id is a parameter of this request)
        raise SimulatorError(
            ErrorKind.INVALID_REQUEST,
            f"Previous response with id '{previous}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return previous, stored


def _joined(
    sim: Simulator, conversations: ConversationStore | None, body: JsonObject
) -> tuple[ConversationStore, StoredConversation] | None:
    """The conversation named by ``conversation`` (an id or ``{"id"}``), if any."""
    raw = body.get("conversation")
    if raw is None:
        return None
    if body.get("previous_response_id") is not None:
        raise invalid(
            "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or "
            "'conversation'.",
            param="conversation",
            code="mutually_exclusive_parameters",
        )
    if isinstance(raw, dict):
        conversation_id = get_str(raw, "id", "conversation.id", required=True) or ""
    elif isinstance(raw, str):
        conversation_id = raw
    else:
        raise type_error("conversation", "a string or an object", raw)
    if conversations is None:
        raise invalid("Unsupported parameter: 'conversation'.", param="conversation", code="unsupported_parameter")
    return conversations, conversations.require(conversation_id, "conversation")


def parse_request(
    sim: Simulator,
    store: ResponseStore,
    request: HttpRequest,
    body: JsonObject,
    conversations: ConversationStore | None = None,
    *,
    count_only: bool = False,
) -> ResponsesRequest:
    """Validate a ``POST /v1/responses`` body and build the neutral request.

    ``count_only``: the body of ``POST /v1/responses/input_tokens`` (``responses_count``),
    whose ``input`` is optional (the context of ``previous_response_id`` or ``conversation``
    alone is counted then) and whose count is not refused for the context window.
    """
    reject_unknown(body, COUNT_FIELDS if count_only else CREATE_FIELDS)
    model_id, spec = responses_model(sim, body)
    require_generation_model(model_id, spec, "responses")
    reject_unsupported(body)
    no_input = "input" not in body or body["input"] is None
    if no_input and not count_only:
        raise missing("input")
    joined = _joined(sim, conversations, body)
    previous: StoredResponse | None = None
    if joined is None:
        previous_id, previous = _history(store, body)
        history = EMPTY_CONVERSATION if previous is None else previous.conversation
    else:
        previous_id, history = None, context(sim, joined[1])
    parsed = ParsedInput([], 0, set(), [], False) if no_input else parse_input(sim, body["input"], history)
    instructions = get_str(body, "instructions")
    max_output = get_int(body, "max_output_tokens", minimum=MIN_OUTPUT_TOKENS)
    temperature = get_number(body, "temperature", minimum=0, maximum=2)
    top_p = get_number(body, "top_p", minimum=0, maximum=1)
    top_logprobs = get_int(body, "top_logprobs", minimum=0, maximum=20)
    max_tool_calls = get_int(body, "max_tool_calls", minimum=1)
    truncation = get_str(body, "truncation") or "disabled"
    if truncation not in TRUNCATION:
        raise invalid(
            f"Invalid value: '{truncation}'. Supported values are: 'auto' and 'disabled'.",
            "truncation",
            "invalid_value",
        )
    stream = get_bool(body, "stream")
    if get_object(body, "stream_options") is not None and not stream:
        raise invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options"
        )
    store_it = get_bool(body, "store", default=True)
    background = get_bool(body, "background")
    if background and not store_it:
        raise invalid(
            "Background responses must be stored: 'store' cannot be false when 'background' is true.",
            param="store",
            code="invalid_value",
        )
    tools, tools_echo, builtin_kinds = parse_function_tools(body)
    tool_choice, tool_choice_echo = parse_tool_choice(body, tools)
    messages = list(history.messages) + parsed.messages
    texts = [m.text for m in messages] + ([instructions] if instructions else [])
    output, text_echo = parse_text(body, texts)
    reasoning = parse_reasoning(body, model_id, spec)
    # Reasoning models take only the default sampling settings (``max_tokens`` is no field here).
    check_reasoning_model_params({k: body[k] for k in ("temperature", "top_p") if k in body}, model_id, spec)
    include = parse_include(body)
    prompt_tokens = REPLY_PRIMING_TOKENS + history.tokens + parsed.tokens + tools_prompt_tokens(sim.count_tokens, tools)
    if instructions:
        messages.insert(0, Message("system", instructions))
        prompt_tokens += TOKENS_PER_ITEM + sim.count_tokens("system") + sim.count_tokens(instructions)
    if truncation == "disabled" and not count_only:
        if prompt_tokens > spec.context_window:  # the input alone: the Responses API's own words
            raise SimulatorError(
                ErrorKind.CONTEXT_LENGTH, INPUT_TOO_LONG, param="input", code="context_length_exceeded"
            )
        check_limits(model_id, spec, prompt_tokens, max_output, "max_output_tokens", "input")
    parallel = get_bool(body, "parallel_tool_calls", default=True)
    echo: JsonObject = {
        "instructions": instructions,
        "max_output_tokens": max_output,
        "max_tool_calls": max_tool_calls,
        "parallel_tool_calls": parallel,
        "previous_response_id": previous_id,
        "prompt_cache_key": get_str(body, "prompt_cache_key"),
        "reasoning": reasoning.echo,
        "safety_identifier": get_str(body, "safety_identifier"),
        "service_tier": service_tier(body, RESPONSES_SERVICE_TIERS),
        "store": store_it,
        "temperature": 1.0 if temperature is None else temperature,
        "text": text_echo,
        "tool_choice": tool_choice_echo,
        "tools": tools_echo,
        "top_logprobs": top_logprobs or 0,
        "top_p": 1.0 if top_p is None else top_p,
        "truncation": truncation,
        "user": get_str(body, "user"),
        "metadata": parse_metadata(body),
    }
    # This turn's input items, for ``input_items`` and a conversation (ids given now, so they agree).
    turn: list[JsonObject] = []
    if (store_it or joined is not None) and not no_input:
        raw_input = body["input"]
        turn = stored_items([{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input)
    joining = None
    if joined is not None:
        echo["conversation"] = {"id": joined[1].id}
        joining = (*joined, turn)
    input_items: Items = ()
    if store_it:
        input_items = (previous.context_items() if previous is not None else ()) + tuple(turn)
    gen = GenerationRequest(
        model=model_id,
        endpoint=Endpoint.CHAT,
        messages=tuple(messages),
        prompt_tokens=prompt_tokens,
        max_tokens=max_output,
        seed=header_seed(request.headers),
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        follows_tool_result=parsed.ends_with_tool_output,
        output=output,
        reasoning_budget=reasoning.budget,
        logprobs=LOGPROBS in include,
        top_logprobs=top_logprobs or 0,
    )
    conversation = Conversation(
        messages=history.messages + tuple(parsed.messages),
        tokens=history.tokens + parsed.tokens,
        call_ids=history.call_ids | parsed.call_ids,
    )
    return ResponsesRequest(
        gen,
        spec,
        stream,
        store_it,
        echo,
        reasoning.summary,
        "reasoning.encrypted_content" in include,
        background,
        conversation,
        builtin_kinds=builtin_kinds if tool_choice_echo != "none" else (),
        include=include,
        query=next((m.text for m in reversed(messages) if m.role == "user"), ""),
        joined=joining,
        input_items=input_items,
        items_size=len(orjson.dumps(turn)) if store_it else 0,
    )


def continued(sim: Simulator, before: Conversation, layout: OutputLayout) -> Conversation:
    """The conversation after this response: its output items appended as the next turn's input."""
    messages = list(before.messages)
    tokens = before.tokens
    calls: list[str] = []
    for item in layout.items:
        if item.kind is SegmentKind.REASONING or item.builtin is not None:
            continue  # earlier reasoning is not counted again, as for reasoning input items
        text = layout.text(item)
        if item.call is not None:
            calls.append(CALL_ID_PREFIX + item.call.id)
            messages.append(Message("assistant", ""))
            tokens += TOKENS_PER_ITEM + sim.count_tokens(item.call.name) + sim.count_tokens(text)
        else:
            messages.append(Message("assistant", text))
            tokens += TOKENS_PER_ITEM + sim.count_tokens("assistant") + sim.count_tokens(text)
    return Conversation(tuple(messages), tokens, before.call_ids | frozenset(calls), tuple(calls))


def new_head(sim: Simulator, parsed: ResponsesRequest) -> ResponseHead:
    """A new response's id, creation time and echoed fields."""
    response_id = new_item_id("resp_")
    calls = tuple(plan_calls(list(parsed.builtin_kinds), parsed.query, response_id, parsed.include))
    web = any(call.family == "web_search" for call in calls)
    return ResponseHead(
        response_id,
        int(sim.clock.wall()),
        parsed.gen.model,
        parsed.echo,
        parsed.summary,
        parsed.encrypted,
        parsed.background,
        calls,
        tuple(citations(parsed.query)) if web else (),
    )


class _Session:
    """One response being served: the plan, its layout and where it is stored when done."""

    def __init__(
        self,
        sim: Simulator,
        store: ResponseStore,
        parsed: ResponsesRequest,
        plan: GenerationPlan,
        head: ResponseHead | None = None,
    ) -> None:
        self.sim = sim
        self.store = store
        self.parsed = parsed
        if head is None:  # a background response's head (and id) were given out already
            head = new_head(sim, parsed)
            if plan.request.scripted is not None:  # a fixture may fix the id and the model
                head = dataclasses.replace(head, id=fixed_id(plan) or head.id, model=plan.request.model)
        self.layout = OutputLayout(plan, head)
        self.body: bytes | None = None

    def finish(self) -> bytes:
        """The final Response object as JSON, stored if the request asked for it."""
        body = orjson.dumps(self.layout.final_object(int(self.sim.clock.wall())))
        self.body = body
        joined = self.parsed.joined
        if joined is not None:
            conversations, target, turn = joined
            if conversations.get(target.id) is target:
                with contextlib.suppress(SimulatorError):  # full: the conversation keeps what it had
                    conversations.append(target, turn + self.layout.output())
        if self.parsed.store:
            conversation = continued(self.sim, self.parsed.conversation, self.layout)
            parsed = self.parsed
            self.store.put(
                self.layout.head.id, body, parsed.gen.model, conversation, parsed.input_items, parsed.items_size
            )
        return body


async def stream_events(
    sim: Simulator, plan: GenerationPlan, timeline: Timeline, session: _Session, writer: EventWriter
) -> AsyncIterator[bytes]:
    """The response's SSE events, each token's event yielded when the token is due.

    ``response.created`` and ``response.in_progress`` go out at once; hidden reasoning
    takes its time but sends nothing unless a summary was asked for.
    """
    yield writer.started()
    item_at = session.layout.item_at
    current = -1
    async for event in sim.stream(plan, timeline):
        if isinstance(event, FinishEvent):
            continue
        index = item_at[event.position]
        frame = b""
        if index != current:
            frame = writer.advance(current, index)
            current = index
        frame += writer.token(index, event.position, event.text)
        if frame:
            yield frame
    body = session.finish()
    await session.store.settle()
    end = writer.advance(current, len(session.layout.items))
    kind = "response.incomplete" if session.layout.incomplete else "response.completed"
    yield end + writer.lifecycle(kind, body)


# A text delta event cut short (a chaos ``malformed`` fault), under its event name.
MALFORMED_EVENT = b"event: response.output_text.delta\ndata: " + (
    b'{"type":"response.output_text.delta","sequence_number":9,"item_id":"msg_0","delta":"tr\n\n'
)


async def create(
    sim: Simulator, store: ResponseStore, jobs: BackgroundJobs, conversations: ConversationStore, request: HttpRequest
) -> Response:
    """Serve ``POST /v1/responses``."""
    return await serve(sim, store, jobs, conversations, request, parse_object(request.body))


async def serve(
    sim: Simulator,
    store: ResponseStore,
    jobs: BackgroundJobs,
    conversations: ConversationStore,
    request: HttpRequest,
    body: JsonObject,
) -> Response:
    """Answer a Responses API request from its parsed body (Azure's names the deployment's model)."""
    started = time.monotonic()
    heavy = is_heavy(request)
    window = body_window(sim, body, "openai", heavy)
    previous = body.get("previous_response_id")
    if isinstance(previous, str):
        await store.fetch(previous)  # from the fleet's store, when another replica answered it
    parsed = await off_loop(heavy, window, parse_request, sim, store, request, body, conversations)
    if parsed.background:
        return _start_background(sim, store, jobs, request, parsed, heavy, started)
    answer = ResponseAnswer(sim, store, request, parsed, started)
    response = await serve_generation(sim, request, parsed.gen, parsed.spec, answer, stream=parsed.stream, heavy=heavy)
    await store.settle()  # stored fleet-wide before the client can send its next turn
    return response


def _start_background(
    sim: Simulator,
    store: ResponseStore,
    jobs: BackgroundJobs,
    request: HttpRequest,
    parsed: ResponsesRequest,
    heavy: bool,
    started: float,
) -> Response:
    """Queue a background response: its ``queued`` object (or its event stream) at once, the work in a task."""
    job = BackgroundJob(new_head(sim, parsed), parsed.input_items, parsed.items_size)
    jobs.start(job, request, functools.partial(_run_background, sim, store, parsed, heavy, started))
    if parsed.stream:
        return StreamResponse(
            job.follow(-1), stream_headers(request, parsed.gen.model), None, malformed=MALFORMED_EVENT
        )
    return JsonResponse(200, job.snapshot(), response_headers(request, started, parsed.gen.model))


async def _run_background(
    sim: Simulator,
    store: ResponseStore,
    parsed: ResponsesRequest,
    heavy: bool,
    started: float,
    job: BackgroundJob,
    request: HttpRequest,
) -> tuple[int, bool]:
    """Generate a background response into ``job`` (``request`` is detached from the exchange).

    Returns the HTTP status and the broken flag its telemetry record gets.
    """
    answer = ResponseAnswer(sim, store, request, parsed, started, job.head)
    try:
        response = await serve_generation(sim, request, parsed.gen, parsed.spec, answer, stream=True, heavy=heavy)
        assert isinstance(response, StreamResponse)
        async for frames in response.frames:
            job.append(frames)
    except SimulatorError as error:
        if request.exchange.record is not None:
            request.exchange.record.error_type = str(error.kind)
        final = job.failed(error)
        store.put(job.head.id, final, parsed.gen.model, parsed.conversation, job.items, job.items_size)
        job.append(
            b'event: response.failed\ndata: {"type":"response.failed","sequence_number":%d,"response":%s}\n\n'
            % (job.next_sequence, final)
        )
        job.end("failed", final)
        return error_status(error), False
    session = answer.session
    assert session is not None
    assert session.body is not None
    job.end("incomplete" if session.layout.incomplete else "completed", session.body)
    return 200, False


class ResponseAnswer:
    """How a Response is answered: as its event stream, or as the final Response object."""

    __slots__ = ("_head", "_parsed", "_request", "_session", "_sim", "_started", "_store")

    provider = "openai"
    limit_headers = staticmethod(limit_headers)

    def __init__(
        self,
        sim: Simulator,
        store: ResponseStore,
        request: HttpRequest,
        parsed: ResponsesRequest,
        started: float,
        head: ResponseHead | None = None,
    ) -> None:
        self._head = head
        self._sim = sim
        self._store = store
        self._request = request
        self._parsed = parsed
        self._started = started
        self._session: _Session | None = None

    @staticmethod
    def seed_identity(gen: GenerationRequest) -> tuple[object, ...]:
        """Model, messages and ``max_output_tokens``."""
        return gen.model, gen.messages, gen.max_tokens

    def begin(self, plan: GenerationPlan) -> None:
        """The response's id, creation time and output layout."""
        self._session = _Session(self._sim, self._store, self._parsed, plan, self._head)

    @property
    def session(self) -> _Session | None:
        """The response being served (once the plan exists)."""
        return self._session

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """``response.created`` … ``response.completed`` (or ``incomplete``)."""
        session = self._session
        assert session is not None
        writer = EventWriter(session.layout)
        return StreamResponse(
            stream_events(self._sim, plan, timeline, session, writer),
            stream_headers(self._request, self._parsed.gen.model),
            writer.error,
            malformed=MALFORMED_EVENT,
        )

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """The final Response object (stored when asked)."""
        assert self._session is not None
        headers = response_headers(self._request, self._started, self._parsed.gen.model)
        return JsonResponse(200, self._session.finish(), headers)
