"""The proxy's added latency: the same requests direct to a simulator and through a proxy in front of it.

Run: ``PYTHONPATH=src python bench/proxy_overhead.py [N]``. Each server runs in its own process
(no latency, request log off), requests are sequential over one keep-alive client, direct and
proxied interleaved per round so load drifts hit both alike. Prints the median and p90 per
request, non-streamed and streamed (100 tokens), and the added time per streamed chunk.
"""

from __future__ import annotations

import statistics
import sys
import time

import httpx

from llm_simulator.testing import start_simulator

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
QUIET = {"telemetry.request_log.enabled": False}


def _time(client: httpx.Client, url: str, stream: bool) -> tuple[float, int]:
    """Seconds for one whole answer, and its chunk count."""
    started = time.perf_counter()
    chunks = 0
    with client.stream("POST", url, json={**BODY, "stream": stream}) as response:
        for _ in response.iter_raw():
            chunks += 1
    return time.perf_counter() - started, chunks


def main(rounds: int) -> None:
    """Measure ``rounds`` interleaved direct and proxied requests of each kind."""
    with (
        start_simulator(QUIET, subprocess=True) as upstream,
        start_simulator({**QUIET, "proxy.upstream": upstream.url}, subprocess=True) as proxy,
        httpx.Client(timeout=30) as client,
    ):
        for stream in (False, True):
            direct: list[float] = []
            proxied: list[float] = []
            chunks = 0
            for _ in range(rounds):
                direct.append(_time(client, f"{upstream.openai_base_url}/chat/completions", stream)[0])
                seconds, chunks = _time(client, f"{proxy.openai_base_url}/chat/completions", stream)
                proxied.append(seconds)
            d50, p50 = statistics.median(direct) * 1000, statistics.median(proxied) * 1000
            d90 = statistics.quantiles(direct, n=10)[-1] * 1000
            p90 = statistics.quantiles(proxied, n=10)[-1] * 1000
            kind = "streamed" if stream else "non-streamed"
            print(
                f"{kind:13} direct p50 {d50:.2f} ms p90 {d90:.2f} | proxied p50 {p50:.2f} ms p90 {p90:.2f}"
                f" | added p50 {p50 - d50:.2f} ms"
                + (f" ({(p50 - d50) / chunks * 1000:.1f} us/chunk, {chunks} chunks)" if stream else "")
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
