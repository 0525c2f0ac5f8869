"""Why a memory was found: every signal that went into its score."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Explanation(BaseModel):
    """The per-signal breakdown of one search result (or near miss)."""

    model_config = ConfigDict(frozen=False)

    bm25_rank: int | None = None
    bm25_score: float | None = None
    ann_rank: int | None = None
    ann_similarity: float | None = None
    rrf: float = 0.0
    rerank: float | str = "skipped"
    """The cross-encoder score, or why there is none ("skipped: no model")."""
    activation: dict[str, float] = {}
    """ACT-R parts: base_level, spreading, partial_matching, noise, total."""
    weight_mean: float = 0.0
    weight_variance: float = 0.0
    weight_contested: bool = False
    recency: float = 0.0
    co_access: float = 0.0
    """Bonus spread from co-accessed partners of higher-ranked hits."""
    co_access_from: list[int] = []
    contiguity: float = 0.0
    """Bonus spread from top hits next to it in the same conversation."""
    contiguity_from: list[int] = []
    source_factor: float = 1.0
    """Multiplier for the memory's source (raw bot messages rank lower)."""
    final: float = 0.0
    cut: str | None = None
    """Why it is not in the results (None for results)."""


class SearchHit(BaseModel):
    """One memory found by search."""

    id: int
    kind: str
    content: str
    score: float
    rank: int
    explain: Explanation
