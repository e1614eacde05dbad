"""W3C Trace Context: read a caller's ``traceparent`` and mint ids for new traces.

``traceparent: 00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>``. An all-zero id,
an unknown version ``ff`` or a malformed value is ignored (a new trace starts), as the
specification requires; versions above 00 are read by their first four fields.
"""

from __future__ import annotations

import re

from llm_simulator.core.record import RequestRecord
from llm_simulator.infra.rng import IDS

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def parse_traceparent(value: str) -> tuple[str, str, bool] | None:
    """(trace id, parent span id, sampled) of a valid header value, else None."""
    match = _TRACEPARENT.fullmatch(value.strip().lower())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, bool(int(flags, 16) & 0x01)


def assign_trace(rec: RequestRecord, traceparent: str | None) -> None:
    """Give ``rec`` its trace id (the caller's, or a new one) and its own span id."""
    parent = parse_traceparent(traceparent) if traceparent else None
    if parent is not None:
        rec.trace_id, rec.parent_span_id, rec.trace_sampled = parent
    else:
        rec.trace_id = IDS.hex(16)
    rec.span_id = IDS.hex(8)
