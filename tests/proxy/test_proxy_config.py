"""The ``proxy:`` section, its flags, and the headers that cross the proxy."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_simulator.cli.flags import resolve_config
from llm_simulator.cli.main import build_parser
from llm_simulator.config.loader import ConfigError, load_config
from llm_simulator.proxy.wire import downstream_headers, upstream_headers, upstream_query
from llm_simulator.server.app import SimulatorApp


def test_flags_and_env_set_the_proxy_keys() -> None:
    args = build_parser().parse_args(["serve", "--proxy", "http://up:1", "--record", "/tmp/c"])
    config = resolve_config(args, environ={"LLM_SIMULATOR_REPLAY": "/tmp/r"})
    assert config.proxy.upstream == "http://up:1"
    assert config.proxy.record_dir == "/tmp/c"
    assert config.proxy.replay_dir == "/tmp/r"
    assert config.proxy.upstream_for("gemini") == "http://up:1"


def test_a_provider_upstream_overrides_the_default() -> None:
    config = load_config(None, {}, {"proxy.upstream": "http://a/", "proxy.upstreams": {"anthropic": "https://b"}})
    assert config.proxy.upstream_for("openai") == "http://a"
    assert config.proxy.upstream_for("anthropic") == "https://b"


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        ({"proxy.upstream": "ftp://x"}, "not an http"),
        ({"proxy.record_dir": "/tmp/x"}, "needs an upstream"),
        ({"proxy.upstreams": {"mistral": "http://x"}}, "mistral"),
        ({"proxy.read_timeout_s": 0}, "read_timeout_s"),
    ],
)
def test_bad_proxy_settings_name_the_key(flags: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_config(None, {}, flags)


def test_a_configured_key_goes_in_the_providers_own_header() -> None:
    caller = {"authorization": "Bearer sk-c", "host": "proxy", "content-length": "3", "anthropic-version": "v"}
    assert upstream_headers(caller, "openai", None)["authorization"] == "Bearer sk-c"
    assert "host" not in upstream_headers(caller, "openai", None)
    anthropic = upstream_headers({"x-api-key": "c", "anthropic-version": "v"}, "anthropic", "k")
    assert anthropic == {"x-api-key": "k", "anthropic-version": "v", "accept-encoding": "identity"}
    assert upstream_headers({"api-key": "c"}, "openai", "k")["api-key"] == "k"
    gemini = upstream_headers({"x-goog-api-key": "c"}, "gemini", "k")
    assert gemini["x-goog-api-key"] == "k"
    assert upstream_query([("key", "c"), ("alt", "sse")], "k") == [("key", "k"), ("alt", "sse")]
    assert upstream_query([("key", "c"), ("key", "d")], None) == [("key", "c"), ("key", "d")]


def test_response_headers_lose_only_what_the_server_sets_itself() -> None:
    raw = [(b"Content-Length", b"9"), (b"retry-after", b"3"), (b"x-request-id", b"up"), (b"x-frame-options", b"DENY")]
    assert downstream_headers(raw, stream=False) == [(b"retry-after", b"3"), (b"x-request-id", b"up")]
    assert downstream_headers(raw, stream=True) == [(b"retry-after", b"3"), (b"x-upstream-request-id", b"up")]


@pytest.mark.parametrize(
    ("overrides", "active"),
    [
        ({}, False),
        ({"proxy.upstream": "http://up:1"}, True),
        ({"proxy.upstreams": {"gemini": "http://g:1"}}, True),
        ({"proxy.replay_dir": "REPLAY"}, True),
    ],
)
def test_the_app_builds_the_proxy_layer_only_when_proxying_or_replaying(
    overrides: dict[str, object], active: bool, tmp_path: Path
) -> None:
    # A plain simulator's workers never import the proxy package (start-up time and memory).
    if overrides.get("proxy.replay_dir") == "REPLAY":
        overrides = {"proxy.replay_dir": str(tmp_path)}
    config = load_config(None, {}, overrides)
    assert config.proxy.active is active
    assert (SimulatorApp(config).proxy is not None) is active
