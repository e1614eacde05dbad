"""``/metrics`` on a real server with several worker processes: every scrape counts every worker."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.live import live_server

REQUESTS = 40


def _scrape(url: str) -> tuple[float, float]:
    """(chat requests counted, workers merged) from one scrape on a fresh connection."""
    text = httpx.get(url + "/metrics", timeout=10).text
    chat = workers = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "llm_simulator_requests_total" and sample.labels.get("endpoint") == "chat":
                chat += sample.value
            elif sample.name == "llm_simulator_workers":
                workers = sample.value
    return chat, workers


def test_every_scrape_merges_both_workers() -> None:
    with live_server("--workers", "2", "--no-latency") as server:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
        for _ in range(REQUESTS):
            # A new connection each time, so the requests spread over the workers.
            with httpx.Client(timeout=10) as client:
                assert client.post(server.openai_base + "/chat/completions", json=body).status_code == 200
        deadline = time.monotonic() + 15
        seen: list[tuple[float, float]] = []
        while time.monotonic() < deadline:
            seen = [_scrape(server.url) for _ in range(6)]
            if all(s == (REQUESTS, 2) for s in seen):
                break
            time.sleep(0.5)  # a worker shares its aggregates once per flush interval (1 s)
        assert seen and all(s == (REQUESTS, 2) for s in seen), seen
        stats = httpx.get(server.url + "/admin/stats", timeout=10).json()
        assert stats["workers"] == 2
        assert sum(r["count"] for r in stats["requests"] if r["endpoint"] == "chat") == REQUESTS
        # A reset reaches every worker, and requests right after it are all counted (a worker
        # that learns of the reset late must not wipe what it served in the meantime).
        assert httpx.post(server.url + "/admin/stats/reset", timeout=10).status_code == 200
        after = 10
        for _ in range(after):
            with httpx.Client(timeout=10) as client:
                assert client.post(server.openai_base + "/chat/completions", json=body).status_code == 200
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            seen = [_scrape(server.url) for _ in range(6)]
            if all(s == (after, 2) for s in seen):
                break
            time.sleep(0.5)
        assert all(s == (after, 2) for s in seen), seen
