"""Latency distribution specs (data only; sampling lives in the engine).

Tagged by ``type`` so YAML/TOML/JSON configs read naturally::

    ttft: {type: log_normal, p50_ms: 300, p99_ms: 1200}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FixedSpec(_Spec):
    """Always ``value_ms``."""

    type: Literal["fixed"] = "fixed"
    value_ms: float = Field(ge=0)


class NormalSpec(_Spec):
    """Gaussian, clamped at zero."""

    type: Literal["normal"] = "normal"
    mean_ms: float = Field(ge=0)
    std_dev_ms: float = Field(ge=0)


class LogNormalSpec(_Spec):
    """Log-normal, given by ``mean_ms``/``std_dev_ms`` or by ``p50_ms``/``p99_ms``."""

    type: Literal["log_normal"] = "log_normal"
    mean_ms: float | None = Field(default=None, gt=0)
    std_dev_ms: float | None = Field(default=None, ge=0)
    p50_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_parametrisation(self) -> LogNormalSpec:
        by_moments = self.mean_ms is not None and self.std_dev_ms is not None
        by_quantiles = self.p50_ms is not None and self.p99_ms is not None
        if by_moments == by_quantiles:
            raise ValueError("log_normal needs either mean_ms+std_dev_ms or p50_ms+p99_ms")
        if by_quantiles and self.p99_ms is not None and self.p50_ms is not None and self.p99_ms < self.p50_ms:
            raise ValueError("log_normal p99_ms must be >= p50_ms")
        return self


class UniformSpec(_Spec):
    """Uniform between ``min_ms`` and ``max_ms``."""

    type: Literal["uniform"] = "uniform"
    min_ms: float = Field(ge=0)
    max_ms: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> UniformSpec:
        if self.max_ms < self.min_ms:
            raise ValueError("uniform max_ms must be >= min_ms")
        return self


class ExponentialSpec(_Spec):
    """Exponential with mean ``mean_ms``."""

    type: Literal["exponential"] = "exponential"
    mean_ms: float = Field(gt=0)


class ParetoSpec(_Spec):
    """Pareto (type I) with minimum ``scale_ms`` and tail index ``shape``."""

    type: Literal["pareto"] = "pareto"
    scale_ms: float = Field(gt=0)
    shape: float = Field(gt=0)


class EmpiricalSpec(_Spec):
    """Samples drawn uniformly from recorded values."""

    type: Literal["empirical"] = "empirical"
    values_ms: tuple[float, ...] = Field(min_length=1)


class MixtureComponent(_Spec):
    """One weighted component of a mixture."""

    weight: float = Field(gt=0)
    dist: DistributionSpec


class MixtureSpec(_Spec):
    """Picks a component by weight, then samples it (e.g. a rare cold-start tail)."""

    type: Literal["mixture"] = "mixture"
    components: tuple[MixtureComponent, ...] = Field(min_length=1)


DistributionSpec = Annotated[
    FixedSpec | NormalSpec | LogNormalSpec | UniformSpec | ExponentialSpec | ParetoSpec | EmpiricalSpec | MixtureSpec,
    Field(discriminator="type"),
]

MixtureComponent.model_rebuild()
MixtureSpec.model_rebuild()


class LatencyProfileSpec(_Spec):
    """A latency profile: overhead, time to first token and inter-token latency.

    ``prefill_ms_per_token`` adds prompt-length-dependent prefill time to the TTFT.
    """

    ttft: DistributionSpec
    itl: DistributionSpec
    overhead_ms: float = Field(default=0.0, ge=0)
    prefill_ms_per_token: float = Field(default=0.0, ge=0)
    description: str = ""
