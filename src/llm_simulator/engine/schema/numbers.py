"""Numbers honouring ``minimum``/``maximum`` (inclusive and exclusive) and ``multipleOf``."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Any

from llm_simulator.engine.schema import hints
from llm_simulator.engine.schema.errors import Infeasible
from llm_simulator.engine.schema.limits import INT64

_SPAN = 100
"""Width of the range used when a side is unbounded (values stay human-sized)."""


def is_multiple(value: float, step: int | float) -> bool:
    """Whether ``value`` is a multiple of ``step``, computed exactly as jsonschema does.

    jsonschema divides when ``step`` is a float and checks the quotient is integral, so a value
    such as ``0.3`` fails ``multipleOf: 0.1`` there; candidates must pass this same test.
    """
    if isinstance(step, float):
        try:
            quotient = value / step
            return int(quotient) == quotient
        except OverflowError:
            return False
    return value % step == 0


def _in_bounds(value: float, kw: dict[str, Any]) -> bool:
    return (
        ("minimum" not in kw or value >= kw["minimum"])
        and ("maximum" not in kw or value <= kw["maximum"])
        and ("exclusiveMinimum" not in kw or value > kw["exclusiveMinimum"])
        and ("exclusiveMaximum" not in kw or value < kw["exclusiveMaximum"])
    )


def fits(value: float, kw: dict[str, Any], integer: bool) -> bool:
    """Whether ``value`` satisfies the numeric keywords of ``kw`` (and is integral if required).

    Infinities and NaN never fit: JSON cannot write them (``orjson`` would write ``null``).
    """
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if integer and not (isinstance(value, int) or value.is_integer()):
        return False
    step = kw.get("multipleOf")
    return _in_bounds(value, kw) and (step is None or is_multiple(value, step))


def _bounds(kw: dict[str, Any]) -> tuple[Fraction | None, Fraction | None]:
    """The tightest inclusive lower / upper bounds as exact fractions (None = unbounded)."""
    lows = [Fraction(kw[k]) for k in ("minimum", "exclusiveMinimum") if k in kw]
    highs = [Fraction(kw[k]) for k in ("maximum", "exclusiveMaximum") if k in kw]
    return (max(lows) if lows else None, min(highs) if highs else None)


def _window(low: Fraction | None, high: Fraction | None, center: float | None) -> tuple[Fraction, Fraction]:
    """A finite range inside the bounds, near ``center`` when there is one."""
    if center is not None and not math.isfinite(center):
        center = None
    if low is None and high is None:
        base = Fraction(center) if center is not None else Fraction(0)
        return (base - _SPAN if center is not None else base, base + _SPAN)
    if low is None:
        assert high is not None
        return (high - _SPAN, high)
    if high is None:
        return (low, low + _SPAN)
    return (low, high)


def number(kw: dict[str, Any], integer: bool, name: str | None, rng: random.Random, path: str) -> int | float:
    """An int (``integer``) or float valid for the numeric keywords of ``kw``."""
    hint = hints.number_hint(name, rng, integer)
    if hint is not None and fits(hint, kw, integer):
        return hint
    low, high = _bounds(kw)
    if low is not None and high is not None and low > high:
        raise Infeasible(f"the range [{float(low)}, {float(high)}] is empty", path)
    window = _window(low, high, float(hint) if hint is not None else None)
    if integer:
        # Integers past 64 bits break JSON consumers (orjson refuses to write them).
        window = (max(window[0], Fraction(INT64[0])), min(window[1], Fraction(INT64[1])))
        if window[0] > window[1]:
            raise Infeasible(f"no integer in the signed 64-bit range fits {_describe(kw)}", path)
    step = kw.get("multipleOf")
    if step is not None or integer:
        return _stepped(kw, integer, step, window, rng, path)
    for _ in range(8):
        value = round(rng.uniform(float(window[0]), float(window[1])), 2)
        if fits(value, kw, integer):
            return value
    for value in (float((window[0] + window[1]) / 2), float(window[0]), float(window[1])):
        if fits(value, kw, integer):
            return value
    edge = float(window[0])
    value = math.nextafter(edge, math.inf)
    if fits(value, kw, integer):
        return value
    raise Infeasible(f"no number fits {_describe(kw)}", path)


def _stepped(
    kw: dict[str, Any],
    integer: bool,
    step: float | None,
    window: tuple[Fraction, Fraction],
    rng: random.Random,
    path: str,
) -> int | float:
    """A multiple of ``step`` (integers: of 1, or of ``step``'s numerator) inside ``window``."""
    unit = Fraction(str(step)) if step is not None else Fraction(1)
    if integer:
        # Integer multiples of p/q (in lowest terms) are exactly the multiples of p.
        unit = Fraction(unit.numerator) if unit.denominator != 1 or step is None else unit
    if unit <= 0:
        raise Infeasible("multipleOf must be positive", path)
    first = math.ceil(window[0] / unit)
    last = math.floor(window[1] / unit)
    what = "integer" if step is None else f"multiple of {step}"
    if first > last:
        raise Infeasible(f"no {what} fits {_describe(kw)}", path)
    tries = [rng.randint(first, last) for _ in range(12)]
    tries += list(range(first, min(last, first + 50) + 1))
    for k in tries:
        exact = k * unit
        value: int | float = int(exact)
        if exact.denominator != 1 or not INT64[0] <= value <= INT64[1]:
            # A non-integer, or an integral number too large for an int64: a float (which
            # ``fits`` then checks is still in range and a multiple, as jsonschema will).
            try:
                value = float(exact)
            except OverflowError:
                continue
        if fits(value, kw, integer):
            return value
    raise Infeasible(f"no {what} fits {_describe(kw)}", path)


def _describe(kw: dict[str, Any]) -> str:
    keys = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf")
    return ", ".join(f"{k}={kw[k]}" for k in keys if k in kw) or "the bounds"
