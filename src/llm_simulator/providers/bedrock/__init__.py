"""AWS Bedrock runtime: Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream.

All four operations live under ``/model/{modelId}/{operation}``. Clients percent-encode the
model id (``:`` in ``…-v1:0``, ``/`` in an inference-profile ARN) and the server decodes it,
so the id may itself contain ``/``: one route takes the rest of the path and the operation
is split off its last segment here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, Route
from llm_simulator.core.identity import SIGV4_SCHEME
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.bedrock import claude, llama, sigv4
from llm_simulator.providers.bedrock.converse import ConverseAnswer
from llm_simulator.providers.bedrock.converse_request import parse_converse
from llm_simulator.providers.bedrock.errors import render_error
from llm_simulator.providers.bedrock.models import ANTHROPIC, META, resolve
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.pipeline import serve_generation
from llm_simulator.providers.validation import parse_object

PREFIX = "/model/"
# Operation (the path's last segment) → the endpoint name stats and chaos filters see.
OPERATIONS = {
    "converse": "converse",
    "converse-stream": "converse",
    "invoke": "invoke",
    "invoke-with-response-stream": "invoke",
}
STREAMING = frozenset({"converse-stream", "invoke-with-response-stream"})


def operation_endpoint(params: Mapping[str, str]) -> str:
    """The endpoint name of ``{modelId}/{operation}`` (``converse`` for an unknown operation)."""
    return OPERATIONS.get(params["target"].rpartition("/")[2], "converse")


async def model_operation(sim: Simulator, request: HttpRequest) -> Response:
    """``POST /model/{modelId}/{operation}``: check the signature, resolve the model, serve the operation."""
    model_id, _, operation = request.path_params["target"].rpartition("/")
    if operation not in OPERATIONS or not model_id:
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"Unknown operation '{operation}': expected one of {', '.join(OPERATIONS)} after /model/{{modelId}}/.",
        )
    sigv4.check_request(
        sim.config.bedrock,
        request.method,
        ("model", model_id, operation),
        request.query,
        request.headers,
        request.body,
        sim.clock.wall(),
    )
    model = resolve(sim, model_id)
    body = parse_object(request.body)
    heavy = is_heavy(request)
    ceiling = model.spec.context_window
    stream = operation in STREAMING
    if OPERATIONS[operation] == "converse":
        parsed = await off_loop(heavy, ceiling, parse_converse, sim, request.headers, body, model)
        answer = ConverseAnswer(sim, request)
        return await serve_generation(sim, request, parsed.request, model.spec, answer, stream=stream, heavy=heavy)
    if model.vendor == ANTHROPIC:
        messages = await off_loop(heavy, ceiling, claude.parse_claude, sim, request, body, model)
        claude_answer = claude.ClaudeAnswer(sim, request)
        return await serve_generation(
            sim, request, messages.request, messages.spec, claude_answer, stream=stream, heavy=heavy
        )
    if model.vendor == META:
        gen = await off_loop(heavy, ceiling, llama.parse_llama, sim, request.headers, body, model)
        return await serve_generation(
            sim, request, gen, model.spec, llama.LlamaAnswer(sim, request), stream=stream, heavy=heavy
        )
    raise SimulatorError(
        ErrorKind.INVALID_REQUEST,
        f"InvokeModel reads the request bodies of the {ANTHROPIC} and {META} model families; for "
        f"{model_id} use Converse (/model/{model_id}/converse), which every model supports.",
        param="body",
    )


class BedrockProvider:
    """Routes under ``/model/`` in the Bedrock runtime's wire format (rest-json, event streams)."""

    name = "bedrock"

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def routes(self) -> list[Route]:
        """The one route every operation shares (its endpoint name from the operation)."""
        handler = partial(model_operation, self._sim)
        return [Route("POST", PREFIX + "{target:path}", handler, "converse", endpoint_of=operation_endpoint)]

    def claims(self, path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Unrouted ``/model/…`` paths and SigV4-signed requests get Bedrock's 404."""
        return path.startswith(PREFIX) or headers.get("authorization", "").startswith(SIGV4_SCHEME)

    def render_error(self, error: SimulatorError, request_id: str) -> JsonResponse:
        """Bedrock's error response."""
        return render_error(error, request_id)


__all__ = ["BedrockProvider"]
