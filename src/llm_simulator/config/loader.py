"""Load the effective configuration from defaults, a file, the environment and flags.

Precedence (highest first): command-line flags > ``LLM_SIMULATOR_*`` environment variables >
config file > built-in defaults. A flag or variable that is not set never overrides a lower
source. The result is validated once and frozen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import orjson
from pydantic import SecretStr, ValidationError

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.redact import is_secret_header, mask

ENV_PREFIX = "LLM_SIMULATOR_"
REDACTED = "**********"

# Short environment names (documented in docs/configuration.md) and the key each one sets.
ENV_KEYS: dict[str, str] = {
    "HOST": "server.host",
    "PORT": "server.port",
    "WORKERS": "server.workers",
    "SERVER": "server.implementation",
    "SINGLE_PROCESS": "server.single_process",
    "MAX_BODY_BYTES": "server.max_body_bytes",
    "DRAIN_TIMEOUT": "server.drain_timeout_s",
    "MAX_CONCURRENT": "security.max_concurrent_requests",
    "TIMEOUT": "security.request_timeout_s",
    "SEED": "seed",
    "NO_LATENCY": "latency.enabled",  # inverted: a true value disables latency
    "LATENCY_MULTIPLIER": "latency.multiplier",
    "LATENCY_PROFILE": "latency.default_profile",
    "ENGINE": "engine.default_deployment",
    "STRATEGY": "generation.strategy",
    "ACCEPT_UNKNOWN_MODELS": "models.accept_unknown",
    "LOG_LEVEL": "logging.level",
    "JSON_LOGS": "logging.json_logs",
    "ACCESS_LOG": "logging.access_log",
    "REQUIRE_AUTH": "auth.require_auth",
    "API_KEY": "auth.api_keys",  # comma-separated
    "ADMIN_KEY": "auth.admin_keys",  # comma-separated
    "FIXTURES": "fixtures.files",  # comma-separated
    "CHAOS": "chaos.enabled",
    "CHAOS_PROBABILITY": "chaos.probability",
    "CHAOS_PRESET": "chaos.preset",
    "RATE_LIMITS": "rate_limits.enabled",
    "OTLP_ENDPOINT": "telemetry.tracing.otlp_endpoint",
    "PROXY": "proxy.upstream",
    "RECORD": "proxy.record_dir",
    "REPLAY": "proxy.replay_dir",
    "STATE": "state.url",
}
# The OpenTelemetry SDKs' standard variable, honoured like an LLM_SIMULATOR_ one (ours wins).
OTEL_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
# Variables read by the CLI itself rather than mapped onto the schema.
ENV_NOT_SCHEMA = {"CONFIG", "INTERNAL_CONFIG_JSON"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """The configuration is invalid; the message names every offending key."""


def _parse(suffix: str, raw: str) -> Any:
    """The document in ``raw`` (a ``ValueError`` if it does not parse).

    The parsers are imported for the file that needs one: a server started without a config
    file loads neither (start-up time).
    """
    if suffix == ".json":
        return json.loads(raw)  # JSONDecodeError is a ValueError
    if suffix == ".toml":
        import tomllib

        return tomllib.loads(raw)  # so is TOMLDecodeError
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError(exc) from exc


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a YAML, TOML or JSON config file (chosen by extension) into a mapping."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    if suffix not in {".yaml", ".yml", ".toml", ".json"}:
        raise ConfigError(f"config file {path}: unknown extension {suffix!r} (use .yaml, .toml or .json)")
    try:
        data = _parse(suffix, raw)
    except ValueError as exc:
        raise ConfigError(f"config file {path} is not valid {suffix[1:].upper()}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of keys")
    return data


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Translate ``LLM_SIMULATOR_*`` variables into dotted keys; unknown names are errors.

    Besides the short names in ``ENV_KEYS``, any key is reachable as
    ``LLM_SIMULATOR_<SECTION>__<KEY>`` (double underscore between levels).
    """
    out: dict[str, Any] = {}
    if environ.get(OTEL_ENDPOINT_ENV):
        out[ENV_KEYS["OTLP_ENDPOINT"]] = environ[OTEL_ENDPOINT_ENV]
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        short = name[len(ENV_PREFIX) :]
        if short in ENV_NOT_SCHEMA:
            continue
        if short in ENV_KEYS:
            key = ENV_KEYS[short]
            if short == "NO_LATENCY":
                out[key] = not _parse_bool(name, value)
            elif short in ("API_KEY", "ADMIN_KEY", "FIXTURES"):
                out[key] = [k.strip() for k in value.split(",") if k.strip()]
            else:
                out[key] = value
        elif "__" in short:
            out[".".join(part.lower() for part in short.split("__"))] = value
        else:
            raise ConfigError(f"unknown environment variable {name}")
    return out


def _parse_bool(name: str, value: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ConfigError(f"{name}: expected a boolean (true/false), got {value!r}")


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _anchor_fixture_files(tree: dict[str, Any], base: Path) -> None:
    """Make the file's relative ``fixtures.files`` (and adapter source files) relative to its directory.

    Paths from the environment or flags stay relative to the working directory. Anything
    malformed is left for validation to report.
    """
    section = tree.get("fixtures")
    if isinstance(section, dict) and isinstance(section.get("files"), list):
        section["files"] = [
            str(base / item) if isinstance(item, str) and not Path(item).is_absolute() else item
            for item in section["files"]
        ]
    # The latency-profiles adapter's file sources, likewise.
    adapters = tree.get("adapters")
    for name in ("latency_profiles", "observatory", "router", "lineage"):
        section = adapters.get(name) if isinstance(adapters, dict) else None
        sources = section.get("sources") if isinstance(section, dict) else None
        for source in sources if isinstance(sources, list) else []:
            path = source.get("file") if isinstance(source, dict) else None
            if isinstance(path, str) and path and not Path(path).is_absolute():
                source["file"] = str(base / path)


def load_config(
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> SimulatorConfig:
    """Build the effective, validated, frozen configuration.

    ``flags`` maps dotted keys (``server.port``) to values and must contain only the flags the
    user actually passed.
    """
    tree: dict[str, Any] = read_config_file(file) if file is not None else {}
    if file is not None:
        _anchor_fixture_files(tree, file.parent)
    for dotted, value in env_overrides(environ or {}).items():
        _set_dotted(tree, dotted, value)
    for dotted, value in (flags or {}).items():
        _set_dotted(tree, dotted, value)
    try:
        return SimulatorConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming the dotted key."""
    lines = ["invalid configuration:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {loc or '<root>'}: {msg}")
    return "\n".join(lines)


def to_internal_json(config: SimulatorConfig) -> str:
    """The configuration as JSON *with secrets revealed*, to hand to worker processes only."""

    def reveal(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    return orjson.dumps(config.model_dump(mode="python"), default=reveal).decode()


def redacted(config: SimulatorConfig) -> dict[str, Any]:
    """The configuration as plain data with every secret replaced by ``**********``."""
    data: dict[str, Any] = config.model_dump(mode="json")
    # Keys named in filters are secrets too, though not SecretStr (they are matched as text).
    for rule in data["chaos"]["rules"]:
        rule["api_keys"] = [mask(k) for k in rule["api_keys"]]
        rule["headers"] = {k: mask(v) if is_secret_header(k) else v for k, v in rule["headers"].items()}
    for tier in data["rate_limits"]["tiers"]:
        tier["api_keys"] = [mask(k) for k in tier["api_keys"]]
    # Collector and webhook credentials travel in headers of any name (X-Honeycomb-Team…) and
    # in URLs (user:password@, ?token=): every such header value and URL secret is masked.
    telemetry = data["telemetry"]
    tracing = telemetry["tracing"]
    tracing["otlp_endpoint"] = _redacted_url(tracing["otlp_endpoint"])
    for holder in (tracing, *telemetry["events"]["sinks"]):
        holder["headers"] = {k: mask(v) for k, v in holder["headers"].items()}
    for sink in telemetry["events"]["sinks"]:
        sink["url"] = _redacted_url(sink["url"])
        sink["endpoint"] = _redacted_url(sink["endpoint"])
    # redis://:password@host/0
    data["state"]["url"] = _redacted_url(data["state"]["url"])
    return data


def _redacted_url(url: str | None) -> str | None:
    """``url`` with its password and every query value masked (None stays None)."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:{REDACTED}@{host}"
    query = "&".join(f"{quote(k)}={REDACTED}" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
