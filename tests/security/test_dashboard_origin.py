"""The admin API and the dashboard's own page: same-origin requests pass, every other page is refused.

Without auth, the admin API refuses requests from web pages (``Origin``, a cross-site or
same-site ``Sec-Fetch-Site``). The one exception is the simulator's own dashboard: a
browser marks its requests ``Sec-Fetch-Site: same-origin`` (a header no script can set), and
the ``Origin`` of its POST/PUT names the same host and port as ``Host``, which must still
be a loopback name.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import Captured, call

LOCAL = ("127.0.0.1", 5000)
HOST = "127.0.0.1:8080"
PRESET = orjson.dumps({"enabled": True, "preset": "full_outage"})
KEYS = [
    {"name": "admin", "key": "sk-admin-123456", "role": "admin"},
    {"name": "user", "key": "sk-user-123456"},
    {"name": "reader", "key": "sk-reader-123456", "role": "readonly"},
]


def make_app(**flags: Any) -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.enabled": False, **flags}))


def body(captured: Captured) -> Any:
    return orjson.loads(captured.body)


def dashboard(origin: str | None = None, *, host: str = HOST, site: str | None = "same-origin") -> dict[str, str]:
    """The headers a browser sends with a fetch from a page."""
    headers = {"host": host}
    if site is not None:
        headers["sec-fetch-site"] = site
    if origin is not None:
        headers["origin"] = origin
    return headers


async def test_the_dashboards_own_reads_and_writes_are_allowed() -> None:
    app = make_app()
    # A same-origin GET carries no Origin; a PUT/POST carries one naming this host and port.
    for path in ("/admin/stats", "/dashboard/data", "/admin/chaos"):
        assert (await call(app, "GET", path, client=LOCAL, headers=dashboard())).status == 200
    put = await call(app, "PUT", "/admin/chaos", PRESET, client=LOCAL, headers=dashboard(f"http://{HOST}"))
    assert put.status == 200 and body(put)["enabled"] is True and body(put)["preset"] == "full_outage"
    assert "access-control-allow-origin" not in put.headers  # allowed, but still no CORS
    off = await call(
        app, "POST", "/admin/chaos/disable", client=LOCAL, headers=dashboard("http://localhost:9", host="localhost:9")
    )
    assert off.status == 200 and body(off)["enabled"] is False
    ipv6 = await call(
        app, "POST", "/admin/chaos/enable", client=("::1", 1), headers=dashboard("http://[::1]:8080", host="[::1]:8080")
    )
    assert ipv6.status == 200 and app.sim.chaos.enabled is True
    # Origins are case-insensitive (browsers send them lower-cased; a tool may not).
    upper = await call(
        app, "GET", "/admin/stats", client=LOCAL, headers=dashboard("HTTP://LOCALHOST", host="localhost")
    )
    assert upper.status == 200
    assert "admin_from_browser" not in body(await call(app, "GET", "/admin/auth", client=LOCAL))["failures"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        # Another page on this machine: another port is another origin (same-site at most).
        (dashboard("http://127.0.0.1:3000", site="same-site"), "admin_from_browser"),
        (dashboard("https://evil.example", site="cross-site"), "admin_from_browser"),
        # A page that claims same-origin must name this very host and port.
        (dashboard("http://127.0.0.1:3000"), "admin_from_browser"),
        (dashboard("http://localhost:8080"), "admin_from_browser"),
        (dashboard("https://evil.example"), "admin_from_browser"),
        (dashboard("null"), "admin_from_browser"),
        (dashboard(f"http://{HOST}/path"), "admin_from_browser"),
        (dashboard(f"file://{HOST}"), "admin_from_browser"),
        (dashboard("http://"), "admin_from_browser"),
        # A matching Origin without a same-origin mark (an older browser, a cross-site frame).
        (dashboard(f"http://{HOST}", site=None), "admin_from_browser"),
        (dashboard(f"http://{HOST}", site="none"), "admin_from_browser"),
        (dashboard(f"http://{HOST}", site="same-site"), "admin_from_browser"),
        (dashboard(f"http://{HOST}", site="cross-site"), "admin_from_browser"),
        (dashboard(site="cross-site"), "admin_from_browser"),
        (dashboard(site="same-site"), "admin_from_browser"),
        # A DNS-rebound page is same-origin with its own name: refused by the Host check.
        (dashboard("http://evil.example:8080", host="evil.example:8080"), "admin_host"),
        (dashboard(host="evil.example:8080"), "admin_host"),
    ],
)
async def test_every_other_page_is_still_refused(headers: dict[str, str], reason: str) -> None:
    app = make_app()
    for method, path, payload in (("GET", "/admin/stats", b""), ("PUT", "/admin/chaos", PRESET)):
        refused = await call(app, method, path, payload, client=LOCAL, headers=headers)
        assert refused.status == 403, (method, path, headers)
        assert body(refused)["error"]["code"] == "admin_forbidden"
        assert "access-control-allow-origin" not in refused.headers
    assert app.sim.chaos.enabled is False
    assert (await call(app, "GET", "/dashboard/data", client=LOCAL, headers=headers)).status == 403
    assert body(await call(app, "GET", "/admin/auth", client=LOCAL))["failures"] == {reason: 3}


async def test_same_origin_does_not_open_the_admin_api_to_other_hosts() -> None:
    app = make_app()
    remote = await call(app, "GET", "/admin/stats", client=("203.0.113.9", 1), headers=dashboard(f"http://{HOST}"))
    assert remote.status == 403 and body(remote)["error"]["code"] == "admin_forbidden"
    assert body(await call(app, "GET", "/admin/auth", client=LOCAL))["failures"] == {"admin_not_local": 1}


async def test_with_auth_the_page_is_public_and_its_data_needs_an_admin_key() -> None:
    app = make_app(**{"auth.require_auth": True, "auth.keys": KEYS})
    for path in ("/dashboard", "/dashboard/charts.js", "/dashboard/app.js", "/dashboard/app.css"):
        assert (await call(app, "GET", path, client=LOCAL)).status == 200, path
    assert (await call(app, "GET", "/dashboard/data", client=LOCAL)).status == 401
    for key, status in (("sk-admin-123456", 200), ("sk-user-123456", 403), ("sk-reader-123456", 403)):
        got = await call(app, "GET", "/dashboard/data", client=LOCAL, headers={"authorization": f"Bearer {key}"})
        assert got.status == status, key
    # The page's own requests with the key typed into it: same-origin, admin key.
    admin = {"authorization": "Bearer sk-admin-123456", **dashboard(f"http://{HOST}")}
    assert (await call(app, "PUT", "/admin/chaos", PRESET, client=LOCAL, headers=admin)).status == 200
    assert app.sim.chaos.preset == "full_outage"
