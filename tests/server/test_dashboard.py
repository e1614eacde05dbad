"""``/dashboard``: its routes in process, then the page in a real headless Chromium against a live server."""

from __future__ import annotations

import contextlib
import re
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.dashboard import DASHBOARD_CSP
from tests.live import live_server
from tests.server.asgi_driver import call

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage

LOCAL = ("127.0.0.1", 5000)
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "dashboard.png"
STATIC = {
    "/dashboard": "text/html; charset=utf-8",
    "/dashboard/charts.js": "text/javascript; charset=utf-8",
    "/dashboard/app.js": "text/javascript; charset=utf-8",
    "/dashboard/app.css": "text/css; charset=utf-8",
}
ADMIN_KEY = "sk-admin-dashboard-1"
CHAT = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 24}
# The browser test serves gpt-4.1 from a two-replica load-aware engine, so the engine panel shows.
ENGINE_CONFIG = """\
engine:
  deployments:
    pool: {preset: vllm-h100-7b-tp1, replicas: 2, router: round_robin, models: [gpt-4.1]}
"""


def make_app(**flags: Any) -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.enabled": False, **flags}))


async def raw_headers(app: SimulatorApp, path: str) -> list[tuple[bytes, bytes]]:
    """Every response header as sent, duplicates kept (the driver's dict would hide them)."""
    sent: list[tuple[bytes, bytes]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.extend(message["headers"])

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b"", "client": LOCAL}
    await app(scope, receive, send)  # type: ignore[arg-type]
    return sent


# -- in process ----------------------------------------------------------------------------


async def test_static_routes_serve_their_types_with_the_dashboards_csp() -> None:
    app = make_app()
    for path, content_type in STATIC.items():
        got = await call(app, "GET", path, client=LOCAL)
        assert got.status == 200 and got.headers["content-type"] == content_type, path
        assert got.headers["cache-control"] == "no-cache"
        assert got.headers["x-frame-options"] == "DENY" and got.headers["x-content-type-options"] == "nosniff"
        csp = [v for k, v in await raw_headers(app, path) if k == b"content-security-policy"]
        assert csp == [DASHBOARD_CSP], path  # one policy: the dashboard's, not the default as well
    # Other routes keep the strict default policy.
    health = await raw_headers(app, "/health")
    assert [v for k, v in health if k == b"content-security-policy"] == [b"default-src 'none'; frame-ancestors 'none'"]
    policy = DASHBOARD_CSP.decode()
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy and "frame-ancestors 'none'" in policy


async def test_the_page_loads_nothing_from_elsewhere_and_has_no_inline_code() -> None:
    app = make_app()
    page = (await call(app, "GET", "/dashboard", client=LOCAL)).body.decode()
    script = (await call(app, "GET", "/dashboard/charts.js", client=LOCAL)).body.decode() + (
        await call(app, "GET", "/dashboard/app.js", client=LOCAL)
    ).body.decode()
    style = (await call(app, "GET", "/dashboard/app.css", client=LOCAL)).body.decode()
    for text in (page, script, style):
        assert "http://" not in text and "https://" not in text and "//cdn" not in text and "@import" not in text
    # Under script-src/style-src 'self' inline code would be blocked: there must be none.
    assert re.findall(r"<script\b[^>]*>", page) == [
        '<script src="/dashboard/charts.js" defer>',
        '<script src="/dashboard/app.js" defer>',
    ]
    assert "<style" not in page and " style=" not in page and re.search(r"\son[a-z]+=", page) is None
    assert 'href="/dashboard/app.css"' in page
    # The script never turns server data into markup (model names come from clients).
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "eval(" not in script


async def test_data_lists_histograms_presets_and_chaos() -> None:
    app = make_app()
    stream = orjson.dumps({**CHAT, "stream": True})
    assert (await call(app, "POST", "/v1/chat/completions", stream)).status == 200
    got = await call(app, "GET", "/dashboard/data", client=LOCAL)
    assert got.status == 200 and got.headers["content-type"] == "application/json"
    assert got.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    data = orjson.loads(got.body)
    assert "full_outage" in data["presets"] and "partial_outage" in data["presets"]
    assert data["chaos"] == {
        "enabled": False,
        "preset": None,
        "rules": 0,
        "probability_in_force": 0.1,
        "scenarios": 0,
        "default_mix": True,
    }
    for name in ("ttft", "itl"):
        histogram = data[name]
        [series] = histogram["series"]
        assert (series["provider"], series["model"]) == ("openai", "gpt-4.1")
        assert len(series["counts"]) == len(histogram["edges_ms"]) + 1
        assert histogram["edges_ms"] == sorted(histogram["edges_ms"])
    assert sum(data["ttft"]["series"][0]["counts"]) == 1
    assert sum(data["itl"]["series"][0]["counts"]) >= 1


async def test_data_is_refused_to_web_pages_like_the_admin_api() -> None:
    app = make_app()
    for headers in (
        {"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://127.0.0.1:3000", "sec-fetch-site": "same-site"},
    ):
        refused = await call(app, "GET", "/dashboard/data", client=LOCAL, headers=headers)
        assert refused.status == 403 and orjson.loads(refused.body)["error"]["code"] == "admin_forbidden"
        assert "access-control-allow-origin" not in refused.headers
    remote = await call(app, "GET", "/dashboard/data", client=("203.0.113.9", 1))
    assert remote.status == 403
    # The page itself is no secret: any browser may load it (it shows nothing without the API).
    assert (await call(app, "GET", "/dashboard", client=("203.0.113.9", 1))).status == 200


# -- in a real browser ---------------------------------------------------------------------


class Traffic:
    """Streamed chat requests from a few background threads until stopped."""

    def __init__(self, url: str, workers: int = 3) -> None:
        self.url = url
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]

    def _run(self) -> None:
        body = {**CHAT, "stream": True}
        with httpx.Client(base_url=self.url, timeout=10.0) as client:
            while not self.stop.is_set():
                try:
                    with client.stream("POST", "/v1/chat/completions", json=body) as response:
                        for _ in response.iter_bytes():
                            pass
                        self.statuses.append(response.status_code)
                except httpx.HTTPError:
                    self.statuses.append(-1)  # reported by the test's status check, not as a thread crash
                    return

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    """Poll ``check`` from Python: the page's CSP forbids the eval that wait_for_function needs."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def chat_status(url: str) -> int:
    return httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=10.0).status_code


def is_png(path: Path) -> bool:
    """A PNG file of a plausible size for a full dashboard (width and height from its IHDR)."""
    data = path.read_bytes()
    if len(data) < 10_000 or data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    width, height = struct.unpack(">II", data[16:24])
    return bool(width >= 800 and height >= 600)


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt install chromium)"
)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium from the system (never a downloaded one), closed even on failure."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@needs_chromium
def test_the_dashboard_in_headless_chromium(tmp_path: Path) -> None:
    problems: list[str] = []
    config = tmp_path / "engine.yaml"
    config.write_text(ENGINE_CONFIG)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    started = time.monotonic()
    with live_server("--latency-multiplier", "0.05", "--config", str(config)) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.set_default_timeout(15_000)
        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.goto(server.url + "/dashboard")

        def attr(selector: str, name: str) -> float:
            return float(page.get_attribute(selector, name) or 0)

        wait_until(lambda: page.get_attribute("body", "data-state") == "live", "the first poll")
        assert page.locator("#banner").is_hidden()
        assert page.locator("#conn").inner_text() == "live"
        # The engine exists from its first request on: no panel before any traffic.
        assert page.locator("#engine-panel").is_hidden()
        before = attr("#total-requests", "data-value")

        # Traffic shows up: the count rises, and the rate, TTFT and ITL charts draw data.
        with Traffic(server.url) as traffic:
            wait_until(
                lambda: (
                    attr("#total-requests", "data-value") >= before + 10
                    and attr("#chart-ttft", "data-total") > 0
                    and attr("#chart-itl", "data-total") > 0
                    and attr("#chart-rate", "data-max") > 0
                    and attr("#chart-engine-queue", "data-max") > 0
                ),
                "the charts to show the traffic",
            )
        assert traffic.statuses and set(traffic.statuses) == {200}
        # The engine panel: a row per replica, the queue and KV-cache charts drawing.
        assert page.locator("#engine-panel").is_visible()
        assert page.get_attribute("#engine-panel", "data-replicas") == "2"
        replicas = page.locator("#engine-replicas tbody tr")
        assert replicas.count() == 2
        assert [
            (replicas.nth(i).get_attribute("data-deployment"), replicas.nth(i).get_attribute("data-replica"))
            for i in range(2)
        ] == [("pool", "0"), ("pool", "1")]
        assert attr("#chart-engine-kv", "data-points") > 0
        assert "2 replicas" in page.locator("#engine-summary").inner_text()
        steps = [int(replicas.nth(i).locator("td").nth(8).inner_text().replace(",", "")) for i in range(2)]
        assert all(n > 0 for n in steps), steps  # round robin: both replicas stepped
        assert "gpt-4.1" in page.locator("#models").inner_text()
        assert re.search(r"p99 \d", page.locator("#ttft-summary").inner_text())

        # A preset button switches the server into a full outage...
        page.click("#preset-buttons button[data-preset='full_outage']")
        wait_until(lambda: page.get_attribute("body", "data-preset") == "full_outage", "the preset to show")
        assert page.get_attribute("body", "data-chaos") == "on"
        assert "full_outage" in page.locator("#chaos-pill").inner_text()
        assert [chat_status(server.url) for _ in range(3)] == [503, 503, 503]
        wait_until(lambda: attr("#chart-errors", "data-total") >= 3, "the errors chart")
        wait_until(lambda: "unavailable" in page.locator("#chaos-injections").inner_text(), "the injections")

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        # ...and Disable brings it back.
        page.click("#chaos-disable")
        wait_until(lambda: page.get_attribute("body", "data-chaos") == "off", "chaos to show off")
        assert chat_status(server.url) == 200
        assert page.locator("#action-status").inner_text() == "Disable chaos: done."
        assert problems == []

        # The server goes away: the page says so (and keeps retrying).
        server.process.send_signal(signal.SIGINT)
        server.process.wait(timeout=15)
        wait_until(lambda: page.get_attribute("body", "data-state") == "offline", "the offline state")
        assert "Cannot reach the simulator" in page.locator("#banner").inner_text()
    assert is_png(SCREENSHOT)
    assert time.monotonic() - started < 90  # the brief's budget is ~60 s; leave room for a loaded CI machine


@needs_chromium
def test_with_auth_the_page_asks_for_an_admin_key() -> None:
    args = ("--no-latency", "--require-auth", "--admin-key", ADMIN_KEY, "--api-key", "sk-user-dashboard-1")
    with live_server(*args) as server, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(15_000)
        page.goto(server.url + "/dashboard")  # the page itself needs no key
        wait_until(lambda: page.get_attribute("body", "data-state") == "refused", "the refusal")
        assert "(401)" in page.locator("#banner").inner_text()
        assert "admin role" in page.locator("#banner").inner_text()

        page.fill("#admin-key", "sk-user-dashboard-1")  # a key, but not an admin's
        page.click("#key-form button[type='submit']")
        wait_until(lambda: "(403)" in page.locator("#banner").inner_text(), "the not-admin refusal")
        assert page.get_attribute("body", "data-state") == "refused"

        page.fill("#admin-key", ADMIN_KEY)
        page.click("#key-form button[type='submit']")
        wait_until(lambda: page.get_attribute("body", "data-state") == "live", "the key to be used")
        assert page.locator("#banner").is_hidden() and page.input_value("#admin-key") == ""
        page.click("#preset-buttons button[data-preset='full_outage']")
        wait_until(lambda: page.get_attribute("body", "data-preset") == "full_outage", "the preset to show")
        refused = httpx.post(
            server.url + "/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert refused.status_code == 503

        # The key lives in sessionStorage: kept across a reload of the tab, gone when forgotten.
        page.reload()
        wait_until(lambda: page.get_attribute("body", "data-state") == "live", "the kept key")
        page.click("#key-forget")
        wait_until(lambda: page.get_attribute("body", "data-state") == "refused", "the forgotten key")
