"""String values honouring ``format``, ``pattern``, ``minLength``/``maxLength`` and the name."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from llm_simulator.engine.schema import formats, hints, regex
from llm_simulator.engine.schema.errors import Infeasible, SchemaError

MAX_LENGTH = 100_000
"""Largest ``minLength`` honoured; a larger one is refused rather than allocating megabytes."""

# Tried when a pattern is beyond the sampler: common shapes that simple validators accept.
_STOCK = (
    *("a", "abc", "test", "example", "A1", "0", "123", "abc12345", "Passw0rd!", "Abcdef1!", "Passw0rd!2024"),
    *("2024-01-31", "12:30", "user@example.com", "https://example.com", "", "x-1", "ABC-123", "aa", "abab"),
)


def string(
    kw: dict[str, Any], name: str | None, rng: random.Random, path: str, more_patterns: tuple[str, ...] = ()
) -> str:
    """A string valid for the string keywords of ``kw``, plausible for a value called ``name``.

    ``more_patterns`` are further patterns the string must match (from merged ``allOf`` parts).
    """
    low = kw.get("minLength", 0)
    high = kw.get("maxLength")
    if low > MAX_LENGTH:
        raise SchemaError(f"minLength {low} is larger than the supported {MAX_LENGTH}", path)
    if high is not None and high < low:
        raise Infeasible(f"minLength {low} exceeds maxLength {high}", path)
    patterns = ([kw["pattern"]] if "pattern" in kw else []) + list(more_patterns)
    fits = matcher(patterns, low, high)

    make = formats.FORMATS.get(kw.get("format", ""))
    if make is not None:
        for _ in range(3):
            value = make(rng)
            if fits(value):
                return value
    hint = hints.text_hint(name, rng)
    if hint is not None and fits(hint):
        return hint
    if patterns:
        found = from_patterns(patterns, rng, fits, low, (hint,) if hint else ())
        if found is None:
            shown = " and ".join(repr(p) for p in patterns)
            raise Infeasible(f"found no string matching pattern {shown} with length {low}..{high}", path)
        return found
    return fit_length(hint or formats.filler(rng), low, high, rng)


def matcher(patterns: list[str], low: int = 0, high: int | None = None) -> Callable[[str], bool]:
    """A test for strings of length ``low..high`` that every pattern finds (JSON Schema: a search)."""
    compiled = [re.compile(p) for p in patterns]

    def fits(value: str) -> bool:
        if len(value) < low or (high is not None and len(value) > high):
            return False
        return all(c.search(value) is not None for c in compiled)

    return fits


def fit_length(text: str, low: int, high: int | None, rng: random.Random) -> str:
    """``text`` extended with filler words up to ``low`` characters and cut to ``high``."""
    while len(text) < low:
        text = f"{text} {formats.filler(rng)}" if text else formats.filler(rng)
    if high is not None and len(text) > high:
        text = text[:high].rstrip()
        # Cutting may end on a space that rstrip removed; pad back with a letter.
        text += "x" * max(0, low - len(text))
    return text


def _parse(pattern: str) -> regex.Node | None:
    for relaxed in (False, True):
        try:
            return regex.parse(pattern, relaxed=relaxed)
        except regex.Unsupported:
            continue
    return None


def from_patterns(
    patterns: list[str],
    rng: random.Random,
    fits: Callable[[str], bool],
    low: int = 0,
    extra: tuple[str, ...] = (),
) -> str | None:
    """A string for which ``fits`` holds, sampled from ``patterns``; None if none was found.

    Unbounded repeats are drawn wider on each attempt so a large ``minLength`` can be met; a
    sample that is too short is also tried with filler appended, which keeps matching when the
    pattern is not anchored at the end (JSON Schema patterns are unanchored searches). With
    several patterns the samples are also tried concatenated: ``^a`` and ``b$`` meet in "a…b".
    """
    nodes = [node for node in map(_parse, patterns) if node is not None]
    short: list[str] = []
    for attempt in range(40 if nodes else 0):
        spread = 3 + attempt + (low if attempt >= 10 else 0)
        samples = [regex.sample(node, rng, spread) for node in nodes]
        if len(samples) > 1:
            samples += ["".join(samples), "".join(reversed(samples))]
        for value in samples:
            if fits(value):
                return value
            if len(value) < low:
                short.append(value)
    padded = [value + value[-1:] * (low - len(value)) for value in short]
    padded += [value + "x" * (low - len(value)) for value in short]
    for candidate in (*padded, *extra, *_STOCK):
        if fits(candidate):
            return candidate
    return None
