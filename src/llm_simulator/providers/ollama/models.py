"""``GET /api/tags``, ``POST /api/show``, ``GET /api/ps`` and ``GET /api/version``: the local models.

Every Ollama model of the catalogue counts as pulled. Sizes, parameter counts and
quantisations of the built-in models are those of the Ollama library's default tags;
a model added in the config gets neutral details. Digests are the SHA-256 of the model
name: stable across runs, distinct per model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.ollama.chat import parse_body
from llm_simulator.providers.ollama.common import JSON_HEADERS, PROVIDER, LoadedModels, require_model, timestamp
from llm_simulator.providers.ollama.request import get_flag, get_string

# The Ollama release whose API this simulates (``/api/version``).
VERSION = "0.13.0"
# What ``GET /`` answers (Ollama's root handler).
RUNNING = b"Ollama is running"


@dataclass(frozen=True, slots=True)
class Details:
    """A model's ``details``: architecture family, parameter count and quantisation, and its size on disk."""

    family: str
    parameters: float  # billions
    quantization: str
    size: int  # bytes

    @property
    def parameter_size(self) -> str:
        """``3.2B``, ``137M``: as Ollama prints it."""
        if self.parameters < 1:
            return f"{round(self.parameters * 1000)}M"
        return f"{self.parameters:.1f}B"


GB = 1_000_000_000
MB = 1_000_000
# The library's default tags (https://ollama.com/library).
LIBRARY: dict[str, Details] = {
    "llama3.2:latest": Details("llama", 3.2, "Q4_K_M", 2_019_393_189),
    "llama3.1:8b": Details("llama", 8.0, "Q4_K_M", 4_920_753_328),
    "mistral:latest": Details("llama", 7.2, "Q4_K_M", 4_113_301_824),
    "qwen2.5-coder:7b": Details("qwen2", 7.6, "Q4_K_M", 4_683_087_332),
    "qwen3:8b": Details("qwen3", 8.2, "Q4_K_M", 5_225_388_164),
    "deepseek-r1:8b": Details("qwen3", 8.2, "Q4_K_M", 5_225_376_047),
    "gpt-oss:20b": Details("gptoss", 20.9, "MXFP4", 13_780_173_839),
    "gemma3:4b": Details("gemma3", 4.3, "Q4_K_M", 3_338_801_804),
    "nomic-embed-text:latest": Details("nomic-bert", 0.137, "F16", 274 * MB),
    "mxbai-embed-large:latest": Details("bert", 0.334, "F16", 669 * MB),
    "all-minilm:latest": Details("bert", 0.023, "F16", 46 * MB),
}


def details_of(spec: ModelSpec) -> Details:
    """The library's details of ``spec``, or neutral ones for a model added in the config."""
    known = LIBRARY.get(spec.id)
    if known is not None:
        return known
    family = spec.id.split(":", 1)[0].rstrip("0123456789.") or "llama"
    return Details(family, 0.137 if spec.is_embedding else 7.0, "Q4_K_M", GB)


def digest(spec: ModelSpec) -> str:
    """A stable digest for the model (SHA-256 of its id, hex)."""
    return hashlib.sha256(spec.id.encode()).hexdigest()


def details_object(details: Details) -> dict[str, Any]:
    """The ``details`` object of the listings and ``/api/show``."""
    return {
        "parent_model": "",
        "format": "gguf",
        "family": details.family,
        "families": [details.family],
        "parameter_size": details.parameter_size,
        "quantization_level": details.quantization,
    }


def capabilities(spec: ModelSpec) -> list[str]:
    """Ollama's capability names for ``spec`` (``completion``, ``tools``, ``thinking``, ``vision``, ``embedding``)."""
    if spec.is_embedding:
        return ["embedding"]
    names = ["completion"]
    caps = spec.capabilities
    names += [
        name for cap, name in (("tools", "tools"), ("reasoning", "thinking"), ("vision", "vision")) if cap in caps
    ]
    return names


def _entry(spec: ModelSpec) -> dict[str, Any]:
    details = details_of(spec)
    return {
        "name": spec.id,
        "model": spec.id,
        "modified_at": timestamp(spec.created),
        "size": details.size,
        "digest": digest(spec),
        "details": details_object(details),
    }


def _json(body: object) -> JsonResponse:
    return JsonResponse(200, orjson.dumps(body), list(JSON_HEADERS))


async def tags(sim: Simulator, request: HttpRequest) -> Response:
    """``GET /api/tags``: every local (catalogue) Ollama model."""
    return _json({"models": [_entry(spec) for spec in sim.catalogue.list_models(PROVIDER)]})


async def show(sim: Simulator, request: HttpRequest) -> Response:
    """``POST /api/show``: a model's details, model info, capabilities, template and parameters."""
    body = parse_body(request.body)
    name = get_string(body, "model", "ShowRequest") or get_string(body, "name", "ShowRequest")
    spec = require_model(sim, name)
    get_flag(body, "verbose", "ShowRequest", False)
    details = details_of(spec)
    arch = details.family
    info: dict[str, Any] = {
        "general.architecture": arch,
        "general.parameter_count": round(details.parameters * 1e9),
        "general.quantization_version": 2,
        f"{arch}.context_length": spec.context_window,
    }
    if spec.embedding_dimensions is not None:
        info[f"{arch}.embedding_length"] = spec.embedding_dimensions
    return _json(
        {
            "license": "Simulated model: no weights, no license.",
            "modelfile": f"# Modelfile generated by llm-simulator\nFROM {spec.id}\n",
            "parameters": "" if spec.is_embedding else 'stop "<|eot_id|>"',
            "template": "" if spec.is_embedding else "{{ .Prompt }}",
            "details": details_object(details),
            "model_info": info,
            "capabilities": capabilities(spec),
            "modified_at": timestamp(spec.created),
        }
    )


async def ps(sim: Simulator, loaded: LoadedModels, request: HttpRequest) -> Response:
    """``GET /api/ps``: the models used within their ``keep_alive`` (in this worker process)."""
    models = []
    for model_id, until in loaded.loaded(sim.clock.wall()):
        spec = sim.catalogue.lookup(model_id) or require_model(sim, model_id)
        entry = _entry(spec)
        del entry["modified_at"]
        entry.update(
            {"expires_at": timestamp(until), "size_vram": entry["size"], "context_length": spec.context_window}
        )
        models.append(entry)
    return _json({"models": models})


async def version(request: HttpRequest) -> Response:
    """``GET /api/version``."""
    return _json({"version": VERSION})


async def running(request: HttpRequest) -> Response:
    """``GET /``: Ollama's plain-text liveness answer, which health checks and clients probe."""
    return JsonResponse(200, RUNNING, [(b"content-type", b"text/plain; charset=utf-8")])
