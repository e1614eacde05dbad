"""``serve --workers 4`` on one real Redis: the workers throttle as one (SPEC RL-3)."""

from __future__ import annotations

from tests.state.fleet import CHAT, LIMIT, burst, fleet_config, replicas
from tests.state.redis_server import RedisServer


async def test_four_workers_admit_exactly_the_limit(redis_server: RedisServer) -> None:
    with replicas(fleet_config(redis_server), 1, "--workers", "4") as servers:
        headers = {"authorization": "Bearer sk-w"}
        responses = await burst([servers[0].url], "/v1/chat/completions", CHAT, headers, 3 * LIMIT)
        assert {r.status_code for r in responses} == {200, 429}
        ok = [r for r in responses if r.status_code == 200]
        assert len(ok) == LIMIT
        assert sorted(int(r.headers["x-ratelimit-remaining-requests"]) for r in ok) == list(range(LIMIT))
