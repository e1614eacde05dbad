"""Building a ``Simulator``'s parts from its configuration, checked once at start-up.

The latency profiles compiled, the fixture files loaded, the models a configured engine
deployment serves: each raises ``ConfigError`` naming the setting that is wrong.
"""

from __future__ import annotations

from pathlib import Path

from llm_simulator.config.loader import ConfigError
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.engine.catalogue import Catalogue
from llm_simulator.engine.latency.profiles import BUILTIN_PROFILES
from llm_simulator.engine.script import FixtureError, Script, load_fixture_file
from llm_simulator.engine.script.shared import SharedFixtures
from llm_simulator.engine.timing import CompiledProfile
from llm_simulator.infra.clock import Clock
from llm_simulator.infra.state import StepStore


def assign_deployments(config: SimulatorConfig, catalogue: Catalogue) -> dict[str, str]:
    """Model id → the configured deployment that serves it (models listed under a deployment)."""
    assigned: dict[str, str] = {}
    for name, deployment in config.engine.deployments.items():
        for model_id in deployment.models:
            spec = catalogue.resolve(model_id, "openai") or next(
                (m for m in catalogue.list_models() if m.id == model_id), None
            )
            if spec is None:
                raise ConfigError(f"engine.deployments.{name}.models: unknown model {model_id!r}")
            if spec.id in assigned and assigned[spec.id] != name:
                raise ConfigError(
                    f"engine.deployments.{name}.models: {spec.id} is already served by {assigned[spec.id]!r}"
                )
            assigned[spec.id] = name
    return assigned


def build_script(config: SimulatorConfig, clock: Clock, steps: StepStore | None) -> tuple[Script, SharedFixtures]:
    """The fixture registry, with the configured files loaded in order (steps: the fleet's).

    Also its admin API front (``SharedFixtures``), which rebuilds from those files.
    """
    fixtures = config.fixtures
    script = Script(clock, session_header=fixtures.session_header, max_sessions=fixtures.max_sessions)
    script.steps, script.strict = steps, fixtures.strict
    base = []
    for path in fixtures.files:
        try:
            loaded = load_fixture_file(Path(path))
            script.load(loaded, replace=False, origin=path)
        except FixtureError as exc:
            raise ConfigError(f"fixtures.files: {exc}") from None
        base.append((loaded, path))
    return script, SharedFixtures(script, base)


def compile_profiles(config: SimulatorConfig, catalogue: Catalogue) -> dict[str, CompiledProfile]:
    """Every latency profile the server knows (built in, configured, an adapter's fallback), compiled.

    Checks that the default profile and every model's profile exist; with latency off each one
    is the instant profile.
    """
    specs = {**BUILTIN_PROFILES, **config.latency.profiles}
    # Profiles an adapter provides serve their fallback until its first good fetch.
    for name, fallback in config.adapters.declared_profiles().items():
        if fallback not in specs:
            raise ConfigError(f"adapters.latency_profiles.sources: {name}: unknown fallback profile {fallback!r}")
        specs[name] = specs[fallback]
    known = sorted(specs)
    if config.latency.default_profile not in specs:
        raise ConfigError(
            f"latency.default_profile: unknown profile {config.latency.default_profile!r} (known: {', '.join(known)})"
        )
    for model in catalogue.list_models():
        if model.latency_profile not in specs:
            raise ConfigError(f"models: {model.id} uses unknown latency profile {model.latency_profile!r}")
    if not config.latency.enabled:
        instant = CompiledProfile.compile("instant", BUILTIN_PROFILES["instant"], 0.0)
        return dict.fromkeys(specs, instant)
    return {name: CompiledProfile.compile(name, spec, config.latency.multiplier) for name, spec in specs.items()}
