"""Record every HTTP attempt an official SDK makes (its retries included) through its own transport."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx2


@dataclass
class Attempts:
    """What went over the wire, one entry per HTTP attempt the SDK made."""

    retry_counts: list[str | None] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    retry_after_ms: list[str | None] = field(default_factory=list)
    should_retry: list[str | None] = field(default_factory=list)

    def on_request(self, request: httpx2.Request) -> None:
        self.retry_counts.append(request.headers.get("x-stainless-retry-count"))

    def on_response(self, response: httpx2.Response) -> None:
        self.statuses.append(response.status_code)
        self.retry_after_ms.append(response.headers.get("retry-after-ms"))
        self.should_retry.append(response.headers.get("x-should-retry"))
