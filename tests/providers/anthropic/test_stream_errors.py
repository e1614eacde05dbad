"""Errors inside a 200 event stream: the ``event: error`` frame and what the SDK makes of it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from anthropic._streaming import SSEDecoder

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.providers.anthropic.errors import stream_error_frame
from tests.live import LiveServer, live_server
from tests.providers.anthropic.helpers import MODEL, split_events


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [
        (ErrorKind.UNAVAILABLE, "overloaded_error"),
        (ErrorKind.OVERLOADED, "overloaded_error"),
        (ErrorKind.SERVER_ERROR, "api_error"),
        (ErrorKind.RATE_LIMIT, "rate_limit_error"),
        (ErrorKind.TIMEOUT, "timeout_error"),
    ],
)
def test_error_frame_shape(kind: ErrorKind, error_type: str) -> None:
    frame = stream_error_frame(SimulatorError(kind, 'Try again "later".'))
    assert split_events(frame) == [
        ("error", {"type": "error", "error": {"type": error_type, "message": 'Try again "later".'}})
    ]
    events = list(SSEDecoder().iter_bytes(iter([frame[:7], frame[7:30], frame[30:]])))
    assert len(events) == 1
    assert events[0].event == "error"
    assert events[0].json() == {"type": "error", "error": {"type": error_type, "message": 'Try again "later".'}}


@pytest.fixture
def draining_server(tmp_path: Path) -> Iterator[LiveServer]:
    """Real-time latencies, 3000-token answers, and no drain grace: shutdown cuts a stream short.

    uvicorn, because granian drops the connection at the drain deadline instead of letting
    the app send its closing frame.
    """
    config = tmp_path / "config.yaml"
    config.write_text("generation:\n  output_tokens: {type: fixed, value_tokens: 3000}\n")
    with live_server("--server", "uvicorn", "--drain-timeout", "0", "--config", str(config)) as live:
        yield live


def test_shutdown_mid_stream_ends_with_error_event(draining_server: LiveServer) -> None:
    with anthropic.Anthropic(base_url=draining_server.url, api_key="k", max_retries=0) as client:
        stream = client.messages.create(
            model=MODEL, max_tokens=3000, messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        events = iter(stream)
        assert next(events).type == "message_start"
        draining_server.process.send_signal(signal.SIGTERM)
        seen: list[str] = []
        with pytest.raises(anthropic.APIStatusError) as info:
            seen.extend(event.type for event in events)
    assert "message_stop" not in seen
    assert info.value.status_code == 200  # the error came inside the 200 stream
    body = info.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "overloaded_error"
    assert "shutting down" in body["error"]["message"]
