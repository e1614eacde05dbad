"""The model catalogue: built-in models per provider, plus user additions and aliases."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from llm_simulator.config.distributions import DistributionSpec
from llm_simulator.config.schema import ModelsConfig

CHAT_CAPS = ("chat", "completion", "streaming", "tools", "vision")
REASONING_CAPS = (*CHAT_CAPS, "reasoning")
EMBED_CAPS = ("embedding",)

# A fixed creation timestamp per model keeps /v1/models byte-stable across runs.
_CREATED_DEFAULT = 1_700_000_000


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What the simulator knows about one model."""

    id: str
    provider: str
    kind: str  # "chat" or "embedding"
    context_window: int
    max_output_tokens: int
    latency_profile: str
    capabilities: tuple[str, ...] = CHAT_CAPS
    embedding_dimensions: int | None = None
    output_tokens: DistributionSpec | None = None
    owned_by: str = "system"
    created: int = _CREATED_DEFAULT
    display_name: str = ""

    @property
    def is_embedding(self) -> bool:
        """Whether this is an embedding model."""
        return self.kind == "embedding"


def _oa(
    model_id: str, ctx: int, out: int, caps: tuple[str, ...] = CHAT_CAPS, created: int = _CREATED_DEFAULT
) -> ModelSpec:
    return ModelSpec(model_id, "openai", "chat", ctx, out, "gpt4", caps, owned_by="openai", created=created)


def _emb(model_id: str, provider: str, ctx: int, dims: int, owner: str) -> ModelSpec:
    return ModelSpec(model_id, provider, "embedding", ctx, 1, "embedding", EMBED_CAPS, dims, owned_by=owner)


def _claude(model_id: str, out: int, ctx: int = 200_000) -> ModelSpec:
    return ModelSpec(model_id, "anthropic", "chat", ctx, out, "claude", REASONING_CAPS, owned_by="anthropic")


def _gemini(model_id: str, ctx: int, out: int, caps: tuple[str, ...] = CHAT_CAPS) -> ModelSpec:
    return ModelSpec(model_id, "google", "chat", ctx, out, "gemini", caps, owned_by="google")


BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    # OpenAI: classic and current chat models, reasoning models, embeddings.
    _oa("gpt-3.5-turbo", 16_385, 4_096, created=1_677_610_602),
    _oa("gpt-4", 8_192, 4_096, created=1_687_882_411),
    _oa("gpt-4-turbo", 128_000, 4_096, created=1_712_361_441),
    _oa("gpt-4o", 128_000, 16_384, created=1_715_367_049),
    _oa("gpt-4o-mini", 128_000, 16_384, created=1_721_172_741),
    _oa("gpt-4.1", 1_047_576, 32_768, created=1_744_316_542),
    _oa("gpt-4.1-mini", 1_047_576, 32_768, created=1_744_318_173),
    _oa("gpt-4.1-nano", 1_047_576, 32_768, created=1_744_321_707),
    _oa("gpt-5", 400_000, 128_000, REASONING_CAPS, created=1_754_425_777),
    _oa("gpt-5-mini", 400_000, 128_000, REASONING_CAPS, created=1_754_425_928),
    _oa("gpt-5-nano", 400_000, 128_000, REASONING_CAPS, created=1_754_426_384),
    _oa("o1", 200_000, 100_000, REASONING_CAPS, created=1_734_375_816),
    _oa("o3", 200_000, 100_000, REASONING_CAPS, created=1_744_225_308),
    _oa("o3-mini", 200_000, 100_000, REASONING_CAPS, created=1_737_146_383),
    _oa("o4-mini", 200_000, 100_000, REASONING_CAPS, created=1_744_225_351),
    _emb("text-embedding-ada-002", "openai", 8_191, 1536, "openai-internal"),
    _emb("text-embedding-3-small", "openai", 8_191, 1536, "system"),
    _emb("text-embedding-3-large", "openai", 8_191, 3072, "system"),
    # Anthropic.
    _claude("claude-3-haiku-20240307", 4_096),
    _claude("claude-3-sonnet-20240229", 4_096),
    _claude("claude-3-opus-20240229", 4_096),
    _claude("claude-3-5-haiku-20241022", 8_192),
    _claude("claude-3-5-sonnet-20241022", 8_192),
    _claude("claude-3-7-sonnet-20250219", 64_000),
    _claude("claude-sonnet-4-20250514", 64_000),
    _claude("claude-opus-4-20250514", 32_000),
    _claude("claude-opus-4-1-20250805", 32_000),
    _claude("claude-sonnet-4-5-20250929", 64_000),
    _claude("claude-haiku-4-5-20251001", 64_000),
    _claude("claude-opus-4-5-20251101", 64_000),
    # Google Gemini.
    _gemini("gemini-1.5-pro", 2_097_152, 8_192),
    _gemini("gemini-1.5-flash", 1_048_576, 8_192),
    _gemini("gemini-2.0-flash", 1_048_576, 8_192),
    _gemini("gemini-2.5-pro", 1_048_576, 65_536, REASONING_CAPS),
    _gemini("gemini-2.5-flash", 1_048_576, 65_536, REASONING_CAPS),
    _gemini("gemini-2.5-flash-lite", 1_048_576, 65_536, REASONING_CAPS),
    _gemini("gemini-3-pro-preview", 1_048_576, 65_536, REASONING_CAPS),
    _emb("text-embedding-004", "google", 2_048, 768, "google"),
    _emb("gemini-embedding-001", "google", 2_048, 3072, "google"),
)


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
        self._aliases = dict(config.aliases)
        self._accept_unknown = config.accept_unknown
        self._unknown_profile = config.unknown_model_profile or default_profile

    def list_models(self, provider: str | None = None) -> list[ModelSpec]:
        """All models (optionally of one provider), in a stable order."""
        return [m for m in self._models.values() if provider is None or m.provider == provider]

    def aliases(self) -> dict[str, str]:
        """Alias → model id."""
        return dict(self._aliases)

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
        if self._accept_unknown:
            return ModelSpec(model_id, provider, "chat", 128_000, 16_384, self._unknown_profile, owned_by="user")
        return None
