"""What crosses the proxy: the request's headers going up, the response's coming back.

Hop-by-hop headers and the ones the server sets itself are dropped both ways; the caller's
credentials go up unless a configured key replaces them (in the provider's own header).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from llm_simulator.core.http import Headers, HttpRequest

# Never forwarded upstream: hop-by-hop (RFC 9110 7.6.1), recomputed by httpx, or ours.
_DROP_UP = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "accept-encoding"}
)
# Never passed back: hop-by-hop, or set by this server (length, date, server, the security
# headers of its hardening), so a response carries each once.
_DROP_DOWN = frozenset(
    {
        b"content-length",
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-encoding",
        b"date",
        b"server",
        b"x-content-type-options",
        b"x-frame-options",
        b"referrer-policy",
        b"content-security-policy",
        b"permissions-policy",
        b"strict-transport-security",
    }
)
# Every header that may carry a provider credential.
CREDENTIAL_HEADERS = ("authorization", "api-key", "x-api-key", "x-goog-api-key")


def upstream_headers(headers: Mapping[str, str], provider: str, key: str | None) -> dict[str, str]:
    """The headers sent upstream: the caller's, less hop-by-hop ones, with ``key`` if configured.

    A configured key replaces every credential the caller sent, in the header its provider
    reads (an Azure caller's ``api-key`` stays ``api-key``). The body is sent uncompressed
    (``accept-encoding: identity``) so chunks can be relayed and recorded as they are.
    """
    out = {name: value for name, value in headers.items() if name not in _DROP_UP}
    out["accept-encoding"] = "identity"
    if key is None:
        return out
    azure = "api-key" in out
    for name in CREDENTIAL_HEADERS:
        out.pop(name, None)
    if provider == "anthropic":
        out["x-api-key"] = key
    elif provider == "gemini":
        out["x-goog-api-key"] = key
    elif azure:
        out["api-key"] = key
    else:
        out["authorization"] = f"Bearer {key}"
    return out


def query_pairs(request: HttpRequest) -> list[tuple[str, str]]:
    """Every query parameter as sent, in order: a repeated name keeps each of its values."""
    if request.raw_query:
        return parse_qsl(request.raw_query.decode("latin-1"), keep_blank_values=True)
    return list(request.query.items())


def upstream_query(pairs: list[tuple[str, str]], key: str | None) -> list[tuple[str, str]]:
    """The query sent upstream (repeats kept): Gemini's ``key`` parameter is replaced by a configured key too."""
    if key is None:
        return pairs
    return [(name, key if name == "key" else value) for name, value in pairs]


def downstream_headers(raw: list[tuple[bytes, bytes]], *, stream: bool) -> Headers:
    """The upstream's response headers as passed back (status and retry headers untouched).

    On a stream the server adds its own ``x-request-id``; the upstream's goes back as
    ``x-upstream-request-id`` rather than as a second header of the same name.
    """
    out: Headers = []
    for name, value in raw:
        low = name.lower()
        if low in _DROP_DOWN or low.startswith(b"access-control-"):
            continue
        if stream and low == b"x-request-id":
            low = b"x-upstream-request-id"
        out.append((low, value))
    return out
