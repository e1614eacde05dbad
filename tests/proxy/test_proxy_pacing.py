"""Latency chaos on a proxied answer: a rule's ``latency_multiplier`` stretches the upstream's time.

The upstream paces its tokens (TTFT 200 ms, ITL 50 ms), so an answer of six tokens takes at
least 450 ms there. Through a proxy whose chaos multiplies latency by 3, its last byte must
come no earlier than 3 × that: waits are on absolute due times and never end early, so the
lower bound holds on any box; nothing here asserts an upper bound tighter than a loaded box keeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from llm_simulator.proxy.pacing import stretched
from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.proxy.conftest import paced_config, proxy_config

PACED = paced_config(200, 50)
BODY: dict[str, Any] = {"model": "paced-gpt", "messages": [{"role": "user", "content": "slow me"}], "max_tokens": 6}
UPSTREAM_S = 0.200 + 5 * 0.050  # the upstream's own time for six tokens, at least
FACTOR = 3.0


@pytest.fixture(scope="module")
def proxy() -> Iterator[SimulatorHandle]:
    with start_simulator(PACED) as upstream, start_simulator(proxy_config(upstream)) as sim:
        yield sim


def _chunk_times(proxy: SimulatorHandle, body: dict[str, Any]) -> list[float]:
    started = time.monotonic()
    times = []
    url = f"{proxy.openai_base_url}/chat/completions"
    with httpx.stream("POST", url, json=body, timeout=30) as response:
        assert response.status_code == 200
        for _ in response.iter_raw():
            times.append(time.monotonic() - started)
    return times


def test_stretched_scales_the_time_since_the_start_and_never_hurries() -> None:
    assert stretched(10.0, 10.5, 3.0) == pytest.approx(11.5)
    assert stretched(10.0, 10.5, 0.5) == pytest.approx(10.5)  # an upstream cannot be made faster


def test_a_latency_multiplier_slows_a_proxied_stream_chunk_by_chunk(proxy: SimulatorHandle) -> None:
    plain = _chunk_times(proxy, {**BODY, "stream": True})
    assert plain[-1] >= UPSTREAM_S * 0.95
    with proxy.chaos(latency_multiplier=FACTOR, providers=["openai"]):
        slowed = _chunk_times(proxy, {**BODY, "stream": True})
    # The first token (TTFT) and the last are both stretched, so the gaps between them are too.
    assert slowed[0] >= 0.200 * FACTOR * 0.95
    assert slowed[-1] >= UPSTREAM_S * FACTOR * 0.95
    assert slowed[-1] - slowed[0] >= 5 * 0.050 * FACTOR * 0.9
    assert len(slowed) >= 3  # still chunk by chunk, not one buffered body


def test_a_latency_multiplier_slows_a_whole_proxied_answer_and_sdks_read_it(proxy: SimulatorHandle) -> None:
    with (
        proxy.chaos(latency_multiplier=FACTOR, providers=["openai"]),
        openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0) as client,
    ):
        started = time.monotonic()
        answer = client.chat.completions.create(**BODY)
        took = time.monotonic() - started
    assert answer.choices[0].message.content
    assert took >= UPSTREAM_S * FACTOR * 0.95
