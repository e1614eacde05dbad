r"""A static guard against catastrophic backtracking in ``pattern``s (ReDoS).

Python's ``re`` backtracks: ``^(a+)+$`` takes time exponential in the length of a string it
does not match, ``a+a+$`` cubic time. Schemas come from untrusted requests, and so do the enum
values and property names tested against their patterns, so every pattern is rated before
anything is matched against it. ``rate`` parses the pattern with ``re``'s own parser (so the
structure is exactly what the engine runs) and estimates its worst-case search cost as
``factor * length ** degree``: degree 0 for ``^[A-Z]{3}-\d{4}$``, 1 for ``^[a-z]+$``, 2 for an
unanchored ``\w+@``. It raises ``TooComplex`` for

- patterns longer than ``MAX_PATTERN_LENGTH``;
- a repeated group whose iterations can split the same text in several ways: one that itself
  repeats without bound (``(a+)+``, ``(a*)*``, ``(\w+\s?)*``) or that has overlapping
  alternatives (``(a|aa)+``) — exponential — unless each iteration holds a mandatory
  *separator* the variable parts cannot match (``(\.\w+)*``, ``([a-z0-9-]+\.)+``), which pins
  the iterations down;
- a degree above ``MAX_DEGREE`` (chains of overlapping repeats: ``a*a*a*$``) or a factor above
  ``MAX_FACTOR`` (runs of overlapping optional parts: ``a?a?a?…a?``).

``subject_cap`` turns the rating into the longest string the pattern may search.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from llm_simulator.engine.schema.charsets import Alphabet, sre
from llm_simulator.engine.schema.charsets import op as codes

MAX_PATTERN_LENGTH = 1000
"""Longest pattern accepted (also bounds the parsing and the analysis below)."""
MAX_DEGREE = 3
MAX_FACTOR = 4096
COST_BUDGET = 10_000_000
"""Backtracking steps one search may take (about 0.1 s in CPython's ``re``)."""
MIN_SUBJECT = 64
"""A pattern that cannot search strings this long within the budget is refused."""
WIDE = 16
"""A bounded repeat ``{m,n}`` with ``n - m >= WIDE`` offers as many choices as an unbounded one."""
_CAP = 1 << 40
_WORK = 200_000

_REPEATS = (codes.MAX_REPEAT, codes.MIN_REPEAT, codes.POSSESSIVE_REPEAT)
_STARTS = (codes.AT_BEGINNING, codes.AT_BEGINNING_STRING)


class TooComplex(Exception):
    """The pattern could backtrack catastrophically; the message says why."""


class Rating(NamedTuple):
    """Worst-case search cost of a pattern: about ``factor * length ** degree`` steps."""

    degree: int
    factor: int


@dataclass(frozen=True)
class _Item:
    """What one piece of a pattern can do (character sets are bitmasks over the probes)."""

    chars: int = 0  # characters it can match
    first: int = 0  # characters a non-empty match can start with
    nullable: bool = True
    steady: bool = True  # at most one way to match a given text at a given place
    loose: bool = False  # holds an unbounded (or wide) repeat: many lengths to choose from
    low: int = 0
    high: int | None = 0  # None: unbounded
    degree: int = 0
    factor: int = 1


_EMPTY = _Item()


def _span(item: _Item) -> int:
    return _CAP if item.high is None else item.high - item.low + 1


@functools.lru_cache(maxsize=1024)
def rate(pattern: str) -> Rating:
    """The worst-case search cost of ``pattern``; raises ``TooComplex`` (see the module doc).

    A pattern ``re`` cannot parse is rated (0, 1): the metaschema check reports it as invalid.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise TooComplex(f"longer than {MAX_PATTERN_LENGTH} characters")
    try:
        tree = sre.parse(pattern)
    except re.error:
        return Rating(0, 1)
    except RecursionError:
        raise TooComplex("groups nested too deeply") from None
    try:
        return _Analysis(tree).top(list(tree))
    except RecursionError:
        raise TooComplex("groups nested too deeply") from None


def subject_cap(pattern: str, most: int) -> int:
    """The longest string (at most ``most``) ``pattern`` may search within ``COST_BUDGET``."""
    degree, factor = rate(pattern)
    room = COST_BUDGET // factor
    cap = most if degree == 0 else min(most, int(room ** (1 / degree)))
    if cap < min(most, MIN_SUBJECT):
        raise TooComplex(f"its matching cost grows like {factor} * length^{degree}")
    return cap


class _Analysis:
    def __init__(self, tree: Any) -> None:
        self.chars = Alphabet(tree)
        self.all = self.chars.all
        self.groups: dict[int, _Item] = {}
        self.work = 0

    def _spend(self, steps: int) -> None:
        # The analysis is polynomial in the pattern's length; this bounds it outright.
        self.work += steps
        if self.work > _WORK:
            raise TooComplex("too intricate to analyse")

    def _single(self, mask: int) -> _Item:
        return _Item(mask, mask, nullable=False, low=1, high=1)

    def top(self, parts: list[tuple[Any, Any]]) -> Rating:
        """The rating of a whole pattern, searched (not matched) as JSON Schema does."""
        items = [self.item(op, av) for op, av in parts]
        if parts and parts[-1][0] in _REPEATS:
            # A repeat that ends the pattern never fails once it has matched, so nothing
            # backtracks into it: ``\d.*`` costs no more than ``\d``.
            items[-1] = replace(items[-1], loose=False, steady=True)
        if bool(parts) and parts[0][0] is codes.AT and parts[0][1] in _STARTS:
            whole = self.sequence(items)
            degree = whole.degree
        else:
            # re.search retries at every start: an implicit leading ``.*?`` that chains with
            # the repeats after it and multiplies everything else by the length.
            scan = _Item(self.all, self.all, True, False, True, 0, None)
            whole = self.sequence([scan, *items])
            degree = max(whole.degree, 1 + max((item.degree for item in items), default=0))
        if degree > MAX_DEGREE:
            raise TooComplex(f"overlapping repeats make its matching cost grow like length^{degree}")
        if whole.factor > MAX_FACTOR:
            raise TooComplex("too many overlapping optional parts")
        return Rating(degree, whole.factor)

    def item(self, op: Any, av: Any) -> _Item:
        """The summary of one parsed node."""
        if op is codes.LITERAL:
            return self._single(self.chars.char(av))
        if op is codes.NOT_LITERAL:
            return self._single(self.all & ~self.chars.char(av))
        if op is codes.ANY:
            return self._single(self.all)
        if op is codes.IN:
            return self._single(self.chars.members(av))
        if op is codes.AT:
            return _EMPTY
        if op is codes.SUBPATTERN:
            found = self.sequence([self.item(o, a) for o, a in av[3]])
            if av[0] is not None:
                self.groups[av[0]] = found
            return found
        if op is codes.ATOMIC_GROUP:  # no backtracking into it
            return replace(self.sequence([self.item(o, a) for o, a in av]), loose=False, steady=True)
        if op is codes.BRANCH:
            return self.branch([self.sequence([self.item(o, a) for o, a in b]) for b in av[1]])
        if op in _REPEATS:
            return self.repeat(op, *av)
        if op is codes.GROUPREF:
            group = self.groups.get(av)
            return _Item(self.all, self.all, True, False, True, 0, None, 1) if group is None else group
        if op is codes.GROUPREF_EXISTS:
            _, yes, no = av
            return self.branch([self.sequence([self.item(o, a) for o, a in b or ()]) for b in (yes, no)])
        if op is codes.ASSERT or op is codes.ASSERT_NOT:
            # A lookaround consumes nothing but runs a match of its own at each place tried.
            inner = self.sequence([self.item(o, a) for o, a in av[1]])
            return _Item(degree=max(inner.degree, 1 if inner.loose else 0), factor=inner.factor)
        return _Item(self.all, self.all, True, False, True, 0, None, 1)  # anything else: the worst

    def branch(self, alternatives: list[_Item]) -> _Item:
        """Alternatives: steady when each is and their first characters tell them apart."""
        chars = first = 0
        disjoint = True
        for alt in alternatives:
            disjoint = disjoint and not alt.nullable and not first & alt.first
            chars, first = chars | alt.chars, first | alt.first
        highs = [alt.high for alt in alternatives]
        return _Item(
            chars,
            first,
            any(alt.nullable for alt in alternatives),
            disjoint and all(alt.steady for alt in alternatives),
            any(alt.loose for alt in alternatives),
            min(alt.low for alt in alternatives),
            None if None in highs else max(h for h in highs if h is not None),
            max(alt.degree for alt in alternatives),
            max(alt.factor for alt in alternatives),
        )

    def repeat(self, op: Any, low: int, high: int, body_parts: Any) -> _Item:
        """A quantified node; rejects iterations that can split the same text in several ways."""
        if high == 0:
            return _EMPTY
        parts = list(body_parts)
        while len(parts) == 1 and parts[0][0] is codes.SUBPATTERN:
            parts = list(parts[0][1][3])  # look through ((...)) to the sequence inside
        items = [self.item(o, a) for o, a in parts]
        body = self.sequence(items)
        unbounded = high == codes.MAXREPEAT
        most = None if unbounded or body.high is None else high * body.high
        nullable = low == 0 or body.nullable
        if op is codes.POSSESSIVE_REPEAT:
            return _Item(body.chars, body.first, nullable, True, False, low * body.low, most, body.degree, body.factor)
        factor = body.factor
        if (unbounded or high > 1) and not body.steady and not self._delimited(items):
            if body.loose:
                raise TooComplex("a repeated group repeats without bound inside (nested quantifiers)")
            if unbounded:
                raise TooComplex("a repeated group can match the same text in several ways")
            for _ in range(high - 1):  # a few iterations: the choices multiply
                factor = min(_CAP, factor * max(2, body.factor * _span(body)))
        loose = body.loose or (body.chars != 0 and (unbounded or high - low >= WIDE))
        steady = body.steady and low == high
        return _Item(body.chars, body.first, nullable, steady, loose, low * body.low, most, body.degree, factor)

    def _delimited(self, items: list[_Item]) -> bool:
        """Whether a repeated body holds a separator that pins each iteration down.

        The separator is a mandatory steady part that no variable part can match; and the
        text between two separators (the body's tail, then the next iteration's head) must
        split one way only, or the choices of every iteration would multiply.
        """
        variable = 0
        for item in items:
            if not item.steady:
                variable |= item.chars
        for s, sep in enumerate(items):
            if sep.steady and not sep.nullable and sep.chars and not sep.chars & variable:
                between = self.sequence(items[s + 1 :] + items[:s])
                if between.degree <= 1 and between.factor == 1:
                    return True
        return False

    def sequence(self, items: list[_Item]) -> _Item:
        """Items matched one after another.

        Two variable items *link* when they share characters, the first can take what follows
        it, and each mandatory item between them can match a character both share: the split
        between them can then slide.
        Linked loose items chain (each link multiplies the cost by the length: ``degree``);
        other links multiply it by the number of choices (``factor``).
        """
        chains = [0] * len(items)
        degree = max((item.degree for item in items), default=0)
        factor = 1
        for item in items:
            factor = min(_CAP, factor * item.factor)
        for j, item in enumerate(items):
            if item.steady:
                continue
            weight = max(1, item.degree) if item.loose else 0
            chains[j] = weight
            link = 1
            between: set[int] = set()  # per mandatory item between i and j: what it and j can match
            after = item.first  # characters the text after item i may start with
            for i in range(j - 1, -1, -1):
                self._spend(1 + len(between))
                prev = items[i]
                shared = prev.chars & item.chars
                if not prev.steady and prev.chars & after and shared and all(m & prev.chars for m in between):
                    if prev.loose and item.loose:
                        chains[j] = max(chains[j], chains[i] + weight)
                    else:
                        link = max(link, min(_span(prev), _span(item)))
                after = prev.first if not prev.nullable else after | prev.first
                if not prev.nullable:
                    if not prev.chars & item.chars:
                        break  # j could never take this item's text: nothing earlier links to j
                    between.add(prev.chars & item.chars)
            factor = min(_CAP, factor * link)
            degree = max(degree, chains[j])
            if degree > MAX_DEGREE:
                raise TooComplex(f"overlapping repeats make its matching cost grow like length^{degree}")
        chars = first = 0
        for item in items:
            chars |= item.chars
        for item in items:
            first |= item.first
            if not item.nullable:
                break
        highs = [item.high for item in items]
        return _Item(
            chars,
            first,
            all(item.nullable for item in items),
            all(item.steady for item in items),
            any(item.loose for item in items),
            sum(item.low for item in items),
            None if None in highs else sum(h for h in highs if h is not None),
            degree,
            factor,
        )
