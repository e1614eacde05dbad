"""Chaos on a stream the simulator only relays: mid-stream faults on a proxied upstream stream.

The upstream paces its tokens (30 ms apart) so each token usually arrives in a chunk of its
own. The upstream sends a stream's role chunk and first token, ready together, in one write:
the first chunk carries two events. A fault counts the chunks the proxy *reads*, and a read
that comes late (a loaded machine: the upstream a whole ITL behind writes its due tokens
together, or the proxy's loop busy) carries every event written by then: the event counts
below are therefore the least a fault after N chunks lets through, and the most is the
whole stream less its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.proxy.conftest import proxy_config

CHAT: Any = [{"role": "user", "content": "fault me"}]
BODY = {"model": "gpt-4o-mini", "messages": CHAT, "max_tokens": 20, "stream": True}


@pytest.fixture(scope="module")
def proxy() -> Iterator[SimulatorHandle]:
    paced = {"latency.enabled": True, "latency.default_profile": "paced"}
    paced["latency.profiles"] = {
        "paced": {"ttft": {"type": "fixed", "value_ms": 30}, "itl": {"type": "fixed", "value_ms": 30}}
    }
    with start_simulator(paced) as upstream, start_simulator(proxy_config(upstream)) as sim:
        yield sim


def _raw(proxy: SimulatorHandle) -> bytes:
    with httpx.stream("POST", f"{proxy.openai_base_url}/chat/completions", json=BODY, timeout=30) as response:
        assert response.status_code == 200
        return b"".join(response.iter_raw())


def test_a_disconnect_cuts_the_proxied_stream(proxy: SimulatorHandle) -> None:
    fault = {"type": "disconnect", "after_tokens": 2}
    with (
        openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0) as client,
        proxy.chaos(stream_fault=fault, providers=["openai"]),
        pytest.raises(openai.APIConnectionError),
    ):
        list(client.chat.completions.create(model="gpt-4o-mini", messages=CHAT, max_tokens=20, stream=True))
    assert proxy.requests(path="/v1/chat/completions")[-1]["status"] == 200


# The whole relayed stream's events: the role chunk, 20 tokens, the finish chunk and ``[DONE]``.
WHOLE_STREAM_EVENTS = 23


def test_no_terminator_and_malformed_end_the_relayed_stream(proxy: SimulatorHandle) -> None:
    with proxy.chaos(stream_fault={"type": "no_terminator", "after_tokens": 3}, providers=["openai"]):
        cut = _raw(proxy)
    # Three upstream chunks: at least the role chunk with the first token, then two tokens;
    # whole events only, and neither the finish chunk nor ``[DONE]``.
    assert 4 <= cut.count(b"data: ") < WHOLE_STREAM_EVENTS - 1, cut
    assert b"[DONE]" not in cut and b'"finish_reason":"length"' not in cut and cut.endswith(b"\n\n")
    with proxy.chaos(stream_fault={"type": "malformed", "after_tokens": 1}, providers=["openai"]):
        broken = _raw(proxy)
    # One upstream chunk (at least the role chunk with the first token), then the malformed frame.
    assert 3 <= broken.count(b"data: ") < WHOLE_STREAM_EVENTS, broken
    assert broken.endswith(b'"content":"trunc\n\n') and b"[DONE]" not in broken


def test_an_error_event_is_the_providers_own(proxy: SimulatorHandle) -> None:
    fault = {"type": "error_event", "after_tokens": 2, "error_type": "overloaded"}
    with (
        anthropic.Anthropic(base_url=proxy.anthropic_base_url, api_key="k", max_retries=0) as client,
        proxy.chaos(stream_fault=fault, providers=["anthropic"]),
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model="claude-3-5-haiku-latest", messages=CHAT, max_tokens=20) as stream,
    ):
        stream.get_final_message()
    assert "overloaded" in str(caught.value.body)


def test_a_stall_delays_the_rest_which_then_arrives(proxy: SimulatorHandle) -> None:
    with proxy.chaos(stream_fault={"type": "stall", "after_tokens": 1, "duration_ms": 300}, providers=["openai"]):
        whole = _raw(proxy)
    assert whole.endswith(b"data: [DONE]\n\n")
