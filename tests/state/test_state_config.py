"""The ``state`` section: file, env (``LLM_SIMULATOR_STATE``), flag (``--state``) and errors."""

from __future__ import annotations

import pytest
import yaml

from llm_simulator.config.loader import ConfigError, load_config, redacted
from llm_simulator.config.schema import SimulatorConfig
from tests.docs_examples import DOCS, doc_example


def test_the_documented_example_loads() -> None:
    config = SimulatorConfig.model_validate(yaml.safe_load(doc_example(DOCS / "scaling.md", "state-config")))
    state = config.state
    assert (state.backend, state.url, state.on_error) == ("redis", "redis://redis:6379/0", "fail_open")


def test_default_is_memory() -> None:
    assert SimulatorConfig().state.backend == "memory"


def test_env_url_selects_redis_and_memory_selects_the_default() -> None:
    config = load_config(environ={"LLM_SIMULATOR_STATE": "redis://10.0.0.5:6379/2"})
    assert (config.state.backend, config.state.url) == ("redis", "redis://10.0.0.5:6379/2")
    assert load_config(environ={"LLM_SIMULATOR_STATE": "memory"}).state.backend == "memory"


def test_flag_sets_the_url() -> None:
    config = load_config(flags={"state.url": "rediss://cache:6380/0"}, environ={})
    assert config.state.backend == "redis"


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"backend": "redis"}, "needs state.url"),
        ({"url": "http://redis:6379"}, "must start with redis://"),
        ({"url": "redis://r:6379", "on_error": "explode"}, "on_error"),
        ({"url": "redis://r:6379", "timeout_s": 0}, "timeout_s"),
    ],
)
def test_bad_values_name_the_key(state: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(flags={f"state.{k}": v for k, v in state.items()}, environ={})


def test_config_show_never_echoes_the_redis_password() -> None:
    config = load_config(environ={"LLM_SIMULATOR_STATE": "redis://:hunter2@cache:6379/0"})
    shown = redacted(config)["state"]["url"]
    assert "hunter2" not in shown and shown.startswith("redis://:") and shown.endswith("@cache:6379/0")
