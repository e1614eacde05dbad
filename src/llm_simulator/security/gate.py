"""The security gate every request passes before its handler (and before any rate limit).

In order: anonymous paths pass; without auth, admin routes answer only loopback clients
(unless ``auth.admin_from_remote``); with auth, the key must be present, known and
enabled, admin routes need the admin role and a read-only key may only GET; then the key's
throttle (``auth.throttles``) is charged. Each refusal is an ``AuthError`` (a neutral error the route's
provider renders) carrying a reason for the failure counters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from llm_simulator.config.security import AuthConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.identity import presented_key
from llm_simulator.infra.buckets import Demand, MemoryBucketStore
from llm_simulator.infra.clock import Clock
from llm_simulator.security.keys import KeyRing, Principal, mask

LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1", "localhost"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
ADMIN_ENDPOINT = "admin"
# The dashboard's page, script and stylesheet: fixed files with no data in them, served
# without a key so a browser can open the page (its data comes from the admin API).
DASHBOARD_ENDPOINT = "dashboard"


_ADMIN_LOCAL = (
    "The admin API answers only loopback clients while authentication is off "
    "(enable auth.require_auth with an admin key, or set auth.admin_from_remote)."
)


class AuthError(SimulatorError):
    """A refusal by the gate; ``reason`` names it for the counters (missing_key, invalid_key, ...)."""

    def __init__(
        self, reason: str, kind: ErrorKind, message: str, code: str, retry_after_s: float | None = None
    ) -> None:
        super().__init__(kind, message, code=code, retry_after_s=retry_after_s)
        self.reason = reason


class Gate:
    """Authentication, authorization and per-key throttles."""

    def __init__(self, auth: AuthConfig, clock: Clock) -> None:
        self.auth = auth
        self.required = auth.require_auth
        self.keys = KeyRing(auth)
        self._anonymous = frozenset(auth.anonymous_paths)
        self._clock = clock
        self._buckets = MemoryBucketStore()
        self._throttles = {str(name): spec for name, spec in auth.throttles.items()}
        self.failures: Counter[str] = Counter()

    async def check(
        self,
        method: str,
        path: str,
        endpoint: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        client_host: str | None,
    ) -> Principal | None:
        """The caller (None when anonymous), or raise the refusal."""
        try:
            return await self._check(method, path, endpoint, headers, query, client_host)
        except AuthError as exc:
            self.failures[exc.reason] += 1
            raise

    async def _check(
        self,
        method: str,
        path: str,
        endpoint: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        client_host: str | None,
    ) -> Principal | None:
        if path in self._anonymous or endpoint == DASHBOARD_ENDPOINT:
            return None
        if not self.required:
            if endpoint == ADMIN_ENDPOINT and not self.auth.admin_from_remote:
                self._local_admin_only(headers, client_host)
            return None
        key = presented_key(headers, query)
        if key is None:
            raise AuthError(
                "missing_key",
                ErrorKind.AUTHENTICATION,
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (or x-api-key, "
                "api-key, x-goog-api-key, or ?key=).",
                "missing_api_key",
            )
        principal, enabled = self.keys.lookup(key)
        if principal is None:
            raise AuthError(
                "invalid_key", ErrorKind.AUTHENTICATION, f"Incorrect API key provided: {mask(key)}.", "invalid_api_key"
            )
        if not enabled:
            raise AuthError(
                "disabled_key", ErrorKind.AUTHENTICATION, "This API key has been disabled.", "invalid_api_key"
            )
        if endpoint == ADMIN_ENDPOINT and principal.role != "admin":
            raise AuthError(
                "not_admin", ErrorKind.PERMISSION, "The admin API needs a key with the admin role.", "admin_forbidden"
            )
        if principal.role == "readonly" and method not in ("GET", "HEAD"):
            raise AuthError(
                "read_only",
                ErrorKind.PERMISSION,
                f"This API key is read-only: {method} requests are not allowed.",
                "read_only_key",
            )
        if principal.throttle is not None:
            await self._charge(principal)
        return principal

    def _local_admin_only(self, headers: Mapping[str, str], client_host: str | None) -> None:
        """Without auth, the admin API is for tools on this machine: not other hosts, not browsers.

        A page on any website runs in a browser on this machine, so a loopback peer is not
        enough: a request a browser sends for a page carries ``Origin`` (or a cross-site
        ``Sec-Fetch-Site``), and a DNS-rebound name arrives in ``Host``. The one page let
        through is the simulator's own (``/dashboard``): see ``_same_origin``.
        """
        # In process (no client address) counts as local.
        if client_host not in (None, *LOOPBACK):
            raise AuthError("admin_not_local", ErrorKind.PERMISSION, _ADMIN_LOCAL, "admin_forbidden")
        fetch_site = headers.get("sec-fetch-site")
        from_page = "origin" in headers or fetch_site in ("cross-site", "same-site")
        if from_page and not _same_origin(headers, fetch_site):
            raise AuthError(
                "admin_from_browser",
                ErrorKind.PERMISSION,
                "The admin API does not answer web pages while authentication is off.",
                "admin_forbidden",
            )
        host = headers.get("host", "").lower()
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]", 1)[0] + "]"
        if host and name not in LOOPBACK_HOSTS:
            raise AuthError(
                "admin_host",
                ErrorKind.PERMISSION,
                "The admin API answers only requests addressed to localhost while authentication is off.",
                "admin_forbidden",
            )

    async def _charge(self, principal: Principal) -> None:
        """One request from the key's throttle: capacity ``burst``, refill ``requests_per_minute``."""
        assert principal.throttle is not None
        throttle = self._throttles.get(principal.throttle)
        if throttle is None:
            return
        demand = Demand(f"key\x1f{principal.name}", float(throttle.burst), throttle.requests_per_minute / 60.0, 1.0)
        _, refusal = await self._buckets.take([demand], self._clock.now())
        if refusal is not None:
            raise AuthError(
                "tier_limit",  # the failure-counter label, kept for dashboards
                ErrorKind.RATE_LIMIT,
                f"Rate limit of API key '{principal.name}' exceeded (throttle {principal.throttle}: "
                f"{throttle.requests_per_minute} requests per minute, burst {throttle.burst}).",
                "rate_limit_exceeded",
                retry_after_s=max(0.001, refusal.retry_after_s),
            )

    def status(self) -> dict[str, object]:
        """What the admin API shows: whether auth is on, key names and roles, failure counts."""
        return {
            "require_auth": self.required,
            "keys": self.keys.names(),
            "anonymous_paths": sorted(self._anonymous),
            "failures": dict(sorted(self.failures.items())),
        }


def _same_origin(headers: Mapping[str, str], fetch_site: str | None) -> bool:
    """Whether a browser request comes from a page the simulator served itself (its dashboard).

    ``Sec-Fetch-Site`` is set by the browser and cannot be forged by a page's script, so
    ``same-origin`` means the page was loaded from this very scheme, host and port; an
    ``Origin`` (sent on POST/PUT) must then name the same host and port as ``Host``. The
    caller still requires ``Host`` to be a loopback name, which is what defeats a
    DNS-rebound page (it is "same-origin" with its own rebound name, never with localhost).
    """
    if fetch_site != "same-origin":
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    scheme, sep, authority = origin.lower().partition("://")
    return bool(sep and authority) and scheme in ("http", "https") and authority == headers.get("host", "").lower()
