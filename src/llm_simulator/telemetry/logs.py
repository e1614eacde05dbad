"""Log records that know which request they belong to: request id and trace id on every line.

A filter on the simulator's handler copies the current request's ids (the ``RequestRecord``
of the task that logs) onto each record, so a warning raised deep in a provider still says
which request and which trace it came from, in text and in JSON lines alike.
"""

from __future__ import annotations

import logging

from llm_simulator.core.record import CURRENT


class RequestContextFilter(logging.Filter):
    """Adds ``request_id``, ``trace_id`` and ``span_id`` (when inside a request) and a text ``context``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record``; never drops one."""
        current = CURRENT.get()
        if current is not None:
            if getattr(record, "request_id", None) is None:
                record.request_id = current.request_id
            if current.trace_id and getattr(record, "trace_id", None) is None:
                record.trace_id = current.trace_id
                record.span_id = current.span_id
        request_id = getattr(record, "request_id", None)
        trace_id = getattr(record, "trace_id", None)
        parts = []
        if request_id:
            parts.append(f"request_id={request_id}")
        if trace_id:
            parts.append(f"trace_id={trace_id}")
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True
