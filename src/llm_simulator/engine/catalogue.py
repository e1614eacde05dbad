"""The model catalogue: built-in models per provider, plus user additions and aliases."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from typing import Any

from llm_simulator.config.distributions import DistributionSpec
from llm_simulator.config.schema import ModelsConfig

CHAT_CAPS = ("chat", "completion", "streaming", "tools", "vision")
REASONING_CAPS = (*CHAT_CAPS, "reasoning")
# The legacy /v1/completions models: no chat (OpenAI answers them a 404 on chat/completions).
LEGACY_COMPLETION_CAPS = ("completion", "streaming")
EMBED_CAPS = ("embedding",)
# Claude and Gemini models have no legacy-completions heritage; Claude reasons from 3.7 on.
MESSAGES_CAPS = ("chat", "streaming", "tools", "vision")
MESSAGES_REASONING_CAPS = (*MESSAGES_CAPS, "reasoning")
_CLAUDE_WITHOUT_REASONING = ("claude-3-haiku", "claude-3-sonnet", "claude-3-opus", "claude-3-5-")

# A fixed creation timestamp per model keeps /v1/models byte-stable across runs.
_CREATED_DEFAULT = 1_700_000_000


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What the simulator knows about one model."""

    id: str
    provider: str
    kind: str  # "chat", "embedding", or a media kind (see MEDIA_KINDS)
    context_window: int
    max_output_tokens: int
    latency_profile: str
    capabilities: tuple[str, ...] = CHAT_CAPS
    embedding_dimensions: int | None = None
    output_tokens: DistributionSpec | None = None
    owned_by: str = "system"
    created: int = _CREATED_DEFAULT
    display_name: str = ""
    tool_call_probability: float | None = None  # None: the generation default

    @property
    def is_embedding(self) -> bool:
        """Whether this is an embedding model."""
        return self.kind == "embedding"


def _oa(
    model_id: str, ctx: int, out: int, caps: tuple[str, ...] = CHAT_CAPS, created: int = _CREATED_DEFAULT
) -> ModelSpec:
    """An OpenAI chat model: like the API, it serves chat but not the legacy /v1/completions."""
    caps = tuple(cap for cap in caps if cap != "completion")
    return ModelSpec(model_id, "openai", "chat", ctx, out, "gpt4", caps, owned_by="openai", created=created)


def _legacy(model_id: str, ctx: int, created: int) -> ModelSpec:
    """A legacy completions model (/v1/completions only; the prompt and output share ``ctx``)."""
    return ModelSpec(
        model_id, "openai", "chat", ctx, ctx, "gpt4", LEGACY_COMPLETION_CAPS, owned_by="system", created=created
    )


def _emb(model_id: str, provider: str, ctx: int, dims: int, owner: str) -> ModelSpec:
    return ModelSpec(model_id, provider, "embedding", ctx, 1, "embedding", EMBED_CAPS, dims, owned_by=owner)


# Models of OpenAI's media endpoints: listed by /v1/models, served only by their own endpoint.
MEDIA_KINDS = ("moderation", "image", "speech", "transcription")


def _media(model_id: str, kind: str, created: int, owner: str = "system", ctx: int = 32_768) -> ModelSpec:
    """A model of one media endpoint (moderations, images, speech, transcriptions)."""
    return ModelSpec(model_id, "openai", kind, ctx, 1, "embedding", (kind,), owned_by=owner, created=created)


def _utc_timestamp(day: str) -> int:
    """Midnight UTC of a ``YYYYMMDD`` date, as a Unix timestamp."""
    return int(datetime.datetime.strptime(day, "%Y%m%d").replace(tzinfo=datetime.UTC).timestamp())


def _claude(model_id: str, display_name: str, out: int, released: str = "", ctx: int = 200_000) -> ModelSpec:
    """A Claude model; dated ids carry their release day, undated ones pass ``released``.

    Release days of the undated ids (the current generations) are approximate: they order
    the models list newest first, as the API does, and nothing else depends on them.
    """
    return ModelSpec(
        model_id,
        "anthropic",
        "chat",
        ctx,
        out,
        "claude",
        MESSAGES_CAPS if model_id.startswith(_CLAUDE_WITHOUT_REASONING) else MESSAGES_REASONING_CAPS,
        owned_by="anthropic",
        created=_utc_timestamp(released or model_id[-8:]),
        display_name=display_name,
    )


def _gemini(model_id: str, display_name: str, ctx: int, out: int, caps: tuple[str, ...] = MESSAGES_CAPS) -> ModelSpec:
    return ModelSpec(model_id, "google", "chat", ctx, out, "gemini", caps, owned_by="google", display_name=display_name)


# Ollama's library models as their cards list them: tools, thinking and vision per model.
OLLAMA_TOOLS_CAPS = ("chat", "streaming", "tools")


def _ollama(model_id: str, ctx: int, caps: tuple[str, ...]) -> ModelSpec:
    """A model of a local Ollama server: the fast profile (a small model on one GPU), output up to its context."""
    return ModelSpec(model_id, "ollama", "chat", ctx, ctx, "fast", caps, owned_by="library")


def _gemini_emb(model_id: str, display_name: str, ctx: int, dims: int) -> ModelSpec:
    spec = _emb(model_id, "google", ctx, dims, "google")
    return replace(spec, display_name=display_name)


# Longest unknown model id served with ``accept_unknown`` (longer ones get the provider's
# 404): ids become metric labels, log fields and event fields.
MAX_UNKNOWN_MODEL_ID = 256

BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    # OpenAI: classic and current chat models, reasoning models, embeddings.
    _oa("gpt-3.5-turbo", 16_385, 4_096, created=1_677_610_602),
    _oa("gpt-4", 8_192, 4_096, created=1_687_882_411),
    _oa("gpt-4-turbo", 128_000, 4_096, created=1_712_361_441),
    _oa("gpt-4o", 128_000, 16_384, created=1_715_367_049),
    _oa("gpt-4o-mini", 128_000, 16_384, created=1_721_172_741),
    # Realtime models (the /v1/realtime WebSocket API; plain text endpoints serve them too).
    _oa("gpt-realtime", 32_000, 4_096, created=1_756_271_701),
    _oa("gpt-realtime-mini", 32_000, 4_096, created=1_759_517_133),
    _oa("gpt-4o-realtime-preview", 32_000, 4_096, created=1_727_659_998),
    _oa("gpt-4.1", 1_047_576, 32_768, created=1_744_316_542),
    _oa("gpt-4.1-mini", 1_047_576, 32_768, created=1_744_318_173),
    _oa("gpt-4.1-nano", 1_047_576, 32_768, created=1_744_321_707),
    _oa("gpt-5", 400_000, 128_000, REASONING_CAPS, created=1_754_425_777),
    _oa("gpt-5-mini", 400_000, 128_000, REASONING_CAPS, created=1_754_425_928),
    _oa("gpt-5-nano", 400_000, 128_000, REASONING_CAPS, created=1_754_426_384),
    _oa("gpt-5.1", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20251113")),
    _oa("gpt-5.1-mini", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20251113")),
    _oa("gpt-5.1-codex", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20251113")),
    _oa("gpt-5.2", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20251211")),
    _oa("gpt-5.2-pro", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20251211")),
    _oa("gpt-5.3-chat-latest", 128_000, 16_384, created=_utc_timestamp("20260201")),
    _oa("gpt-5.4", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20260317")),
    _oa("gpt-5.4-mini", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20260317")),
    _oa("gpt-5.4-nano", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20260317")),
    _oa("gpt-5.5", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20260423")),
    _oa("gpt-5.6-sol", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20260901")),
    _oa("gpt-5.6-terra", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20260901")),
    _oa("gpt-5.6-luna", 400_000, 128_000, REASONING_CAPS, created=_utc_timestamp("20260901")),
    _oa("o1", 200_000, 100_000, REASONING_CAPS, created=1_734_375_816),
    _oa("o3", 200_000, 100_000, REASONING_CAPS, created=1_744_225_308),
    _oa("o3-mini", 200_000, 100_000, REASONING_CAPS, created=1_737_146_383),
    _oa("o4-mini", 200_000, 100_000, REASONING_CAPS, created=1_744_225_351),
    # The ids the legacy /v1/completions endpoint serves (and only it).
    _legacy("gpt-3.5-turbo-instruct", 4_096, 1_692_901_427),
    _legacy("davinci-002", 16_384, 1_692_634_301),
    _legacy("babbage-002", 16_384, 1_692_634_615),
    _emb("text-embedding-ada-002", "openai", 8_191, 1536, "openai-internal"),
    _emb("text-embedding-3-small", "openai", 8_191, 1536, "system"),
    _emb("text-embedding-3-large", "openai", 8_191, 3072, "system"),
    # The media endpoints' models (moderations, images, speech, transcriptions and translations).
    _media("omni-moderation-latest", "moderation", 1_731_689_265),
    _media("omni-moderation-2024-09-26", "moderation", 1_732_734_466),
    _media("text-moderation-latest", "moderation", 1_687_882_410, ctx=32_768),
    _media("text-moderation-stable", "moderation", 1_687_882_410, ctx=32_768),
    _media("text-moderation-007", "moderation", 1_687_882_410, ctx=32_768),
    _media("dall-e-2", "image", 1_698_798_177),
    _media("dall-e-3", "image", 1_698_785_189),
    _media("gpt-image-1", "image", 1_745_517_030),
    _media("tts-1", "speech", 1_681_940_951, "openai-internal"),
    _media("tts-1-hd", "speech", 1_699_046_015),
    _media("gpt-4o-mini-tts", "speech", 1_742_403_959),
    _media("whisper-1", "transcription", 1_677_532_384, "openai-internal"),
    _media("gpt-4o-transcribe", "transcription", 1_742_068_463),
    _media("gpt-4o-mini-transcribe", "transcription", 1_742_068_596),
    # Anthropic.
    _claude("claude-3-haiku-20240307", "Claude Haiku 3", 4_096),
    _claude("claude-3-sonnet-20240229", "Claude Sonnet 3", 4_096),
    _claude("claude-3-opus-20240229", "Claude Opus 3", 4_096),
    _claude("claude-3-5-haiku-20241022", "Claude Haiku 3.5", 8_192),
    _claude("claude-3-5-sonnet-20241022", "Claude Sonnet 3.5 (New)", 8_192),
    _claude("claude-3-7-sonnet-20250219", "Claude Sonnet 3.7", 64_000),
    _claude("claude-sonnet-4-20250514", "Claude Sonnet 4", 64_000),
    _claude("claude-opus-4-20250514", "Claude Opus 4", 32_000),
    _claude("claude-opus-4-1-20250805", "Claude Opus 4.1", 32_000),
    _claude("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 64_000),
    _claude("claude-haiku-4-5-20251001", "Claude Haiku 4.5", 64_000),
    _claude("claude-opus-4-5-20251101", "Claude Opus 4.5", 64_000),
    _claude("claude-opus-4-6", "Claude Opus 4.6", 128_000, "20260205"),
    _claude("claude-sonnet-4-6", "Claude Sonnet 4.6", 64_000, "20260217"),
    _claude("claude-mythos-preview", "Claude Mythos Preview", 128_000, "20260301"),
    _claude("claude-opus-4-7", "Claude Opus 4.7", 128_000, "20260401"),
    _claude("claude-opus-4-8", "Claude Opus 4.8", 128_000, "20260501"),
    _claude("claude-opus-5", "Claude Opus 5", 128_000, "20260601"),
    _claude("claude-sonnet-5", "Claude Sonnet 5", 64_000, "20260601"),
    _claude("claude-fable-5", "Claude Fable 5", 64_000, "20260601"),
    _claude("claude-mythos-5", "Claude Mythos 5", 128_000, "20260601"),
    _claude("claude-fable-5-1", "Claude Fable 5.1", 64_000, "20260801"),
    _claude("claude-mythos-5-1", "Claude Mythos 5.1", 128_000, "20260801"),
    _claude("claude-fable-5-2", "Claude Fable 5.2", 64_000, "20261001"),
    _claude("claude-mythos-5-2", "Claude Mythos 5.2", 128_000, "20261001"),
    _claude("claude-haiku-5-5", "Claude Haiku 5.5", 64_000, "20261101"),
    _claude("claude-sonnet-5-5", "Claude Sonnet 5.5", 64_000, "20261101"),
    _claude("claude-opus-5-5", "Claude Opus 5.5", 128_000, "20261101"),
    # Google Gemini.
    _gemini("gemini-1.5-pro", "Gemini 1.5 Pro", 2_097_152, 8_192),
    _gemini("gemini-1.5-flash", "Gemini 1.5 Flash", 1_048_576, 8_192),
    _gemini("gemini-2.0-flash", "Gemini 2.0 Flash", 1_048_576, 8_192),
    _gemini("gemini-2.0-flash-lite", "Gemini 2.0 Flash-Lite", 1_048_576, 8_192),
    _gemini("gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576, 65_536, MESSAGES_REASONING_CAPS),
    _gemini("gemini-2.5-flash", "Gemini 2.5 Flash", 1_048_576, 65_536, MESSAGES_REASONING_CAPS),
    _gemini("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", 1_048_576, 65_536, MESSAGES_REASONING_CAPS),
    # Live API models (BidiGenerateContent over WebSocket).
    _gemini("gemini-live-2.5-flash-preview", "Gemini Live 2.5 Flash Preview", 1_048_576, 8_192),
    _gemini("gemini-2.5-flash-native-audio-preview-09-2025", "Gemini 2.5 Flash Native Audio", 131_072, 8_192),
    _gemini("gemini-3-pro-preview", "Gemini 3 Pro Preview", 1_048_576, 65_536, MESSAGES_REASONING_CAPS),
    _gemini("gemini-3-flash-preview", "Gemini 3 Flash Preview", 1_048_576, 65_536, MESSAGES_REASONING_CAPS),
    _gemini("gemini-3.1-pro-preview", "Gemini 3.1 Pro Preview", 1_048_576, 65_536, MESSAGES_REASONING_CAPS),
    _gemini("gemini-3.1-flash-lite", "Gemini 3.1 Flash-Lite", 1_048_576, 65_536, MESSAGES_REASONING_CAPS),
    _gemini("gemini-3.5-flash", "Gemini 3.5 Flash", 1_048_576, 65_536, MESSAGES_REASONING_CAPS),
    _gemini("gemini-3.8-flash", "Gemini 3.8 Flash", 1_048_576, 65_536, MESSAGES_REASONING_CAPS),
    _gemini_emb("text-embedding-004", "Text Embedding 004", 2_048, 768),
    _gemini_emb("gemini-embedding-001", "Gemini Embedding 001", 2_048, 3072),
    # Ollama's library models, under their ``name:tag`` ids (a bare name means ``:latest``).
    _ollama("llama3.2:latest", 131_072, OLLAMA_TOOLS_CAPS),
    _ollama("llama3.1:8b", 131_072, OLLAMA_TOOLS_CAPS),
    _ollama("mistral:latest", 32_768, OLLAMA_TOOLS_CAPS),
    _ollama("qwen2.5-coder:7b", 32_768, OLLAMA_TOOLS_CAPS),
    _ollama("qwen3:8b", 40_960, (*OLLAMA_TOOLS_CAPS, "reasoning")),
    _ollama("deepseek-r1:8b", 131_072, ("chat", "streaming", "reasoning")),
    _ollama("gpt-oss:20b", 131_072, (*OLLAMA_TOOLS_CAPS, "reasoning")),
    _ollama("gemma3:4b", 131_072, ("chat", "streaming", "vision")),
    _emb("nomic-embed-text:latest", "ollama", 8_192, 768, "ollama"),
    _emb("mxbai-embed-large:latest", "ollama", 512, 1024, "ollama"),
    _emb("all-minilm:latest", "ollama", 512, 384, "ollama"),
)

# The vendors' own moving aliases. Anthropic answers with the dated id an alias points at;
# user config may add aliases or re-point these.
BUILTIN_ALIASES: dict[str, str] = {
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
    "claude-3-5-sonnet-latest": "claude-3-5-sonnet-20241022",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "gpt-5-2025-08-07": "gpt-5",
    "gpt-5-mini-2025-08-07": "gpt-5-mini",
    "gpt-5-nano-2025-08-07": "gpt-5-nano",
    "gpt-5.1-2025-11-13": "gpt-5.1",
    "gpt-5.2-2025-12-11": "gpt-5.2",
    "gpt-5.2-pro-2025-12-11": "gpt-5.2-pro",
    "gpt-5.4-mini-2026-03-17": "gpt-5.4-mini",
    "gpt-5.4-nano-2026-03-17": "gpt-5.4-nano",
    "gpt-5.5-2026-04-23": "gpt-5.5",
    "gemini-2.0-flash-001": "gemini-2.0-flash",
    "gemini-2.0-flash-lite-001": "gemini-2.0-flash-lite",
    "gemini-flash-latest": "gemini-2.5-flash",
    "gemini-flash-lite-latest": "gemini-2.5-flash-lite",
    "gemini-pro-latest": "gemini-2.5-pro",
}


class UnknownAliasTarget(ValueError):
    """An alias in the config points at no model."""


class Catalogue:
    """Looks models up by id or alias; optionally invents a spec for unknown ids."""

    def __init__(self, config: ModelsConfig, default_profile: str) -> None:
        models: dict[str, ModelSpec] = {m.id: m for m in BUILTIN_MODELS}
        for added in config.add:
            base = models.get(added.id)
            fields_set = added.model_fields_set
            spec = ModelSpec(
                id=added.id,
                provider=added.provider,
                kind=added.kind,
                context_window=added.context_window,
                max_output_tokens=added.max_output_tokens if added.kind == "chat" else 1,
                latency_profile=added.latency_profile
                or ("embedding" if added.kind == "embedding" else default_profile),
                capabilities=tuple(added.capabilities) if added.kind == "chat" else EMBED_CAPS,
                embedding_dimensions=added.embedding_dimensions or (1536 if added.kind == "embedding" else None),
                output_tokens=added.output_tokens,
                owned_by=added.owned_by or "user",
                tool_call_probability=added.tool_call_probability,
            )
            if base is not None:
                # Override only the fields the user wrote; keep the built-in values for the rest.
                overrides: dict[str, Any] = {
                    "context_window": spec.context_window,
                    "max_output_tokens": spec.max_output_tokens,
                    "latency_profile": spec.latency_profile,
                    "capabilities": spec.capabilities,
                    "embedding_dimensions": spec.embedding_dimensions,
                    "output_tokens": spec.output_tokens,
                    "owned_by": spec.owned_by,
                    "tool_call_probability": spec.tool_call_probability,
                    "provider": spec.provider,
                    "kind": spec.kind,
                }
                changes = {k: v for k, v in overrides.items() if k in fields_set}
                spec = replace(base, **changes)
            models[added.id] = spec
        for alias, target in config.aliases.items():
            if target not in models:
                raise UnknownAliasTarget(f"models.aliases.{alias}: unknown model {target!r}")
        self._models = models
        self._aliases = {**BUILTIN_ALIASES, **config.aliases}
        for deployment, target in config.azure_deployments.items():
            if self.lookup(target) is None:
                raise UnknownAliasTarget(f"models.azure_deployments.{deployment}: unknown model {target!r}")
        self._deployments = dict(config.azure_deployments)
        self._accept_unknown = config.accept_unknown
        self._unknown_profile = config.unknown_model_profile or default_profile

    def list_models(self, provider: str | None = None) -> list[ModelSpec]:
        """All models (optionally of one provider), in a stable order."""
        return [m for m in self._models.values() if provider is None or m.provider == provider]

    def aliases(self) -> dict[str, str]:
        """Alias → model id."""
        return dict(self._aliases)

    def deployment_model(self, deployment: str) -> str | None:
        """The model an Azure deployment serves: its mapping, or its own name if that is a model."""
        mapped = self._deployments.get(deployment)
        if mapped is not None:
            return mapped
        if self.lookup(deployment) is not None or self._accept_unknown:
            return deployment
        return None

    def lookup(self, model_id: str) -> ModelSpec | None:
        """The spec of a known model id or alias (never invents one)."""
        return self._models.get(self._aliases.get(model_id, model_id))

    def resolve(self, model_id: str, provider: str = "openai") -> ModelSpec | None:
        """The spec for ``model_id`` (following aliases), or None when unknown and not accepted.

        With ``accept_unknown``, an unknown id gets a generic chat spec of ``provider``; the
        response still reports the id the client sent.
        """
        spec = self.lookup(model_id)
        if spec is not None:
            return spec
        if ":" not in model_id.rsplit("/", 1)[-1]:
            # An Ollama model named without its tag is its ``:latest`` (as Ollama's own /v1 routes
            # take ``llama3.2``); only Ollama's models are named with tags.
            tagged = self.lookup(f"{model_id}:latest")
            if tagged is not None and tagged.provider == "ollama":
                return tagged
        if self._accept_unknown and len(model_id) <= MAX_UNKNOWN_MODEL_ID:
            return ModelSpec(model_id, provider, "chat", 128_000, 16_384, self._unknown_profile, owned_by="user")
        return None
