"""The one error this package raises, and the internal signal used for backtracking."""

from __future__ import annotations

from collections.abc import Iterable


def format_path(parts: Iterable[object]) -> str:
    """Join schema path parts as ``properties.user.items`` (list indices as numbers)."""
    return ".".join(str(part) for part in parts)


def join_path(path: str, *parts: object) -> str:
    """``path`` extended by ``parts`` (``path`` may be ``""``, the root)."""
    return format_path([path, *parts] if path else parts)


class SchemaError(ValueError):
    """A schema that is invalid, or valid but beyond what the generator can honour.

    ``path`` locates the offending subschema inside the schema document as dotted keys, e.g.
    ``properties.user.items`` (``""`` for the root), so a provider can name it in a 400.
    """

    def __init__(self, message: str, path: str = "") -> None:
        where = path or "(root)"
        super().__init__(f"{message} (at {where})")
        self.path = path
        self.reason = message


class Infeasible(Exception):
    """A choice made during generation cannot be completed; the caller tries another.

    Kept distinct from ``SchemaError`` so that a dead end inside one ``anyOf`` branch or one
    type of a type list is retried instead of failing the whole request.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.message = message

    def to_schema_error(self) -> SchemaError:
        """The user-facing error for a dead end that no alternative could avoid."""
        return SchemaError(self.message, self.path)
