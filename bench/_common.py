"""Shared helpers for the benchmarks: tools, servers, process CPU time and result files.

Everything here is deliberately dependency-free (standard library only) so the benchmarks
run from the project's virtualenv without extra packages.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- External tools --------------------------------------------------------------------------


def ensure_tools(*names: str) -> None:
    """Make sure the given Debian-packaged tools (``wrk``, ``nginx``) are on PATH.

    Missing tools are installed with ``apt-get`` when running as root; otherwise the
    benchmark stops with the command to run.
    """
    missing = [name for name in names if _which(name) is None]
    if not missing:
        return
    command = ["apt-get", "install", "-y", *missing]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        sys.exit(f"missing tools {missing}: install them, e.g. `sudo {' '.join(command)}`")
    print(f"installing {missing} with apt-get …", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300)
    subprocess.run(command, check=True, timeout=600, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    still = [name for name in missing if _which(name) is None]
    if still:
        sys.exit(f"apt-get did not provide {still}")


def _which(name: str) -> str | None:
    # nginx lives in /usr/sbin, which is not always on a non-root PATH.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def tool_path(name: str) -> str:
    """Absolute path of an installed tool."""
    found = _which(name)
    if found is None:
        raise FileNotFoundError(name)
    return found


def tool_version(argv: Sequence[str]) -> str:
    """First line a tool prints for its version flag (stdout or stderr)."""
    try:
        out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard limit (inherited by child servers)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- Ports and servers -----------------------------------------------------------------------


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A server process we started (in its own session, so we can stop its whole group)."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        """The PID of the process we started."""
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group we created; SIGKILL it if it does not exit in time."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def start_process(
    name: str, argv: Sequence[str], port: int, log_dir: Path, env: dict[str, str] | None = None
) -> Server:
    """Start ``argv`` in a new session with output going to ``log_dir/name.log``."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    return Server(name, proc, port, log_path)


def wait_http(server: Server, path: str = "/", timeout: float = 20.0) -> None:
    """Poll ``GET path`` until the server answers (any HTTP status) or fail with its log."""
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{server.port}{path}"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    server.stop()
    log = server.log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{server.name} did not come up on port {server.port}:\n{log}")


@contextlib.contextmanager
def running(server: Server, ready_path: str = "/") -> Iterator[Server]:
    """Wait until ``server`` answers, yield it, and always stop it afterwards."""
    try:
        wait_http(server, ready_path)
        yield server
    finally:
        server.stop()


def simulator_argv(port: int, *extra: str, server: str = "granian") -> list[str]:
    """Command line of ``llm-simulator serve`` from the current interpreter's environment."""
    exe = Path(sys.executable).with_name("llm-simulator")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "llm_simulator.cli.main"]
    return [*base, "serve", "--host", HOST, "--port", str(port), "--server", server, "--log-level", "warning", *extra]


# -- Bare ASGI apps (the transport floors) --------------------------------------------------


async def serve_lifespan(receive: Any, send: Any) -> None:
    """Answer an ASGI ``lifespan`` scope: every startup is complete at once, then the shutdown.

    The bare benchmark apps have nothing to start; they still answer the handshake so the
    server (granian, uvicorn) does not log a lifespan failure or wait for one.
    """
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


def start_bare_app(
    name: str, app: str, port: int, log_dir: Path, *, http: str = "1", env: dict[str, str] | None = None
) -> Server:
    """granian serving the bench app ``app`` (``module:attr`` in ``bench/``) as the simulator's ``server/run.py`` runs.

    The same flags as the simulator's own server (uvloop, one worker, and the listen backlog
    and backpressure bound taken from ``server/run.py`` for the default configuration),
    HTTP/1.1 unless ``http`` says otherwise: a floor measured against the simulator differs
    from it only in the app. ``env`` adds to the environment.
    """
    from llm_simulator.config import load_config
    from llm_simulator.server.run import LISTEN_BACKLOG, granian_backpressure

    backpressure = granian_backpressure(load_config(environ={}))
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", HOST, "--port", str(port)]
    argv += ["--loop", "uvloop", "--workers", "1", "--backlog", str(LISTEN_BACKLOG)]
    argv += ["--backpressure", str(backpressure)]
    argv += ["--http", http, "--log-level", "warning", app]
    return start_process(name, argv, port, log_dir, {**os.environ, "PYTHONPATH": str(BENCH_DIR), **(env or {})})


async def serve_all_but_post(scope: dict[str, Any], receive: Any, send: Any) -> bool:
    """A bare app's prologue: the lifespan handshake, or ``ok`` to anything not a POST (a probe).

    True when it answered (the app has nothing left to do); False for a POST, the app's own.
    """
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return True
    if scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok\n"})
        return True
    return False


async def read_body(scope: dict[str, Any], receive: Any) -> bytes:
    """A request's body, read until its declared length has arrived or its last message came.

    As the simulator's ``PreChecks.read_body``: granian hands a small body in one message with
    ``more_body`` set and the empty last one only on a second ``receive``, which this skips.
    """
    length = next((int(value) for name, value in scope["headers"] if name == b"content-length"), None)
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body") or (length is not None and len(body) >= length):
            return body


# -- Checkouts: the candidate (this one) and baselines (other checkouts' src) ------------------

# Target names the benchmarks use themselves; a baseline label may not take one of them.
RESERVED_LABELS = frozenset(
    {"simulator", "simulator-granian", "simulator-uvicorn", "nginx-static", "aimock", "granian-floor"}
)


@dataclass(frozen=True)
class Checkout:
    """A source tree the simulator is run from: this checkout (the candidate) or a baseline.

    Every simulator target is started as ``python -m llm_simulator.cli.main serve`` with
    ``PYTHONPATH=<src>``, so the package comes from ``src`` whatever the virtualenv has
    installed (an editable install points at one checkout only). ``main`` and ``serve``
    with ``--host --port --server --log-level --no-latency --config`` exist in every
    version benchmarked (checked back to ``c1f1b04``).
    """

    label: str
    src: Path
    commit: str

    def compile_bytecode(self) -> None:
        """Write ``src``'s ``.pyc`` files, as installing the package does.

        A start-up measured without them recompiles ≈ 650 modules on every start (≈ 0.3 s
        more), which no installed server pays; a machine with ``PYTHONDONTWRITEBYTECODE``
        set never writes them by itself.
        """
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(self.src)], check=True)

    def env(self) -> dict[str, str]:
        """The environment that makes ``python -m llm_simulator…`` import from ``src``."""
        return {**os.environ, "PYTHONPATH": str(self.src)}

    def argv(self, port: int, *extra: str, server: str = "granian") -> list[str]:
        """The ``serve`` command line (same interpreter and flags for every checkout)."""
        return [sys.executable, "-m", "llm_simulator.cli.main", "serve", "--host", HOST, "--port", str(port),
                "--server", server, "--log-level", "warning", *extra]  # fmt: skip

    def start(self, name: str, port: int, log_dir: Path, *extra: str, server: str = "granian") -> Server:
        """Start this checkout's simulator (not yet waited for)."""
        return start_process(name, self.argv(port, *extra, server=server), port, log_dir, self.env())

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run this checkout's ``llm-simulator`` CLI once (e.g. ``config validate FILE``)."""
        argv = [sys.executable, "-m", "llm_simulator.cli.main", *args]
        return subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False)

    def describe(self) -> dict[str, str]:
        """What the results file records about this checkout."""
        return {"label": self.label, "src": str(self.src), "commit": self.commit}


def candidate() -> Checkout:
    """This checkout's ``src``: the version under test."""
    return Checkout("simulator", REPO_DIR / "src", git_commit())


def compiled_checkouts(args: argparse.Namespace) -> list[Checkout]:
    """The candidate and ``args``' baselines, each with its ``.pyc`` files written (for start-up and memory runs)."""
    checkouts = [candidate(), *baselines(args)]
    for checkout in checkouts:
        checkout.compile_bytecode()
    return checkouts


def add_baseline_flags(parser: argparse.ArgumentParser) -> None:
    """``--baseline-src DIR`` and ``--baseline LABEL=DIR``, both repeatable, kept in command-line order."""
    parser.add_argument(
        "--baseline-src",
        dest="baseline_specs",
        action="append",
        default=[],
        type=lambda directory: ("", directory),
        metavar="DIR",
        help="another checkout (its root or its src) to measure in the same rounds; repeatable; "
        "labelled base-<short commit>",
    )
    parser.add_argument(
        "--baseline",
        dest="baseline_specs",
        action="append",
        type=_labelled,
        metavar="LABEL=DIR",
        help="the same with a label of your choice (e.g. pre15=/work/wt-pre15); repeatable",
    )


def _labelled(spec: str) -> tuple[str, str]:
    """``LABEL=DIR`` → ``(LABEL, DIR)`` (argparse reports the error on a bad one)."""
    label, sep, directory = spec.partition("=")
    if not sep or not label or not directory:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected LABEL=DIR")
    return label, directory


def baselines(args: argparse.Namespace) -> list[Checkout]:
    """The checkouts named by ``--baseline-src`` / ``--baseline``; exits on a bad one."""
    found: list[Checkout] = []
    for label, directory in args.baseline_specs:
        src = _package_src(Path(directory))
        commit = git_commit(src)
        checkout = Checkout(label or f"base-{commit[:7]}", src, commit)
        if checkout.label in RESERVED_LABELS or any(b.label == checkout.label for b in found):
            sys.exit(f"baseline label {checkout.label!r} is taken; name it with --baseline LABEL={directory}")
        _check_import(checkout)
        found.append(checkout)
    return found


def _package_src(directory: Path) -> Path:
    """The ``src`` directory holding ``llm_simulator`` (``directory`` itself or its ``src``)."""
    for src in (directory, directory / "src"):
        if (src / "llm_simulator" / "cli" / "main.py").is_file():
            return src.resolve()
    sys.exit(f"{directory}: no llm_simulator package there or in its src/ (give a checkout or its src)")


def _check_import(checkout: Checkout) -> None:
    """Make sure ``PYTHONPATH`` really wins over the virtualenv's installed package."""
    probe = [sys.executable, "-c", "import llm_simulator; print(llm_simulator.__file__)"]
    out = subprocess.run(probe, env=checkout.env(), capture_output=True, text=True, timeout=60, check=False)
    if out.returncode != 0 or not out.stdout.strip().startswith(str(checkout.src)):
        sys.exit(f"{checkout.label}: importing llm_simulator with PYTHONPATH={checkout.src} gave "
                 f"{out.stdout.strip() or out.stderr.strip()[-500:]}")  # fmt: skip


def http_json(port: int, path: str, method: str = "GET", timeout: float = 5.0) -> Any:
    """GET/POST ``path`` on 127.0.0.1 and decode the JSON answer."""
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}", method=method, data=b"" if method == "POST" else None
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def http_post(port: int, path: str, body: bytes, timeout: float = 10.0) -> bytes:
    """POST a JSON body and return the response body."""
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data: bytes = response.read()
        return data


# -- CPU accounting --------------------------------------------------------------------------


def _ppid_map() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 2 (comm) may contain spaces; everything after the last ')' is well formed.
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (e.g. granian's worker processes)."""
    parents = _ppid_map()
    tree = [pid]
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        tree.extend(children)
        frontier.extend(children)
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime (all threads) of the given processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5): utime, stime
    return total / CLK_TCK


def listen_drops() -> int | None:
    """The machine's count of connections dropped at a full accept queue (``TcpExt: ListenDrops``).

    Machine-wide: the difference over a run is the run's target only when nothing else
    connects meanwhile. A dropped handshake is retried by the client's kernel after 1, 3, 7 s…,
    which a stream sees as a long TTFT. None where ``/proc/net/netstat`` is missing.
    """
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            fields = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(fields["ListenDrops"]) if "ListenDrops" in fields else None
    return None


def self_cpu_seconds() -> float:
    """CPU seconds used by this process (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- In-process requests ---------------------------------------------------------------------


def chat_scope() -> dict[str, Any]:
    """The ASGI scope of ``POST /v1/chat/completions`` with a bearer key, for driving the app in process."""
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer sk-bench")],
        "query_string": b"",
    }


# -- Results ---------------------------------------------------------------------------------


def git_commit(path: Path = REPO_DIR) -> str:
    """HEAD of the checkout holding ``path``, with ``-dirty`` if tracked files are modified."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            check=False,
            cwd=path,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    """Where and when the benchmark ran."""
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "llm_simulator": _package_version("llm-simulator"),
        "granian": _package_version("granian"),
        "uvicorn": _package_version("uvicorn"),
        "uvloop": _package_version("uvloop"),
        "loadavg_at_start": list(os.getloadavg()),
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (pretty-printed, stable key order).

    ``name`` may also be a path (``/tmp/x`` or ``out/x.json``): relative to the results
    directory, ``.json`` appended unless it already ends so.
    """
    path = RESULTS_DIR / name  # an absolute name replaces RESULTS_DIR
    if path.suffix != ".json":
        path = path.with_name(path.name + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it, else as it is (for messages)."""
    try:
        return str(path.resolve().relative_to(REPO_DIR))
    except ValueError:
        return str(path)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain aligned text table."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * width for width in widths))


def _fmt(value: object) -> str:
    if value is None:  # a metric the target does not have (e.g. the peer's emit error)
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
