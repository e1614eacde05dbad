"""The model catalogue: built-in generations, vendor aliases, Azure deployments."""

from __future__ import annotations

import datetime

import pytest

from llm_simulator.config.schema import ModelsConfig
from llm_simulator.engine.catalogue import BUILTIN_ALIASES, BUILTIN_MODELS, Catalogue, UnknownAliasTarget


def make(**fields: object) -> Catalogue:
    return Catalogue(ModelsConfig.model_validate(fields), "standard")


def test_builtin_ids_are_unique_and_aliases_point_at_models() -> None:
    ids = [m.id for m in BUILTIN_MODELS]
    assert len(ids) == len(set(ids))
    assert set(BUILTIN_ALIASES.values()) <= set(ids)
    assert not set(BUILTIN_ALIASES) & set(ids)


@pytest.mark.parametrize(
    ("model_id", "provider"),
    [
        ("gpt-5.5", "openai"),
        ("claude-opus-4-6", "anthropic"),
        ("claude-sonnet-5-5", "anthropic"),
        ("gemini-3.8-flash", "google"),
    ],
)
def test_current_generations_are_in_the_catalogue(model_id: str, provider: str) -> None:
    spec = make().lookup(model_id)
    assert spec is not None
    assert spec.provider == provider
    if provider != "openai":  # Anthropic and Gemini list display names
        assert spec.display_name


def test_dated_claude_ids_are_created_on_their_release_day() -> None:
    spec = make().lookup("claude-sonnet-4-5-20250929")
    assert spec is not None
    assert datetime.datetime.fromtimestamp(spec.created, datetime.UTC).date() == datetime.date(2025, 9, 29)


def test_vendor_aliases_resolve_and_user_aliases_may_repoint_them() -> None:
    default = make().lookup("claude-sonnet-4-5")
    assert default is not None and default.id == "claude-sonnet-4-5-20250929"
    repointed = make(aliases={"claude-sonnet-4-5": "claude-opus-4-5-20251101"}).lookup("claude-sonnet-4-5")
    assert repointed is not None and repointed.id == "claude-opus-4-5-20251101"


def test_azure_deployments_map_to_models() -> None:
    catalogue = make(azure_deployments={"prod": "gpt-4o-mini"})
    assert catalogue.deployment_model("prod") == "gpt-4o-mini"
    assert catalogue.deployment_model("gpt-4o") == "gpt-4o"  # named after a model: no mapping needed
    assert catalogue.deployment_model("nothing-like-it") is None
    assert make(accept_unknown=True).deployment_model("nothing-like-it") == "nothing-like-it"


def test_a_deployment_pointing_at_no_model_is_refused() -> None:
    with pytest.raises(UnknownAliasTarget, match=r"azure_deployments\.prod"):
        make(azure_deployments={"prod": "no-such-model"})


def test_claude_reasons_from_3_7_and_no_claude_claims_legacy_completions() -> None:
    catalogue = make()
    for model_id, reasons in (("claude-3-5-sonnet-20241022", False), ("claude-3-7-sonnet-20250219", True)):
        spec = catalogue.lookup(model_id)
        assert spec is not None
        assert ("reasoning" in spec.capabilities) is reasons
        assert "completion" not in spec.capabilities
