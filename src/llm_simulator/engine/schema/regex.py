r"""A sampler for simple regular expressions: strings that a ``pattern`` matches.

Understands literals, ``.``, classes (``[a-z0-9_]``, ``[^...]``, ``\d \w \s`` and their
negations), groups (capturing, ``(?:...)``, named), alternation, the quantifiers ``? * + {n}
{n,} {n,m}`` (lazy/possessive suffixes ignored), anchors and escapes. Lookarounds,
backreferences and most inline flags raise ``Unsupported``; the caller then falls back to
trying candidates. Samples are always re-checked with ``re.search`` by the caller.
"""

from __future__ import annotations

import random
import re
import sys
from dataclasses import dataclass

Ranges = tuple[tuple[int, int], ...]

_PRINTABLE: Ranges = ((0x20, 0x7E),)
_DIGITS: Ranges = ((0x30, 0x39),)
_WORD: Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_SPACE: Ranges = ((0x20, 0x20),)
_SPACE_ALL: Ranges = ((0x09, 0x0D), (0x20, 0x20))
# "." draws from letters and digits: any character would do, readable ones look better.
_DOT: Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A))
_QUANTIFIER = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "0": "\0", "a": "\a"}


class Unsupported(Exception):
    """The pattern uses a construct this sampler does not model."""


@dataclass(frozen=True)
class Node:
    """A parsed piece of a pattern.

    Kinds: ``lit`` (``text``), ``set`` (``ranges``), ``seq``/``alt`` (``children``), ``rep``
    (one child, ``low``..``high`` times), ``group`` (capturing group number ``low``),
    ``backref`` (to group ``low``) and ``empty`` (anchors, boundaries).
    """

    kind: str
    text: str = ""
    ranges: Ranges = ()
    children: tuple[Node, ...] = ()
    low: int = 0
    high: int | None = None


_EMPTY = Node("empty")


def _complement(ranges: Ranges) -> Ranges:
    """Printable ASCII not in ``ranges`` (negated classes draw readable characters)."""
    allowed = [c for c in range(0x20, 0x7F) if not any(lo <= c <= hi for lo, hi in ranges)]
    return tuple((c, c) for c in allowed)


class _Parser:
    def __init__(self, pattern: str, relaxed: bool) -> None:
        self.s = pattern
        self.i = 0
        # Relaxed: lookarounds and backreferences match the empty string. Samples then only
        # approximate the language; the caller's re.search check keeps the ones that match.
        self.relaxed = relaxed
        self.groups = 0
        self.names: dict[str, int] = {}

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def parse(self) -> Node:
        node = self.alternation()
        if self.i != len(self.s):
            raise Unsupported(f"unexpected {self.peek()!r}")
        return node

    def alternation(self) -> Node:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else Node("alt", children=tuple(branches))

    def sequence(self) -> Node:
        items: list[Node] = []
        while self.i < len(self.s) and self.peek() not in "|)":
            items.append(self.quantified(self.atom()))
        return Node("seq", children=tuple(items))

    def quantified(self, atom: Node) -> Node:
        char = self.peek()
        if char in ("*", "+", "?"):
            self.i += 1
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        elif char == "{" and (match := _QUANTIFIER.match(self.s, self.i)) and (match[1] or match[3]):
            self.i = match.end()
            low = int(match[1] or 0)
            high = low if match[2] is None else (int(match[3]) if match[3] else None)
        else:
            return atom
        if self.peek() in ("?", "+"):  # lazy / possessive: same language
            self.i += 1
        return Node("rep", children=(atom,), low=low, high=high)

    def atom(self) -> Node:
        char = self.s[self.i]
        self.i += 1
        if char == "(":
            return self.group()
        if char == "[":
            return self.char_class()
        if char == ".":
            return Node("set", ranges=_DOT)
        if char in "^$":
            return _EMPTY
        if char == "\\":
            return self.escape(in_class=False)
        if char in "*+?":
            raise Unsupported("nothing to repeat")
        return Node("lit", text=char)

    def group(self) -> Node:
        rest = self.s[self.i :]
        capturing = not rest.startswith("?")
        if rest.startswith("?:"):
            self.i += 2
        elif rest.startswith(("?P<", "?<")) and not rest.startswith(("?<=", "?<!")):
            end = self.s.index(">", self.i)
            self.names[self.s[self.s.index("<", self.i) + 1 : end]] = self.groups + 1
            self.i = end + 1
            capturing = True
        elif (named := re.match(r"\?P=(\w+)\)", rest)) and named[1] in self.names:
            self.i += named.end()
            return Node("backref", low=self.names[named[1]])
        elif flags := re.match(r"\?[imsu]+\)", rest):
            # Inline flags that do not change what our samples look like.
            self.i += flags.end()
            return _EMPTY
        elif rest.startswith(("?=", "?!", "?<=", "?<!")) and self.relaxed:
            self.i += 3 if rest.startswith("?<") else 2
            self.alternation()
            if self.peek() != ")":
                raise Unsupported("unbalanced parenthesis")
            self.i += 1
            return _EMPTY
        elif rest.startswith("?"):
            raise Unsupported("lookaround or special group")
        if capturing:
            self.groups += 1
            number = self.groups
        node = self.alternation()
        if self.peek() != ")":
            raise Unsupported("unbalanced parenthesis")
        self.i += 1
        return Node("group", children=(node,), low=number) if capturing else node

    def escape(self, *, in_class: bool) -> Node:
        if self.i >= len(self.s):
            raise Unsupported("trailing backslash")
        char = self.s[self.i]
        self.i += 1
        classes = {"d": _DIGITS, "w": _WORD, "s": _SPACE}
        if char in classes:
            return Node("set", ranges=classes[char])
        if char in "DWS":
            return Node("set", ranges=_complement(_SPACE_ALL if char == "S" else classes[char.lower()]))
        if char in "bB" and not in_class:
            return _EMPTY  # word boundaries: the caller's re.search check decides
        if char in "AZz" and not in_class:
            return _EMPTY
        if char == "b":
            return Node("lit", text="\b")
        if char in _ESCAPES:
            return Node("lit", text=_ESCAPES[char])
        if char in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[char]
            digits = self.s[self.i : self.i + width]
            self.i += width
            try:
                return Node("lit", text=chr(int(digits, 16)))
            except ValueError as exc:
                raise Unsupported("bad hex escape") from exc
        if char.isdigit() and char != "0" and not in_class:
            digits = char
            while self.peek().isdigit():
                digits += self.s[self.i]
                self.i += 1
            return Node("backref", low=int(digits))
        if char.isdigit() or char in "pPkN":
            raise Unsupported(f"\\{char} (backreference or property)")
        return Node("lit", text=char)

    def char_class(self) -> Node:
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            if self.i >= len(self.s):
                raise Unsupported("unterminated class")
            char = self.s[self.i]
            if char == "]" and not first:
                self.i += 1
                break
            first = False
            self.i += 1
            if char == "\\":
                node = self.escape(in_class=True)
                if node.kind == "set":
                    ranges.extend(node.ranges)
                    continue
                char = node.text
            low = ord(char)
            if self.peek() == "-" and self.i + 1 < len(self.s) and self.s[self.i + 1] != "]":
                self.i += 1
                end = self.s[self.i]
                self.i += 1
                if end == "\\":
                    end_node = self.escape(in_class=True)
                    if end_node.kind != "lit":
                        raise Unsupported("class range ending in a class")
                    end = end_node.text
                ranges.append((low, ord(end)))
            else:
                ranges.append((low, low))
        result = _complement(tuple(ranges)) if negated else tuple(ranges)
        if not result:
            raise Unsupported("empty class")
        return Node("set", ranges=result)


def parse(pattern: str, *, relaxed: bool = False) -> Node:
    """Parse ``pattern``; raises ``Unsupported`` for constructs the sampler cannot model.

    With ``relaxed``, lookarounds and backreferences are read as matching the empty string.
    """
    return _Parser(pattern, relaxed).parse()


def _pick_char(ranges: Ranges, rng: random.Random) -> str:
    # Prefer printable ASCII inside the class; otherwise any non-surrogate code point in it.
    readable = tuple((max(lo, 0x20), min(hi, 0x7E)) for lo, hi in ranges if lo <= 0x7E and hi >= 0x20)
    # (Ranges are cut around the surrogates: JSON text cannot carry a lone one.)
    pool = readable or tuple(
        part for lo, hi in ranges for part in ((lo, min(hi, 0xD7FF)), (max(lo, 0xE000), hi)) if part[0] <= part[1]
    )
    if not pool:
        raise Unsupported("class has only surrogates")
    lo, hi = rng.choices(pool, weights=[hi - lo + 1 for lo, hi in pool])[0]
    return chr(rng.randint(lo, hi))


class TooLong(Exception):
    """A sample's required part alone is longer than the ``longest`` asked for."""


def sample(
    node: Node, rng: random.Random, spread: int = 4, longest: int = sys.maxsize, enough: int = sys.maxsize
) -> str:
    """A random string matched by ``node``; unbounded repeats add up to ``spread`` copies.

    Optional repeat copies stop once the sample is ``enough`` long, and a sample whose required
    part alone is longer than ``longest`` raises ``TooLong``: unbounded, nested repeats such as
    ``(ab+)+`` would grow with the square of ``spread``.
    """
    out: list[str] = []
    _emit(node, rng, spread, out, {}, [0, min(enough, longest), longest])
    return "".join(out)


def _emit(node: Node, rng: random.Random, spread: int, out: list[str], groups: dict[int, str], size: list[int]) -> None:
    # ``size``: [characters emitted so far, enough, the most allowed], shared by the whole sample.
    if node.kind == "group":
        start = len(out)
        _emit(node.children[0], rng, spread, out, groups, size)
        groups[node.low] = "".join(out[start:])
    elif node.kind in ("backref", "lit", "set"):
        piece = groups.get(node.low, "") if node.kind == "backref" else node.text
        out.append(_pick_char(node.ranges, rng) if node.kind == "set" else piece)
        size[0] += len(out[-1])
        if size[0] > size[2]:
            raise TooLong
    elif node.kind == "seq":
        for child in node.children:
            _emit(child, rng, spread, out, groups, size)
    elif node.kind == "alt":
        _emit(rng.choice(node.children), rng, spread, out, groups, size)
    elif node.kind == "rep":
        high = node.low + spread if node.high is None else min(node.high, node.low + max(spread, 1) * 4)
        for i in range(rng.randint(node.low, max(node.low, high))):
            if i >= node.low and size[0] >= size[1]:
                break  # optional copies only while the sample is short enough
            _emit(node.children[0], rng, spread, out, groups, size)
