"""The engine's hook for reporting its own timing accuracy."""

from __future__ import annotations

from typing import Protocol


class TimingObserver(Protocol):
    """Receives emit-time errors: actual release time minus scheduled time (seconds)."""

    def record_emit_error(self, error_s: float) -> None:
        """Record one token's emit error."""
        ...

    def record_emit_errors(self, errors: list[float]) -> None:
        """Record several tokens' emit errors (a stream's, when it ends)."""
        ...


class NullObserver:
    """Discards observations."""

    def record_emit_error(self, error_s: float) -> None:
        """Discard."""

    def record_emit_errors(self, errors: list[float]) -> None:
        """Discard."""
