"""The simulated cost: built-in list prices, configured overrides, unknown models."""

from __future__ import annotations

import pytest

from llm_simulator.config.telemetry import Price
from llm_simulator.engine.catalogue import BUILTIN_MODELS
from llm_simulator.telemetry.prices import PriceTable


def test_known_models_have_their_list_price() -> None:
    table = PriceTable({})
    assert table.per_mtok("gpt-4o") == (2.50, 10.00)
    assert table.per_mtok("gpt-4o-mini") == (0.15, 0.60)
    assert table.per_mtok("claude-sonnet-4-5-20250929") == (3.00, 15.00)
    assert table.per_mtok("gemini-2.5-flash") == (0.30, 2.50)
    assert table.per_mtok("text-embedding-3-small") == (0.02, 0.0)


def test_cost_is_tokens_times_price_per_million() -> None:
    table = PriceTable({})
    # 1000 × $2.50/M + 500 × $10/M
    assert table.cost("gpt-4o", 1000, 500) == pytest.approx(0.0025 + 0.005)


def test_configured_prices_override_and_extend() -> None:
    table = PriceTable(
        {"gpt-4o": Price(input_per_mtok=1, output_per_mtok=2), "my-model": Price(input_per_mtok=3, output_per_mtok=4)}
    )
    assert table.per_mtok("gpt-4o") == (1, 2)
    assert table.per_mtok("my-model") == (3, 4)


def test_unknown_models_cost_nothing() -> None:
    assert PriceTable({}).cost("some-local-llama", 10_000, 10_000) == 0.0


def test_every_catalogue_chat_model_has_a_price() -> None:
    table = PriceTable({})
    # Ollama's models run on the caller's own machine: no list price, they cost nothing.
    hosted = [m for m in BUILTIN_MODELS if m.kind == "chat" and m.provider != "ollama"]
    unpriced = [m.id for m in hosted if table.per_mtok(m.id) == (0.0, 0.0)]
    assert unpriced == []
    local = [m.id for m in BUILTIN_MODELS if m.provider == "ollama"]
    assert local and all(table.cost(model, 1000, 1000) == 0.0 for model in local)
