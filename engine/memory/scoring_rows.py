"""The scoring inputs of search candidates, as the scoring cache hands them out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.clock import to_naive_utc

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def epoch_us(value: datetime) -> int:
    """Microseconds since the epoch of a datetime as DuckDB stores it (naive UTC)."""
    return (to_naive_utc(value) - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class ScoringRows:
    """A snapshot of the scoring inputs of live memories, in ascending id order."""

    ids: list[int]
    kinds: list[str]
    author_is_bot: list[bool]
    immutable: list[bool]
    alpha: list[float]
    beta: list[float]
    history: list[float]
    """Per memory its time, then its access times (epoch seconds), memory after memory."""
    bounds: list[int]
    """Memory ``i``'s history is ``history[bounds[i]:bounds[i + 1]]``."""
