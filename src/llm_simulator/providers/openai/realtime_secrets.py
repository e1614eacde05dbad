"""``POST /v1/realtime/client_secrets``: ephemeral keys for the Realtime API.

A server holding the real key mints a short-lived ``ek_…`` key and hands it to a browser
or phone, which connects to ``/v1/realtime`` with it. ``ClientSecrets`` keeps each key
until it expires (bounded, oldest first out): the headers that authenticated its minting,
so a session opened with it is admitted and charged as the issuer, and the session
configuration given at minting, which the session starts with.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.infra.clock import Clock
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.openai.common import response_headers
from llm_simulator.providers.validation import get_int, get_object, get_str, parse_object

# OpenAI's bounds on a key's lifetime, in seconds, and its default.
MIN_TTL_S, MAX_TTL_S, DEFAULT_TTL_S = 10, 7200, 600
# Keys kept at most (the oldest are forgotten first).
MAX_SECRETS = 10_000
# Request headers that carry the issuer's credentials (and the simulator's controls).
_CREDENTIALS = ("authorization", "api-key", "x-api-key", "openai-organization", "openai-project")


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """One ephemeral key: when it expires (wall seconds), its issuer's headers, its session."""

    expires_at: int
    issuer: dict[str, str]
    session: dict[str, Any]


class ClientSecrets:
    """The ephemeral keys minted by this process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._keys: OrderedDict[str, ClientSecret] = OrderedDict()

    def mint(self, ttl_s: int, issuer: dict[str, str], session: dict[str, Any]) -> tuple[str, ClientSecret]:
        """A new key valid for ``ttl_s`` seconds."""
        value = "ek_" + IDS.hex(16)
        secret = ClientSecret(int(self._clock.wall()) + ttl_s, issuer, session)
        self._keys[value] = secret
        while len(self._keys) > MAX_SECRETS:
            self._keys.popitem(last=False)
        return value, secret

    def lookup(self, value: str) -> ClientSecret | None:
        """The key's record while it is valid (an expired key is forgotten)."""
        secret = self._keys.get(value)
        if secret is not None and secret.expires_at <= self._clock.wall():
            del self._keys[value]
            return None
        return secret


async def create(secrets: ClientSecrets, request: HttpRequest) -> Response:
    """Mint a key: ``expires_after.seconds`` (10 to 7200, default 600) and an optional ``session``."""
    started = time.monotonic()
    body = parse_object(request.body) if request.body.strip() else {}
    expires = get_object(body, "expires_after") or {}
    anchor = get_str(expires, "anchor", "expires_after.anchor")
    if anchor not in (None, "created_at"):
        raise invalid(
            f"Invalid 'expires_after.anchor': {anchor!r}; expected 'created_at'.", param="expires_after.anchor"
        )
    ttl = get_int(expires, "seconds", "expires_after.seconds", minimum=MIN_TTL_S, maximum=MAX_TTL_S)
    session = get_object(body, "session") or {"type": "realtime"}
    kind = session.get("type", "realtime")
    if kind not in ("realtime", "transcription"):
        raise invalid(
            f"Invalid 'session.type': {kind!r}; expected 'realtime' or 'transcription'.", param="session.type"
        )
    issuer = {name: value for name, value in request.headers.items() if name in _CREDENTIALS}
    value, secret = secrets.mint(ttl or DEFAULT_TTL_S, issuer, dict(session))
    model = str(session.get("model") or "gpt-realtime")
    payload = {"value": value, "expires_at": secret.expires_at, "session": {"object": "realtime.session", **session}}
    return JsonResponse(200, orjson.dumps(payload), response_headers(request, started, model))
