"""HTTP hardening around every request: size limits, a concurrency cap, CORS, security headers.

Everything is decided from data prepared once at start-up, so a request pays a few
comparisons and one list extension. Refusals are neutral errors the route's provider
renders (a 414 or 431 in OpenAI's, Anthropic's or Google's shape).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from llm_simulator.config.security import SecurityConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import Headers

_CSP = b"content-security-policy"
# reference-values.md: what a JSON API with no pages of its own should send.
_SECURITY_HEADERS: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (_CSP, b"default-src 'none'; frame-ancestors 'none'"),
    (b"permissions-policy", b"geolocation=(), microphone=(), camera=()"),
]
_NO_STORE = (b"cache-control", b"no-store")
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def _joined(values: Iterable[str]) -> bytes:
    return ", ".join(values).encode()


class Hardening:
    """The request checks and response headers of ``security``."""

    def __init__(self, config: SecurityConfig) -> None:
        self.config = config
        self.max_header_bytes = config.max_header_bytes
        self.max_url_bytes = config.max_url_bytes
        self.max_concurrent = config.max_concurrent_requests
        base = list(_SECURITY_HEADERS) if config.headers else []
        if config.hsts:
            base.append(_HSTS)
        self._base = base
        # For a response that brings its own policy (the dashboard's pages): one CSP, not two.
        self._base_own_csp = [header for header in base if header[0] != _CSP]
        cors = config.cors
        self.cors = cors.enabled
        self._any_origin = "*" in cors.allow_origins
        self._origins = frozenset(cors.allow_origins)
        self._expose = (b"access-control-expose-headers", _joined(cors.expose_headers))
        self._preflight = [
            (b"access-control-allow-methods", _joined(cors.allow_methods)),
            (b"access-control-allow-headers", _joined(cors.allow_headers)),
            (b"access-control-max-age", str(cors.max_age_s).encode()),
        ]
        self._credentials = cors.allow_credentials

    # -- request checks ---------------------------------------------------------------------

    def check_sizes(self, path: str, raw_query: bytes, raw_headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Raise a 414 for an over-long URL or a 431 for over-large headers."""
        url = len(path) + len(raw_query)
        if url > self.max_url_bytes:
            raise SimulatorError(
                ErrorKind.INVALID_REQUEST,
                f"The request URL is {url} bytes long; the limit is {self.max_url_bytes}.",
                code="uri_too_long",
                status=414,
            )
        size = sum(len(k) + len(v) + 4 for k, v in raw_headers)
        if size > self.max_header_bytes:
            raise SimulatorError(
                ErrorKind.INVALID_REQUEST,
                f"The request headers are {size} bytes; the limit is {self.max_header_bytes}.",
                code="headers_too_large",
                status=431,
            )

    def check_capacity(self, active: int) -> None:
        """Raise the provider's "overloaded" (503, Anthropic 529) when too many requests are in flight."""
        if self.max_concurrent is not None and active > self.max_concurrent:
            raise SimulatorError(
                ErrorKind.OVERLOADED,
                f"The simulator is serving its maximum of {self.max_concurrent} concurrent requests; retry shortly.",
                code="server_busy",
                retry_after_s=1.0,
            )

    # -- CORS -------------------------------------------------------------------------------

    def _allow_origin(self, origin: str) -> bytes | None:
        if self._any_origin and not self._credentials:
            return b"*"
        return origin.encode("latin-1") if origin in self._origins else None

    def preflight(self, headers: Mapping[str, str]) -> Headers | None:
        """The headers of a 204 answer to a CORS preflight, or None if it is not one we allow."""
        origin = headers.get("origin")
        if not self.cors or origin is None or "access-control-request-method" not in headers:
            return None
        allowed = self._allow_origin(origin)
        if allowed is None:
            return None
        out: Headers = [(b"access-control-allow-origin", allowed), *self._preflight]
        if self._credentials:
            out.append((b"access-control-allow-credentials", b"true"))
        if allowed != b"*":
            out.append((b"vary", b"Origin"))
        return out

    # -- response headers --------------------------------------------------------------------

    def add_headers(self, headers: Headers, origin: str | None) -> None:
        """Append the security headers (``no-store`` unless a cache policy is set) and CORS headers.

        A response that sets its own ``content-security-policy`` keeps it instead of the default.
        """
        if self._base:
            cache = own_csp = False
            for name, _ in headers:
                if name == b"cache-control":
                    cache = True
                elif name == _CSP:
                    own_csp = True
            headers.extend(self._base_own_csp if own_csp else self._base)
            if not cache:
                headers.append(_NO_STORE)
        if origin is not None and self.cors:
            allowed = self._allow_origin(origin)
            if allowed is not None:
                headers.append((b"access-control-allow-origin", allowed))
                headers.append(self._expose)
                if self._credentials:
                    headers.append((b"access-control-allow-credentials", b"true"))
                if allowed != b"*":
                    headers.append((b"vary", b"Origin"))
