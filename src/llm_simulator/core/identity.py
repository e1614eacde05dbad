"""Who is calling: the API key (or organization) that rate limits and chaos rules key on.

Every provider's way of sending a key is accepted on every route (``Authorization:
Bearer``, ``x-api-key``, ``api-key``, ``x-goog-api-key``, ``?key=``), since gateways often
translate one into another. An AWS SigV4-signed request (Bedrock) presents its access key
id, the ``Credential=AKID/…`` of its ``Authorization`` header (the signature itself is the
Bedrock provider's to check). Without any key all callers share the anonymous identity.
"""

from __future__ import annotations

from collections.abc import Mapping

ANONYMOUS = "anonymous"
SIGV4_SCHEME = "AWS4-HMAC-SHA256"


def sigv4_access_key(params: str) -> str | None:
    """The access key id in a SigV4 ``Credential=AKID/date/region/service/aws4_request`` (None if absent)."""
    for part in params.split(","):
        name, _, value = part.strip().partition("=")
        if name == "Credential":
            key = value.split("/", 1)[0].strip()
            return key or None
    return None


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The API key the request presents, in any provider's way, or None."""
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        if scheme == SIGV4_SCHEME:
            return sigv4_access_key(token)
    for name in ("x-api-key", "api-key", "x-goog-api-key"):
        value = headers.get(name)
        if value and value.strip():
            return value.strip()
    key = (query.get("key") or "").strip()
    return key or None


def api_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The caller's API key, or ``anonymous``."""
    return presented_key(headers, query) or ANONYMOUS


def caller(headers: Mapping[str, str], query: Mapping[str, str], key_by: str) -> str:
    """The identity a rate-limit bucket belongs to under ``key_by``.

    ``organization`` uses OpenAI's ``openai-organization`` header (or Anthropic-style
    ``anthropic-organization``) and falls back to the key; ``global`` is one shared identity.
    """
    if key_by == "global":
        return "*"
    if key_by == "organization":
        org = headers.get("openai-organization") or headers.get("anthropic-organization")
        if org:
            return org.strip()
    return api_key(headers, query)
