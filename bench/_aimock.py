"""The peer mock ``aimock`` (npm ``@copilotkit/aimock``) as an optional benchmark target.

It is installed on demand with the machine's ``npm`` into ``bench/.cache/aimock-<version>``
(git-ignored, reused by later runs) and started with its fixture CLI (``llmock``): one
fixture answers the benchmark's user message, latency 0, logging at ``warn`` (like the
simulator's ``--log-level warning``: no access log). The answer's text is the simulator's
own answer, padded or cut so that aimock's response body has exactly the simulator's byte
size; aimock's body shape (id, created, usage) differs slightly, so the text is adjusted
from a measured answer, restarting aimock with the corrected fixture (at most
``SIZE_ATTEMPTS`` times).

Anything missing (node, npm, network, registry) raises :class:`Unavailable`, which the
benchmark reports as a skipped target.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import _common as c

PACKAGE = "@copilotkit/aimock"
DEFAULT_VERSION = "1.43.0"
CACHE_DIR = c.BENCH_DIR / ".cache"
SIZE_ATTEMPTS = 4
FILLER = " lorem ipsum dolor sit amet"


class Unavailable(Exception):
    """aimock cannot be installed or started here (the reason is the message)."""


def install(version: str) -> Path:
    """Path of aimock's fixture CLI, installing ``PACKAGE@version`` into the cache if needed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise Unavailable("node and npm are needed (e.g. `apt-get install nodejs npm`)")
    prefix = CACHE_DIR / f"aimock-{version}"
    cli = prefix / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
    if cli.is_file():
        return cli
    prefix.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--ignore-scripts",
               f"{PACKAGE}@{version}"]  # fmt: skip
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(prefix, ignore_errors=True)
        raise Unavailable(f"`{' '.join(command)}` failed: {exc}") from exc
    if out.returncode != 0 or not cli.is_file():
        shutil.rmtree(prefix, ignore_errors=True)  # no half-installed cache for the next run
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise Unavailable(f"`npm install {PACKAGE}@{version}` failed: {' / '.join(tail)}")
    return cli


def version_of(cli: Path) -> str:
    """The installed package's version (from its package.json)."""
    manifest = json.loads((cli.parents[1] / "package.json").read_text())
    return str(manifest["version"])


def fixture(user_message: str, content: str) -> dict[str, object]:
    """An aimock fixture file answering ``user_message`` with ``content``."""
    return {"fixtures": [{"match": {"userMessage": user_message}, "response": {"content": content}}]}


def resized(content: str, delta: int) -> str:
    """``content`` made ``delta`` characters longer (padded with words) or shorter (cut)."""
    if delta >= 0:
        return content + (FILLER * (delta // len(FILLER) + 1))[:delta]
    return content[:delta] if -delta < len(content) else content[:1]


def start_sized(cli: Path, workdir: Path, user_message: str, content: str, body: bytes, target_size: int) -> c.Server:
    """aimock answering ``body`` with a response of ``target_size`` bytes (as near as it gets).

    Starts it with ``content``, measures the answer, corrects the text by the difference and
    restarts until the size matches; returns the running server (the caller stops it).
    """
    path = workdir / "aimock-fixture.json"
    for attempt in range(1, SIZE_ATTEMPTS + 1):
        path.write_text(json.dumps(fixture(user_message, content)))
        server = start(cli, workdir, path)
        try:
            size = len(c.http_post(server.port, "/v1/chat/completions", body))
        except OSError as exc:
            server.stop()
            raise Unavailable(f"aimock did not answer: {exc}") from exc
        if size == target_size or attempt == SIZE_ATTEMPTS:
            return server
        server.stop()
        content = resized(content, target_size - size)
    raise AssertionError("unreachable")


def start(cli: Path, workdir: Path, fixtures: Path) -> c.Server:
    """aimock serving ``fixtures`` on a free 127.0.0.1 port, answering ``/health`` (or Unavailable).

    ``--latency 0``: a fixture's ``streamingProfile`` sets its pacing; ``warn`` logging, like
    the simulator's ``--log-level warning`` (no access log). The process started is node
    itself (no npx wrapper), so its CPU time is aimock's.
    """
    node = shutil.which("node") or "node"
    port = c.free_port()
    argv = [node, str(cli), "--host", c.HOST, "--port", str(port), "--fixtures", str(fixtures),
            "--latency", "0", "--log-level", "warn"]  # fmt: skip
    server = c.start_process("aimock", argv, port, workdir)
    try:
        c.wait_http(server, "/health")
    except RuntimeError as exc:  # wait_http has stopped it
        raise Unavailable(f"aimock did not start: {exc}") from exc
    return server


# One streamed token: aimock cuts a fixture's text into chunks of ``chunkSize`` characters,
# so a text of N pieces of this length streams as exactly N content chunks.
TOKEN_TEXT = "tok "


def streaming_fixture(user_message: str, tokens: int, ttft_ms: float, itl_ms: float) -> dict[str, object]:
    """A fixture that streams ``tokens`` content chunks, the first at ``ttft_ms``, then one per ``itl_ms``.

    aimock waits before every chunk it writes: ``streamingProfile.ttft`` before the first
    (the role chunk, which carries no text) and ``1000 / tps`` ms before each later one. So
    the role chunk goes out at ``ttft_ms − itl_ms`` (at once when that is negative) and text
    chunk *k* about ``ttft_ms + (k − 1) × itl_ms`` after the request — each wait measured
    from the previous write (``setTimeout``), not from the request, so lateness adds up.
    """
    profile = {"ttft": max(0.0, ttft_ms - itl_ms), "tps": 1000.0 / itl_ms}
    entry = {
        "match": {"userMessage": user_message},
        "response": {"content": TOKEN_TEXT * tokens},
        "chunkSize": len(TOKEN_TEXT),
        "streamingProfile": profile,
    }
    return {"fixtures": [entry]}


def start_streaming(
    cli: Path, workdir: Path, user_message: str, tokens: int, ttft_ms: float, itl_ms: float
) -> c.Server:
    """aimock answering ``user_message`` with a paced stream (see :func:`streaming_fixture`)."""
    path = workdir / "aimock-stream-fixture.json"
    path.write_text(json.dumps(streaming_fixture(user_message, tokens, ttft_ms, itl_ms)))
    return start(cli, workdir, path)
