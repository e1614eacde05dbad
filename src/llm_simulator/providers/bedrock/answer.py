"""What every Bedrock answer shares: the provider name, no rate-limit headers, a start time, event streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

from llm_simulator.core.http import HttpRequest, StreamResponse
from llm_simulator.core.types import GenerationPlan
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.admission import no_limit_headers
from llm_simulator.providers.bedrock.errors import stream_exception
from llm_simulator.providers.bedrock.frames import MALFORMED_FRAME, stream_headers

# InvokeModelWithResponseStream names the model's content type in a header of its own.
INVOKE_STREAM_CONTENT_TYPE = (b"x-amzn-bedrock-content-type", b"application/json")


class BedrockAnswer:
    """The base of the Converse, Claude and Llama answers (``pipeline.Answer``'s shared half).

    Bedrock sends no rate-limit headers; its latency figures (``metrics.latencyMs``, the
    invocation metrics) count from ``started``, when the handler took the request.
    """

    __slots__ = ("_request", "_started", "sim")

    provider = "bedrock"
    limit_headers = staticmethod(no_limit_headers)

    def __init__(self, sim: Simulator, request: HttpRequest) -> None:
        self.sim = sim
        self._request = request
        self._started = sim.clock.now()

    def elapsed(self) -> float:
        """Seconds since the request was taken, on the simulator's clock."""
        return self.sim.clock.now() - self._started

    def begin(self, plan: GenerationPlan) -> None:
        """Nothing to stamp by default (only Claude's message has an id)."""

    def event_stream(self, frames: AsyncIterator[bytes], *extra: tuple[bytes, bytes]) -> StreamResponse:
        """An event-stream response of ``frames``, with Bedrock's exception and broken frames."""
        return StreamResponse(
            frames, stream_headers(self._request, *extra), stream_exception, malformed=MALFORMED_FRAME
        )
