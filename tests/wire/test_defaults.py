"""The SDK, the load generator and the CLI default to the same models (they used to differ)."""

from __future__ import annotations

import pytest

import llm_simulator.cli.benchmark as cli_benchmark
import llm_simulator.loadgen as loadgen
import llm_simulator.loadgen.suite as loadgen_suite
import llm_simulator.sdk as sdk
from llm_simulator.cli.wire import Turn, chat_request, embedding_request
from llm_simulator.wire.defaults import (
    DEFAULT_EMBEDDING_MODELS,
    DEFAULT_MODELS,
    LOAD_DEFAULT_MODELS,
    LOAD_PROVIDERS,
    PROVIDERS,
    check_provider,
)


def test_the_sdk_exports_the_shared_defaults() -> None:
    assert sdk.DEFAULT_MODELS is DEFAULT_MODELS
    assert sdk.DEFAULT_EMBEDDING_MODELS is DEFAULT_EMBEDDING_MODELS


def test_the_cli_sends_the_shared_defaults() -> None:
    assert chat_request("openai", None, [Turn("user", "hi")]).body["model"] == DEFAULT_MODELS["openai"]
    assert chat_request("anthropic", None, [Turn("user", "hi")]).body["model"] == DEFAULT_MODELS["anthropic"]
    assert DEFAULT_MODELS["gemini"] in chat_request("gemini", None, [Turn("user", "hi")]).path
    assert DEFAULT_EMBEDDING_MODELS["gemini"] in embedding_request("gemini", None, "hi").path


def test_the_load_generator_uses_the_shared_defaults() -> None:
    assert vars(loadgen_suite)["LOAD_DEFAULT_MODELS"] is LOAD_DEFAULT_MODELS
    assert vars(cli_benchmark)["LOAD_DEFAULT_MODELS"] is LOAD_DEFAULT_MODELS
    # The load generator's extra wires (Ollama, Bedrock) keep the shared defaults of the other three.
    assert {p: LOAD_DEFAULT_MODELS[p] for p in PROVIDERS} == DEFAULT_MODELS
    assert set(LOAD_PROVIDERS) == {*PROVIDERS, "ollama", "bedrock"}


def test_check_provider() -> None:
    assert [check_provider(p) for p in PROVIDERS] == list(PROVIDERS)
    with pytest.raises(ValueError, match="openai, anthropic, gemini"):
        check_provider("mistral")


def test_the_load_generator_speaks_ollama_too() -> None:
    assert list(loadgen.PROVIDERS) == [*PROVIDERS, "ollama", "bedrock"]
    assert LOAD_DEFAULT_MODELS["ollama"] == "llama3.2"
    with pytest.raises(ValueError, match="got 'ollama'"):
        check_provider("ollama")  # the SDK and the client commands keep their three
