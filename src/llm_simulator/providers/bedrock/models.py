"""Bedrock model identifiers: foundation-model ids, cross-region inference profiles and ARNs.

Bedrock names a model ``vendor.name-version`` (``anthropic.claude-haiku-4-5-20251001-v1:0``,
``meta.llama3-1-8b-instruct-v1:0``), an inference profile puts a geography in front
(``us.``, ``eu.``, ``apac.``, ``global.``…), and either may come as an ARN
(``arn:aws:bedrock:us-east-1::foundation-model/…``, ``…:inference-profile/…``). A Claude id
resolves to the catalogue's Claude model (same limits and latency profile as on
Anthropic's API); the other families Bedrock hosts get a spec of their own from ``NATIVE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_simulator.core.errors import invalid
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator

PROVIDER = "bedrock"
GEOGRAPHIES = ("us.", "us-gov.", "eu.", "apac.", "global.", "jp.", "au.", "ca.")
# ``-v1:0``, ``-v1``, ``-v2:0:200k`` (a context-window variant).
_VERSION = re.compile(r"-v\d+(?::\d+)?(?::[0-9a-z]+)?$")
# The model-family vendors whose InvokeModel bodies the simulator reads (invoke.py).
ANTHROPIC = "anthropic"
META = "meta"
AMAZON = "amazon"
# (context window, output cap) of the non-Claude models, keyed by their versionless id.
NATIVE: dict[str, tuple[int, int]] = {
    "meta.llama3-8b-instruct": (8_192, 2_048),
    "meta.llama3-70b-instruct": (8_192, 2_048),
    "meta.llama3-1-8b-instruct": (128_000, 2_048),
    "meta.llama3-1-70b-instruct": (128_000, 2_048),
    "meta.llama3-1-405b-instruct": (128_000, 4_096),
    "meta.llama3-2-1b-instruct": (128_000, 2_048),
    "meta.llama3-2-3b-instruct": (128_000, 2_048),
    "meta.llama3-3-70b-instruct": (128_000, 2_048),
    "meta.llama4-scout-17b-instruct": (3_500_000, 8_192),
    "meta.llama4-maverick-17b-instruct": (1_000_000, 8_192),
    "amazon.nova-micro": (128_000, 10_000),
    "amazon.nova-lite": (300_000, 10_000),
    "amazon.nova-pro": (300_000, 10_000),
    "amazon.nova-premier": (1_000_000, 32_000),
    "mistral.mistral-large-2407": (128_000, 8_192),
    "mistral.mistral-small-2402": (32_000, 8_192),
}


@dataclass(frozen=True, slots=True)
class BedrockModel:
    """A resolved model id: the spec, its vendor (which InvokeModel body it reads) and the id as sent."""

    spec: ModelSpec
    vendor: str
    requested: str


def base_id(model_id: str) -> str:
    """``model_id`` without its ARN prefix, geography and version: ``anthropic.claude-haiku-4-5-20251001``."""
    if model_id.startswith("arn:"):
        model_id = model_id.rpartition("/")[2]
    for geography in GEOGRAPHIES:
        if model_id.startswith(geography):
            model_id = model_id[len(geography) :]
            break
    return _VERSION.sub("", model_id)


def resolve(sim: Simulator, model_id: str) -> BedrockModel:
    """The model ``model_id`` names, or Bedrock's ``ValidationException`` for an invalid identifier.

    The id as sent is tried first (models a user configured under that name), then the
    versionless id: a Claude model by its catalogue id, another family from ``NATIVE``; with
    ``models.accept_unknown`` any other id gets a generic spec.
    """
    if not model_id:
        raise invalid("The provided model identifier is invalid.", param="modelId")
    base = base_id(model_id)
    vendor, _, name = base.partition(".")
    spec = sim.catalogue.lookup(model_id)
    if spec is None and vendor == ANTHROPIC:
        spec = sim.catalogue.lookup(name)
    if spec is None and base in NATIVE:
        context, output = NATIVE[base]
        spec = ModelSpec(base, PROVIDER, "chat", context, output, sim.config.latency.default_profile, owned_by=vendor)
    if spec is None:
        spec = sim.resolve_model(model_id, PROVIDER)  # accept_unknown: a generic spec
    if spec is None or spec.kind != "chat":
        raise invalid("The provided model identifier is invalid.", param="modelId")
    return BedrockModel(spec, vendor, model_id)
