"""Chaos on a stream the simulator did not write: a forwarded or a replayed one.

Admission may give a request a stream fault (a chaos rule's ``stream_fault``, or the
``x-simulator-chaos`` header). On a relayed stream it strikes after ``after_tokens``
*chunks* (an upstream chunk carries one event or more, never a known token count) and acts
as on a simulated stream, through the same wire arms (``core/faults.FAULT_ACTIONS``): a
stall pauses, an ``error_event`` ends the stream with the provider's in-stream error, the
rest are cut, unterminated or malformed at the wire by the server, in the provider's shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.faults import FAULT_ACTIONS, FaultAction, StreamCut, StreamFault
from llm_simulator.core.http import Headers, StreamResponse
from llm_simulator.core.sse import sse_frame
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.anthropic.errors import stream_error_frame as anthropic_error_frame
from llm_simulator.providers.anthropic.messages import MALFORMED_EVENT as ANTHROPIC_MALFORMED
from llm_simulator.providers.gemini.chunks import MALFORMED_CHUNK as GEMINI_MALFORMED
from llm_simulator.providers.gemini.errors import sse_error_frame as gemini_error_frame
from llm_simulator.providers.openai.common import MALFORMED_CHUNK as OPENAI_MALFORMED
from llm_simulator.providers.openai.errors import stream_error_frame as openai_error_frame

# Each provider's in-stream error frame and malformed frame (what its own streams use).
_SHAPES: dict[str, tuple[Callable[[SimulatorError], bytes], bytes]] = {
    "openai": (openai_error_frame, OPENAI_MALFORMED),
    "anthropic": (anthropic_error_frame, ANTHROPIC_MALFORMED),
    "gemini": (gemini_error_frame, sse_frame(GEMINI_MALFORMED)),
}


def relayed_stream(
    frames: AsyncIterator[bytes], headers: Headers, provider: str, fault: StreamFault | None, sim: Simulator
) -> StreamResponse:
    """A relayed stream in ``provider``'s shape, with ``fault`` (if any) applied to its chunks."""
    on_error, malformed = _SHAPES.get(provider, _SHAPES["openai"])
    if fault is not None:
        frames = _faulted(frames, fault, sim)
    return StreamResponse(frames, headers, on_error, malformed=malformed)


async def _faulted(frames: AsyncIterator[bytes], fault: StreamFault, sim: Simulator) -> AsyncIterator[bytes]:
    """``frames`` until ``fault.after_tokens`` chunks have passed; then the fault strikes."""
    pending: StreamFault | None = fault
    sent = 0
    try:
        async for chunk in frames:
            if pending is not None and sent >= pending.after_tokens:
                action = FAULT_ACTIONS[pending.kind]
                if action is FaultAction.PAUSE:
                    await sim.pause(pending.duration_s)
                    pending = None  # a stall delays the rest, which then goes on
                elif action is FaultAction.ERROR_FRAME and pending.error is not None:
                    raise pending.error
                else:
                    raise StreamCut(pending)
            yield chunk
            sent += 1
    finally:
        # Close the relay now (it returns the upstream connection to the pool), not at GC.
        close = getattr(frames, "aclose", None)
        if close is not None:
            await close()
