"""Deployment specs from the ``engine`` config section (presets with overrides)."""

from __future__ import annotations

import dataclasses

from llm_simulator.config.engine import DeploymentConfig, EngineConfig
from llm_simulator.config.loader import ConfigError
from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.presets import PRESETS
from llm_simulator.engine.load.replica import EngineSettings
from llm_simulator.engine.load.stepmodel import StepTimeModel

_SETTINGS_FIELDS = (
    "max_num_seqs",
    "max_num_batched_tokens",
    "kv_blocks",
    "block_size",
    "prefix_caching",
    "chunked_prefill",
    "schedule_ahead",
    "max_waiting",
    "queue_timeout_ms",
)
_REQUIRED_STEP = ("step_ms", "weights_ms", "prefill_ms_per_token", "kv_ms_per_token")


def build_deployment(name: str, config: DeploymentConfig) -> DeploymentSpec:
    """The spec of deployment ``name``: its preset (if any) with every field the config sets replaced."""
    key = f"engine.deployments.{name}"
    if config.preset is not None:
        base = PRESETS.get(config.preset)
        if base is None:
            raise ConfigError(f"{key}.preset: unknown preset {config.preset!r} (known: {', '.join(sorted(PRESETS))})")
        settings, step = base.settings, base.step
    else:
        missing = [f for f in _REQUIRED_STEP if getattr(config.step, f) is None]
        if missing or config.kv_blocks is None:
            need = [f"step.{f}" for f in missing] + ([] if config.kv_blocks is not None else ["kv_blocks"])
            raise ConfigError(f"{key}: without a preset, set {', '.join(need)}")
        settings = EngineSettings(kv_blocks=config.kv_blocks)
        step = StepTimeModel(step_ms=0.0, weights_ms=0.0, prefill_ms_per_token=0.0, kv_ms_per_token=0.0)
        base = None
    settings = dataclasses.replace(
        settings, **{f: getattr(config, f) for f in _SETTINGS_FIELDS if getattr(config, f) is not None}
    )
    step_overrides = {f: v for f, v in config.step.model_dump().items() if v is not None}
    step = dataclasses.replace(step, **step_overrides)
    return DeploymentSpec(
        name=name,
        settings=settings,
        step=step,
        replicas=config.replicas if config.replicas is not None else (base.replicas if base else 1),
        router=config.router if config.router is not None else (base.router if base else "least_loaded"),
        description=config.description or (base.description if base else ""),
        provenance=(f"preset {config.preset}" + (" with overrides" if step_overrides else ""))
        if base
        else "configured",
        overload_status=config.overload_status
        if config.overload_status is not None
        else (base.overload_status if base else None),
        cold_start=bool(config.cold_start),
        facts=dict(base.facts) if base else {},
    )


def build_deployments(config: EngineConfig) -> dict[str, DeploymentSpec]:
    """Every configured deployment, plus the default one when it names a preset directly."""
    specs = {name: build_deployment(name, dep) for name, dep in config.deployments.items()}
    default = config.default_deployment
    if default is not None and default not in specs:
        if default not in PRESETS:
            known = sorted({*specs, *PRESETS})
            raise ConfigError(f"engine.default_deployment: unknown deployment {default!r} (known: {', '.join(known)})")
        specs[default] = PRESETS[default]
    return specs
