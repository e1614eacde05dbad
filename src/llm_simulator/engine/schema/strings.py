"""String values honouring ``format``, ``pattern``, ``minLength``/``maxLength`` and the name."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from llm_simulator.engine.schema import formats, hints, regex
from llm_simulator.engine.schema.errors import Infeasible, SchemaError
from llm_simulator.engine.schema.limits import PATTERN_STRING_LENGTH, Limits

# Tried when a pattern is beyond the sampler: common shapes that simple validators accept.
_STOCK = (
    *("a", "abc", "test", "example", "A1", "0", "123", "abc12345", "Passw0rd!", "Abcdef1!", "Passw0rd!2024"),
    *("2024-01-31", "12:30", "user@example.com", "https://example.com", "", "x-1", "ABC-123", "aa", "abab"),
)
_SLACK = 256
"""Sampled strings may run this far past ``minLength`` when there is no ``maxLength``."""
_WIDE_ATTEMPTS = 30
"""Samples drawn with repeats widened to ``minLength`` (each that long: charged to ``spend``)."""


def string(
    kw: dict[str, Any],
    name: str | None,
    rng: random.Random,
    path: str,
    more_patterns: tuple[str, ...] = (),
    limits: Limits | None = None,
    spend: Callable[[int], None] | None = None,
) -> str:
    """A string valid for the string keywords of ``kw``, plausible for a value called ``name``.

    ``more_patterns`` are further patterns the string must match (from merged ``allOf`` parts).
    No string is longer than ``limits.string_cap`` (what the document's patterns may be matched
    against), nor than ``PATTERN_STRING_LENGTH`` when drawn from a pattern. ``spend`` is
    charged work units for the characters sampled and the worst-case cost of each search.
    """
    limits = limits or Limits()
    patterns = ([kw["pattern"]] if "pattern" in kw else []) + list(more_patterns)
    most = min(limits.string_cap, PATTERN_STRING_LENGTH) if patterns else limits.string_cap
    low = kw.get("minLength", 0)
    if low > most:
        raise SchemaError(f"minLength {low} is larger than the supported {most}", path)
    high = most if kw.get("maxLength") is None else min(kw["maxLength"], most)
    if high < low:
        raise Infeasible(f"minLength {low} exceeds maxLength {high}", path)
    fits = matcher(patterns, low, high, None if spend is None else lambda n: spend(1 + limits.search_units(n)))

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
        found = from_patterns(patterns, rng, fits, low, (hint,) if hint else (), high, spend)
        if found is None:
            shown = " and ".join(repr(p) for p in patterns)
            raise Infeasible(f"found no string matching pattern {shown} with length {low}..{high}", path)
        return found
    return fit_length(hint or formats.filler(rng), low, high, rng)


def matcher(
    patterns: list[str], low: int = 0, high: int | None = None, searched: Callable[[int], None] | None = None
) -> Callable[[str], bool]:
    """A test for strings of length ``low..high`` that every pattern finds (JSON Schema: a search).

    ``searched`` is told the length of every string actually searched.
    """
    compiled = [re.compile(p) for p in patterns]

    def fits(value: str) -> bool:
        if len(value) < low or (high is not None and len(value) > high):
            return False
        if searched is not None and compiled:
            searched(len(value))
        return all(c.search(value) is not None for c in compiled)

    return fits


def fit_length(text: str, low: int, high: int | None, rng: random.Random) -> str:
    """``text`` extended with filler words up to ``low`` characters and cut to ``high``."""
    parts = [text] if text else []
    size = len(text)
    while size < low:  # joined once at the end: linear, not quadratic, in ``low``
        word = formats.filler(rng)
        size += len(word) + (1 if parts else 0)
        parts.append(word)
    text = " ".join(parts)
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
    high: int | None = None,
    spend: Callable[[int], None] | None = None,
) -> str | None:
    """A string for which ``fits`` holds, sampled from ``patterns``; None if none was found.

    Samples that are too short are also tried with filler appended, which keeps matching when
    the pattern is not anchored at the end (JSON Schema patterns are unanchored searches);
    only then are unbounded repeats drawn wide enough to meet a large ``minLength`` (long
    samples, charged to ``spend``). No sample grows past ``high``, nor by optional repeats
    past ``low`` plus some slack: nested repeats would otherwise multiply their widths. With several
    patterns the samples are also tried concatenated: ``^a`` and ``b$`` meet in "a…b".
    """
    nodes = [node for node in map(_parse, patterns) if node is not None]
    longest = low + _SLACK if high is None else high
    enough = min(longest, low + _SLACK)  # any length from ``low`` on will do
    short: list[str] = []
    padded_tried = False
    for attempt in range(10 + _WIDE_ATTEMPTS if nodes else 0):
        wide = attempt >= 10
        if wide and not padded_tried:
            padded_tried = True
            found = _first_fit(_padded(short, low), fits)
            if found is not None:
                return found
        spread = 3 + attempt + (low if wide else 0)
        samples = [s for s in (_sample(node, rng, spread, longest, enough) for node in nodes) if s is not None]
        if spend is not None:
            spend(1 + sum(len(s) for s in samples) // 8)
        if len(samples) > 1:
            samples += ["".join(samples), "".join(reversed(samples))]
        for value in samples:
            if fits(value):
                return value
            if len(value) < low:
                short.append(value)
    candidates = [] if padded_tried else _padded(short, low)
    return _first_fit([*candidates, *extra, *_STOCK], fits)


def _sample(node: regex.Node, rng: random.Random, spread: int, longest: int, enough: int) -> str | None:
    try:
        return regex.sample(node, rng, spread, longest, enough)
    except (regex.TooLong, regex.Unsupported):  # too long; or a class of only surrogates
        return None


def _padded(short: list[str], low: int) -> list[str]:
    out = [value + value[-1:] * (low - len(value)) for value in short]
    return out + [value + "x" * (low - len(value)) for value in short]


def _first_fit(candidates: list[str], fits: Callable[[str], bool]) -> str | None:
    return next((candidate for candidate in candidates if fits(candidate)), None)
