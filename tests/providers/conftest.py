"""Fixtures shared by the provider suites: every HTTP attempt an SDK makes, recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.providers.attempts import Attempts


@pytest.fixture
def recorded() -> Attempts:
    """A fresh record of attempts."""
    return Attempts()


@pytest.fixture
def recording_http(recorded: Attempts) -> Iterator[httpx2.Client]:
    """An httpx2 client (the SDKs' transport) that records every attempt."""
    hooks: dict[str, list[Any]] = {"request": [recorded.on_request], "response": [recorded.on_response]}
    with httpx2.Client(event_hooks=hooks, timeout=30) as http:
        yield http
