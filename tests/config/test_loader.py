"""Configuration: one schema for files, env and flags; precedence; strict validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_simulator.config import ConfigError, load_config
from llm_simulator.config.loader import redacted, to_internal_json
from llm_simulator.config.schema import SimulatorConfig


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.yaml", "server:\n  port: 9001\nlatency:\n  multiplier: 0.5\n"),
        ("c.toml", "[server]\nport = 9001\n[latency]\nmultiplier = 0.5\n"),
        ("c.json", json.dumps({"server": {"port": 9001}, "latency": {"multiplier": 0.5}})),
    ],
)
def test_same_schema_for_yaml_toml_json(tmp_path: Path, name: str, text: str) -> None:
    config = load_config(write(tmp_path, name, text))
    assert config.server.port == 9001
    assert config.latency.multiplier == 0.5


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    file = write(tmp_path, "c.yaml", "server: {port: 1111, host: 0.0.0.0}\nseed: 1\n")
    env = {"LLM_SIMULATOR_PORT": "2222", "LLM_SIMULATOR_SEED": "2"}
    config = load_config(file, env, {"server.port": 3333})
    assert config.server.port == 3333  # flag wins
    assert config.seed == 2  # env beats file
    assert config.server.host == "0.0.0.0"  # file beats default
    assert load_config(file, {}, {}).server.port == 1111  # an unset flag never overrides


def test_nested_env_names_and_no_latency(tmp_path: Path) -> None:
    env = {"LLM_SIMULATOR_SERVER__DRAIN_TIMEOUT_S": "3", "LLM_SIMULATOR_NO_LATENCY": "true"}
    config = load_config(None, env, {})
    assert config.server.drain_timeout_s == 3
    assert config.latency.enabled is False


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.prot: unknown key"):
        load_config(write(tmp_path, "c.yaml", "server:\n  prot: 1\n"))


def test_bad_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_config(write(tmp_path, "c.yaml", "server:\n  port: 70000\n"))
    with pytest.raises(ConfigError, match=r"latency\.profiles\.x\.ttft"):
        load_config(
            write(
                tmp_path,
                "c.yaml",
                "latency:\n  profiles:\n    x:\n      ttft: {type: gamma}\n      itl: {type: fixed, value_ms: 1}\n",
            )
        )


def test_unknown_env_var_rejected() -> None:
    with pytest.raises(ConfigError, match="LLM_SIMULATOR_PROT"):
        load_config(None, {"LLM_SIMULATOR_PROT": "1"}, {})


def test_bad_boolean_env_named() -> None:
    with pytest.raises(ConfigError, match="LLM_SIMULATOR_NO_LATENCY"):
        load_config(None, {"LLM_SIMULATOR_NO_LATENCY": "maybe"}, {})


def test_unparseable_file_and_top_level(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "c.yaml", "server: [unclosed\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "c.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="unknown extension"):
        load_config(write(tmp_path, "c.ini", "x=1"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_config_is_frozen() -> None:
    config = load_config()
    with pytest.raises(Exception, match="frozen"):
        config.server.port = 1


def test_secrets_redacted_but_passed_to_workers() -> None:
    config = load_config(None, {"LLM_SIMULATOR_API_KEY": "sk-secret-1,sk-secret-2"}, {})
    assert "sk-secret" not in json.dumps(redacted(config))
    internal = to_internal_json(config)
    again = SimulatorConfig.model_validate_json(internal)
    assert [k.get_secret_value() for k in again.auth.api_keys] == ["sk-secret-1", "sk-secret-2"]


def test_lognormal_needs_one_parametrisation(tmp_path: Path) -> None:
    text = (
        "latency:\n  profiles:\n    x:\n      ttft: {type: log_normal, mean_ms: 1}\n"
        "      itl: {type: fixed, value_ms: 1}\n"
    )
    with pytest.raises(ConfigError, match="p50_ms"):
        load_config(write(tmp_path, "c.yaml", text))


def test_example_config_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "src/llm_simulator/config/example.yaml")
    assert "my-backend" in config.latency.profiles


def test_require_auth_needs_a_key() -> None:
    with pytest.raises(ConfigError, match=r"auth\.require_auth needs at least one enabled key"):
        load_config(None, {"LLM_SIMULATOR_REQUIRE_AUTH": "true"}, {})
    config = load_config(None, {"LLM_SIMULATOR_REQUIRE_AUTH": "true", "LLM_SIMULATOR_ADMIN_KEY": "sk-admin"}, {})
    assert config.auth.require_auth and config.auth.admin_keys[0].get_secret_value() == "sk-admin"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([{"name": "a"}], "exactly one of key and key_sha256"),
        ([{"name": "a", "key": "k", "key_sha256": "0" * 64}], "exactly one of key and key_sha256"),
        ([{"name": "a", "key_sha256": "xyz"}], "64 hex digits"),
        ([{"name": "a", "key": "k1"}, {"name": "a", "key": "k2"}], "duplicate names"),
        ([{"name": "a", "key": "k", "role": "root"}], "role"),
    ],
)
def test_bad_auth_keys_are_refused_naming_the_key(keys: list[dict[str, str]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, {}, {"auth.keys": keys})


def test_blank_and_repeated_keys_are_refused_without_printing_them() -> None:
    with pytest.raises(ConfigError, match="must not be empty or blank"):
        load_config(None, {}, {"auth.admin_keys": [" "]})
    with pytest.raises(ConfigError, match=r"api_keys\[0\] and keys\.ci are the same key") as caught:
        load_config(None, {}, {"auth.api_keys": ["sk-shared-1"], "auth.keys": [{"name": "ci", "key": "sk-shared-1"}]})
    assert "sk-shared-1" not in str(caught.value)


def test_config_show_masks_keys_named_in_filters() -> None:
    config = load_config(
        None,
        {},
        {
            "chaos.rules": [
                {
                    "error_type": "server_error",
                    "api_keys": ["sk-chaos-secret-key-123"],
                    "headers": {"authorization": "Bearer sk-live-verysecretkey"},
                }
            ],
            "rate_limits.tiers": [{"api_keys": ["sk-limits-secret-key-456"], "requests_per_minute": 5}],
        },
    )
    shown = json.dumps(redacted(config))
    for secret in ("sk-chaos-secret-key-123", "sk-live-verysecretkey", "sk-limits-secret-key-456"):
        assert secret not in shown
