"""The fixture file format: rules, scenarios, their ``match`` and their ``respond``.

Validated with pydantic (fixtures are configuration, loaded once or through the admin API,
never parsed on the hot path); unknown keys are errors. ``docs/fixtures.md`` documents every
key shown here.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llm_simulator.core import names as core_names
from llm_simulator.core.errors import ErrorKind, default_status
from llm_simulator.core.types import (
    FinishReason,
    ScriptedError,
    ScriptedPart,
    ScriptedReply,
    ScriptedToolCall,
    ScriptedUsage,
    SegmentKind,
)
from llm_simulator.engine.script.conversation import Conversation

Provider = core_names.Provider
AfterLast = Literal["fall_through", "repeat_last", "restart", "error"]

# The error kind a bare status stands for (other 4xx: invalid request; other 5xx: server error).
_KIND_OF_STATUS: dict[int, ErrorKind] = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.NOT_FOUND,
    413: ErrorKind.PAYLOAD_TOO_LARGE,
    429: ErrorKind.RATE_LIMIT,
    500: ErrorKind.SERVER_ERROR,
    503: ErrorKind.UNAVAILABLE,
    504: ErrorKind.TIMEOUT,
    529: ErrorKind.OVERLOADED,
}
_DEFAULT_MESSAGE: dict[ErrorKind, str] = {
    ErrorKind.RATE_LIMIT: "Rate limit reached (scripted). Please try again later.",
    ErrorKind.OVERLOADED: "The model is overloaded (scripted). Please try again later.",
    ErrorKind.UNAVAILABLE: "The service is temporarily unavailable (scripted).",
    ErrorKind.TIMEOUT: "The request timed out (scripted).",
}
MAX_DELAY_MS = 600_000.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextMatch(_Strict):
    """One test on a text: ``equals``, ``contains`` or ``regex`` (``re.search``)."""

    equals: str | None = None
    contains: str | None = None
    regex: str | None = None
    ignore_case: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> TextMatch:
        given = [name for name in ("equals", "contains", "regex") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, contains, regex")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.regex!r}: {exc}") from None
        return self

    def matches(self, text: str) -> bool:
        """Whether ``text`` passes the test."""
        if self.regex is not None:
            return re.search(self.regex, text, re.IGNORECASE if self.ignore_case else 0) is not None
        if self.ignore_case:
            text = text.casefold()
        if self.equals is not None:
            return text == (self.equals.casefold() if self.ignore_case else self.equals)
        assert self.contains is not None
        return (self.contains.casefold() if self.ignore_case else self.contains) in text


def _one_or_many(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


# The endpoints a fixture can match (``core.types.Endpoint``'s values): the generation and
# embedding endpoints, and OpenAI's media endpoints (errors, delays and strict mode only).
FixtureEndpoint = Literal[
    "chat", "completion", "embedding", "moderation", "image", "speech", "transcription", "translation"
]


class Match(_Strict):
    """Conditions on a request; every given one must hold (an empty match accepts all)."""

    provider: tuple[Provider, ...] | None = None
    model: tuple[str, ...] | None = None  # globs (fnmatch), case-sensitive
    endpoint: tuple[FixtureEndpoint, ...] | None = None
    message: TextMatch | None = None  # the last user message's text
    turn: int | None = Field(default=None, ge=0)  # 0-based index of the last user turn
    has_tool_result: bool | None = None
    headers: dict[str, TextMatch] = Field(default_factory=dict)

    @field_validator("provider", mode="before")
    @classmethod
    def _providers(cls, value: Any) -> Any:
        value = _one_or_many(value)
        # "google" is how the model catalogue names Gemini's vendor.
        return tuple("gemini" if v == "google" else v for v in value) if isinstance(value, list | tuple) else value

    @field_validator("model", "endpoint", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _one_or_many(value)

    @field_validator("message", mode="before")
    @classmethod
    def _message_shorthand(cls, value: Any) -> Any:
        # A bare string is the common case: "the message mentions this".
        return {"contains": value} if isinstance(value, str) else value

    @field_validator("headers", mode="before")
    @classmethod
    def _header_shorthand(cls, value: Any) -> Any:
        # Header names are case-insensitive; a bare string value must be equal.
        if not isinstance(value, dict):
            return value
        return {str(k).lower(): {"equals": v} if isinstance(v, str) else v for k, v in value.items()}

    def matches(self, conv: Conversation) -> bool:
        """Whether the request summarised by ``conv`` meets every condition."""
        if self.provider is not None and conv.provider not in self.provider:
            return False
        if self.model is not None and not any(fnmatch.fnmatchcase(conv.model, glob) for glob in self.model):
            return False
        if self.endpoint is not None and conv.endpoint not in self.endpoint:
            return False
        if self.turn is not None and conv.turn != self.turn:
            return False
        if self.has_tool_result is not None and conv.has_tool_result != self.has_tool_result:
            return False
        if self.message is not None and not self.message.matches(conv.last_user_text):
            return False
        for name, test in self.headers.items():
            value = conv.headers.get(name)
            if value is None or not test.matches(value):
                return False
        return True


class ToolCallSpec(_Strict):
    """A tool call to answer with: the tool's name and its arguments (an object, or raw JSON text)."""

    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = Field(default=None, min_length=1, description="The call's id after the provider's prefix.")

    def to_call(self) -> ScriptedToolCall:
        """The neutral call (object arguments as compact JSON, a string verbatim)."""
        arguments = self.arguments if isinstance(self.arguments, str) else orjson.dumps(self.arguments).decode()
        return ScriptedToolCall(self.name, arguments, self.id)


class PartSpec(_Strict):
    """One ordered part of a reply: exactly one of ``text``, ``reasoning`` or ``tool_call``."""

    text: str | None = None
    reasoning: str | None = None
    tool_call: ToolCallSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PartSpec:
        if sum(v is not None for v in (self.text, self.reasoning, self.tool_call)) != 1:
            raise ValueError("give exactly one of text, reasoning, tool_call")
        return self

    def to_part(self) -> ScriptedPart:
        """The neutral part."""
        if self.tool_call is not None:
            return ScriptedPart(SegmentKind.TOOL_CALL, call=self.tool_call.to_call())
        if self.reasoning is not None:
            return ScriptedPart(SegmentKind.REASONING, self.reasoning)
        return ScriptedPart(SegmentKind.TEXT, self.text or "")


class UsageSpec(_Strict):
    """Token counts to report instead of the real ones."""

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)


class ErrorSpec(_Strict):
    """An error to answer with: a ``status`` and/or a ``kind`` (each implies the other)."""

    status: int | None = Field(default=None, ge=400, le=599)
    kind: ErrorKind | None = None
    message: str | None = None
    code: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _type_alias(cls, data: Any) -> Any:
        # ``type`` reads naturally next to the providers' own error bodies.
        if isinstance(data, dict) and "type" in data and "kind" not in data:
            data = {("kind" if k == "type" else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _status_or_kind(self) -> ErrorSpec:
        if self.status is None and self.kind is None:
            raise ValueError("give a status, a kind, or both")
        return self

    def to_error(self) -> ScriptedError:
        """The neutral error (kind inferred from the status when not given)."""
        kind = self.kind
        if kind is None:
            assert self.status is not None
            kind = _KIND_OF_STATUS.get(self.status) or (
                ErrorKind.SERVER_ERROR if self.status >= 500 else ErrorKind.INVALID_REQUEST
            )
        # A status equal to the kind's default is left implicit, so each provider renders the
        # kind with its own status (an overloaded model is 529 on Anthropic, 503 elsewhere).
        status = self.status if self.status is not None and self.status != default_status(kind) else None
        message = self.message or _DEFAULT_MESSAGE.get(kind) or f"Scripted {kind.value.replace('_', ' ')} error."
        return ScriptedError(kind, message, status, self.code)


class Respond(_Strict):
    """The answer: ``text``, ``json``, ``tool_calls`` (after optional ``text``) or ``error``, and/or ``delay_ms``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    text: str | None = None
    json_value: Any = Field(default=None, alias="json")
    tool_calls: tuple[ToolCallSpec, ...] | None = None
    error: ErrorSpec | None = None
    delay_ms: float = Field(default=0.0, ge=0, le=MAX_DELAY_MS)
    # Ordered content, and overrides of what the response reports.
    parts: tuple[PartSpec, ...] | None = None
    finish_reason: FinishReason | None = None
    id: str | None = Field(default=None, min_length=1)
    model: str | None = Field(default=None, min_length=1)
    usage: UsageSpec | None = None
    system_fingerprint: str | None = None

    @property
    def _overrides(self) -> bool:
        return any(
            v is not None for v in (self.finish_reason, self.id, self.model, self.usage, self.system_fingerprint)
        )

    @model_validator(mode="after")
    def _one_answer(self) -> Respond:
        has_json = "json_value" in self.model_fields_set
        if self.text is not None and has_json:
            raise ValueError("give text or json, not both")
        if self.parts is not None and (self.text is not None or has_json or self.tool_calls):
            raise ValueError("parts replace text, json and tool_calls: give one or the other")
        if self.parts is not None and not self.parts:
            raise ValueError("parts must list at least one part")
        if self.error is not None and (self.parts is not None or self._overrides):
            raise ValueError("an error cannot be combined with parts or response overrides")
        if self.tool_calls is not None and not self.tool_calls:
            raise ValueError("tool_calls must list at least one call")
        if self.error is not None and (self.text is not None or has_json or self.tool_calls):
            raise ValueError("an error cannot be combined with text, json or tool_calls")
        content = self.text is not None or has_json or bool(self.tool_calls) or self.parts is not None
        if not content and self.error is None and not self.delay_ms and not self._overrides:
            raise ValueError(
                "give at least one of text, json, tool_calls, parts, error, delay_ms, "
                "finish_reason, id, model, usage, system_fingerprint"
            )
        return self

    def to_reply(self, source: str) -> ScriptedReply:
        """The neutral reply (``json`` rendered as compact JSON text, as the APIs stream it)."""
        text = self.text
        if "json_value" in self.model_fields_set:
            text = orjson.dumps(self.json_value).decode()
        calls = tuple(call.to_call() for call in self.tool_calls or ())
        error = self.error.to_error() if self.error is not None else None
        usage = ScriptedUsage(self.usage.input_tokens, self.usage.output_tokens) if self.usage is not None else None
        return ScriptedReply(
            text,
            calls,
            error,
            self.delay_ms / 1000.0,
            source,
            parts=tuple(part.to_part() for part in self.parts or ()),
            finish=self.finish_reason,
            response_id=self.id,
            model=self.model,
            usage=usage,
            system_fingerprint=self.system_fingerprint,
        )


class Rule(_Strict):
    """``respond`` to every request that meets ``match`` (at most ``times`` times, if given)."""

    name: str | None = None
    match: Match = Field(default_factory=Match)
    respond: Respond
    times: int | None = Field(default=None, ge=1)


class Step(_Strict):
    """One step of a scenario: its answer, and optionally what the request must look like."""

    name: str | None = None
    match: Match | None = None
    respond: Respond


class Scenario(_Strict):
    """An ordered list of steps played to one conversation (session), one step per request."""

    name: str = Field(min_length=1)
    match: Match = Field(default_factory=Match)
    steps: tuple[Step, ...] = Field(min_length=1)
    after_last: AfterLast = "fall_through"


class FixtureSet(_Strict):
    """A fixtures document: ``rules`` (first match wins) and ``scenarios``."""

    rules: tuple[Rule, ...] = ()
    scenarios: tuple[Scenario, ...] = ()

    @model_validator(mode="after")
    def _unique_scenario_names(self) -> FixtureSet:
        seen: set[str] = set()
        for scenario in self.scenarios:
            if scenario.name in seen:
                raise ValueError(f"two scenarios are named {scenario.name!r}")
            seen.add(scenario.name)
        return self
