"""Workloads for the virtual-time engine: Poisson arrivals, closed loops and trace replays.

Everything here is pure and seeded (the caller passes the ``random.Random``), except
``read_trace``, which reads one file. A workload is a stream of ``Arrival`` objects sorted
by time (open loop) or a ``make(k, now)`` function (closed loop, see ``virtual.closed_loop``).

Prompt and output lengths come from a ``LengthSpec``: a fixed count (``500``) or a uniform
integer range (``200:2000``). A shared system prefix of N tokens gives every prompt the same
first N tokens: its full KV blocks carry the same prefix hashes in every request, so a
deployment with prefix caching computes them once and later requests find them cached.
Blocks past the shared prefix get no hash — nothing else in a synthetic prompt repeats, so
they could never hit, and leaving them out keeps the cache's bookkeeping small.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from llm_simulator.engine.load.virtual import Arrival
from llm_simulator.infra.rng import derive_seed


class WorkloadError(ValueError):
    """A workload that cannot be built: a bad length spec, a malformed or empty trace."""


@dataclass(frozen=True, slots=True)
class LengthSpec:
    """A token count: ``low`` when fixed, else uniform over the integers ``low..high``."""

    low: int
    high: int

    @classmethod
    def parse(cls, text: str) -> LengthSpec:
        """``"500"`` (fixed) or ``"200:2000"`` (uniform, both ends included); counts ≥ 1."""
        parts = text.strip().split(":")
        if len(parts) > 2:
            raise WorkloadError(f"{text!r}: expected N or LOW:HIGH")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise WorkloadError(f"{text!r}: expected N or LOW:HIGH (whole numbers)") from None
        low, high = values[0], values[-1]
        if low < 1 or high < low:
            raise WorkloadError(f"{text!r}: counts must be at least 1 and LOW <= HIGH")
        return cls(low, high)

    def sample(self, rng: random.Random) -> int:
        """One count (draws nothing from ``rng`` when fixed, so fixed specs never shift a seed)."""
        return self.low if self.low == self.high else rng.randint(self.low, self.high)

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}:{self.high}"


def prefix_hashes(shared_prefix_tokens: int, prompt_tokens: int, block_size: int, group: int = 0) -> tuple[int, ...]:
    """The prefix hashes of the full blocks a prompt shares with every other prompt of its group.

    The first ``min(shared_prefix_tokens, prompt_tokens)`` tokens are the shared prefix; each
    of its full blocks gets a hash derived from (group, block index), the same in every request.
    """
    blocks = min(shared_prefix_tokens, prompt_tokens) // block_size
    return _prefix_table(group, blocks)


_PREFIX_CACHE: dict[tuple[int, int], tuple[int, ...]] = {}


def _prefix_table(group: int, blocks: int) -> tuple[int, ...]:
    # Every request of a run asks for the same few tuples: build each once (the hashes are a
    # pure function of their key, so a module-level memo changes no result).
    key = (group, blocks)
    table = _PREFIX_CACHE.get(key)
    if table is None:
        table = tuple(derive_seed("prefix-block", group, i) for i in range(blocks))
        if len(_PREFIX_CACHE) < 1024:
            _PREFIX_CACHE[key] = table
    return table


@dataclass(frozen=True, slots=True)
class RequestShape:
    """How each synthetic request is drawn: prompt and output lengths and the shared prefix."""

    prompt: LengthSpec
    output: LengthSpec
    shared_prefix_tokens: int = 0
    block_size: int = 16

    def arrival(self, time_ms: float, rng: random.Random) -> Arrival:
        """One request arriving at ``time_ms`` (prompt drawn before output, always in that order)."""
        prompt = self.prompt.sample(rng)
        output = self.output.sample(rng)
        hashes = prefix_hashes(self.shared_prefix_tokens, prompt, self.block_size) if self.shared_prefix_tokens else ()
        return Arrival(time_ms, prompt, output, hashes)


def poisson_arrivals(rate: float, duration_s: float, shape: RequestShape, rng: random.Random) -> Iterator[Arrival]:
    """Open loop: Poisson arrivals at ``rate`` requests/s for ``duration_s`` seconds, lazily.

    Inter-arrival gaps are exponential with mean ``1/rate``; the stream ends at the first
    arrival past ``duration_s``.
    """
    if not (rate > 0 and math.isfinite(rate)):
        raise WorkloadError(f"rate must be a positive number, not {rate}")
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise WorkloadError(f"duration must be a positive number of seconds, not {duration_s}")
    end_ms = duration_s * 1000.0
    mean_gap_ms = 1000.0 / rate
    t = 0.0
    while True:
        t += rng.expovariate(1.0) * mean_gap_ms
        if t > end_ms:
            return
        yield shape.arrival(t, rng)


def closed_loop_requests(
    requests: int, shape: RequestShape, rng: random.Random
) -> Callable[[int, float], Arrival | None]:
    """Closed loop: the ``make(k, now)`` of ``virtual.closed_loop`` for ``requests`` requests in all."""

    def make(k: int, now: float) -> Arrival | None:
        return shape.arrival(now, rng) if k < requests else None

    return make


@dataclass(frozen=True, slots=True)
class TraceRow:
    """One request of a trace: seconds from the trace's first request, prompt and output tokens."""

    time_s: float
    prompt_tokens: int
    output_tokens: int


# The Azure LLM inference trace (2023, 2024) columns; the timestamp is ISO-like with 7 decimals.
TRACE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def _timestamp(text: str) -> tuple[int, float]:
    """(whole seconds since the epoch, fraction) of ``2023-11-16 18:17:03.9799600`` or of a number.

    Kept in two parts because a float of epoch seconds (~1.7e9) has only about 0.2 µs of
    resolution, and the trace's seven decimals are 0.1 µs: differences stay exact this way.
    """
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise ValueError("not a finite time")
        whole_number = math.floor(number)
        return whole_number, number - whole_number
    whole, _, fraction = text.partition(".")
    # datetime parses at most 6 decimals: parse the whole seconds, add the fraction exactly.
    stamp = datetime.fromisoformat(whole)
    if fraction and not fraction.isdigit():
        raise ValueError(f"bad fraction of a second {fraction!r}")
    if stamp.tzinfo is not None:
        seconds = int(stamp.timestamp())
    else:
        seconds = (stamp - datetime(1970, 1, 1)) // timedelta(seconds=1)
    return seconds, (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def read_trace(path: Path) -> list[TraceRow]:
    """Read an Azure-format trace CSV (``TIMESTAMP,ContextTokens,GeneratedTokens``), sorted by time.

    Times are made relative to the earliest request. A missing column, a malformed row
    (named by its line number) or a file without requests raises ``WorkloadError``.
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise WorkloadError(f"{path}: empty trace (no header, no requests)")
            names = [h.strip() for h in header]
            missing = [c for c in TRACE_COLUMNS if c not in names]
            if missing:
                raise WorkloadError(
                    f"{path}: missing column(s) {', '.join(missing)} (expected {','.join(TRACE_COLUMNS)})"
                )
            it, ic, ig = (names.index(c) for c in TRACE_COLUMNS)
            raw: list[tuple[tuple[int, float], int, int]] = []
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                try:
                    t = _timestamp(row[it])
                    prompt, output = int(row[ic]), int(row[ig])
                    if prompt < 0 or output < 0:
                        raise ValueError("negative token count")
                except (ValueError, IndexError) as exc:
                    raise WorkloadError(f"{path}:{reader.line_num}: malformed row {','.join(row)!r} ({exc})") from None
                raw.append((t, prompt, output))
    except OSError as exc:
        raise WorkloadError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise WorkloadError(f"{path}: not a UTF-8 text file") from None
    if not raw:
        raise WorkloadError(f"{path}: empty trace (a header but no requests)")
    raw.sort(key=lambda r: r[0])  # stable: equal timestamps keep file order
    (w0, f0) = raw[0][0]
    return [TraceRow((w - w0) + (f - f0), p, o) for (w, f), p, o in raw]


def trace_arrivals(
    rows: list[TraceRow],
    *,
    speedup: float = 1.0,
    max_requests: int | None = None,
    duration_s: float | None = None,
    shared_prefix_tokens: int = 0,
    block_size: int = 16,
) -> list[Arrival]:
    """Replay ``rows`` as arrivals, sped up, bounded in count and in time.

    Times are divided by ``speedup`` (2 = twice the rate); at most ``max_requests`` requests
    are kept, and only those arriving within ``duration_s`` (after the speed-up).

    Rows with no generated tokens still cost a prefill: they ask for one output token, as a
    request with ``max_tokens`` 0 is refused by every provider.
    """
    if not (speedup > 0 and math.isfinite(speedup)):
        raise WorkloadError(f"speed-up must be a positive number, not {speedup}")
    out: list[Arrival] = []
    limit = len(rows) if max_requests is None else max_requests
    for row in rows[:limit]:
        time_s = row.time_s / speedup
        if duration_s is not None and time_s > duration_s:
            break
        prompt = max(1, row.prompt_tokens)
        hashes = prefix_hashes(shared_prefix_tokens, prompt, block_size) if shared_prefix_tokens else ()
        out.append(Arrival(time_s * 1000.0, prompt, max(1, row.output_tokens), hashes))
    return out
