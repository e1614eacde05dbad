"""Character sets of a parsed pattern, as bitmasks over a probe alphabet (for ``backtracking``).

Exact set algebra over all of Unicode is not needed to tell whether two parts of a pattern can
match the same characters: testing a probe alphabet — ASCII, representatives of the non-ASCII
classes (letters, digits, spaces, a zero-width space, an emoji) and every literal and range
bound of the pattern itself — answers the question for the patterns seen in practice.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import Any

# re's own parser and its opcodes: private, but the only exact account of how ``re`` will
# execute a pattern.
sre: Any = importlib.import_module("re._parser")
op: Any = importlib.import_module("re._constants")

_BASE_PROBES = [chr(i) for i in range(128)] + list(
    "\u00a0\u00e9\u00df\u03a3\u044f\u4e2d\u0663\u2028\u3000\u200b\U0001f600"
)
_CATEGORIES = {
    op.CATEGORY_DIGIT: r"\d",
    op.CATEGORY_NOT_DIGIT: r"\D",
    op.CATEGORY_SPACE: r"\s",
    op.CATEGORY_NOT_SPACE: r"\S",
    op.CATEGORY_WORD: r"\w",
    op.CATEGORY_NOT_WORD: r"\W",
    op.CATEGORY_LINEBREAK: r"\n",
    op.CATEGORY_NOT_LINEBREAK: r"[^\n]",
}
_REPEATS = (op.MAX_REPEAT, op.MIN_REPEAT, op.POSSESSIVE_REPEAT)


class Alphabet:
    """The probe alphabet of one parsed pattern; sets are ints (bit i: probe i is matched)."""

    def __init__(self, tree: Any) -> None:
        nodes = walk(tree)
        literals = {chr(av) for kind, av in nodes if kind in (op.LITERAL, op.NOT_LITERAL)}
        literals |= {chr(c) for kind, av in nodes if kind is op.RANGE for c in av}
        # Case-insensitive anywhere (globally or in a (?i:...) group): compare case-folded.
        local = any(kind is op.SUBPATTERN and av[1] & re.IGNORECASE for kind, av in nodes)
        self.ignore_case = local or bool(tree.state.flags & re.IGNORECASE)
        probes = dict.fromkeys([*_BASE_PROBES, *sorted(literals)])
        self.probes = list(dict.fromkeys(v for c in probes for v in self._variants(c)))
        self.all = (1 << len(self.probes)) - 1
        """Every probe: what ``.`` and unknown constructs are assumed to match."""
        self.categories = {cat: self._mask(re.compile(p).fullmatch) for cat, p in _CATEGORIES.items()}

    def _variants(self, char: str) -> tuple[str, ...]:
        if not self.ignore_case:
            return (char,)
        return tuple(v for v in (char, char.lower(), char.upper()) if len(v) == 1)

    def _mask(self, test: Callable[[str], object]) -> int:
        return sum(1 << i for i, c in enumerate(self.probes) if test(c))

    def _in_range(self, low: int, high: int, char: str) -> bool:
        return any(low <= ord(v) <= high for v in self._variants(char))

    def char(self, code: int) -> int:
        """The set a literal character matches."""
        targets = set(self._variants(chr(code)))
        return self._mask(lambda c: not targets.isdisjoint(self._variants(c)))

    def members(self, members: list[tuple[Any, Any]]) -> int:
        """The set a class (``[...]``, a category such as digits, ``[^...]``) matches."""
        mask, negate = 0, False
        for kind, av in members:
            if kind is op.NEGATE:
                negate = True
            elif kind is op.LITERAL:
                mask |= self.char(av)
            elif kind is op.RANGE or kind is op.RANGE_UNI_IGNORE:
                mask |= self._mask(functools.partial(self._in_range, av[0], av[1]))
            elif kind is op.CATEGORY:
                mask |= self.categories.get(av, self.all)
            else:
                return self.all  # an unknown member: assume it matches anything
        return self.all & ~mask if negate else mask


def walk(tree: Any) -> list[tuple[Any, Any]]:
    """Every (opcode, argument) pair of a parsed pattern, nested ones included (iteratively)."""
    out: list[tuple[Any, Any]] = []
    stack = [list(tree)]
    while stack:
        for kind, av in stack.pop():
            out.append((kind, av))
            if kind is op.IN:
                out.extend(av)
            elif kind is op.SUBPATTERN:
                stack.append(list(av[3]))
            elif kind in _REPEATS:
                stack.append(list(av[2]))
            elif kind is op.BRANCH:
                stack.extend(list(b) for b in av[1])
            elif kind is op.ATOMIC_GROUP:
                stack.append(list(av))
            elif kind is op.ASSERT or kind is op.ASSERT_NOT:
                stack.append(list(av[1]))
            elif kind is op.GROUPREF_EXISTS:
                stack.extend(list(b) for b in av[1:] if b is not None)
    return out
