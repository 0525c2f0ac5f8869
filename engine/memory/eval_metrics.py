"""Retrieval metrics: recall@k and hit@k per question, and their averages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def score_ranking(
    ranked: Sequence[str], evidence: Sequence[str], ks: Sequence[int]
) -> dict[str, float]:
    """Recall@k and hit@k of one ranking.

    Args:
        ranked: retrieved dia_ids, best first.
        evidence: the dia_ids that answer the question (non-empty).
        ks: cut-offs.

    Returns:
        ``{"recall@k": share of evidence in the top k, "hit@k": 0.0 or 1.0}`` per k.

    Raises:
        ValueError: evidence is empty.
    """
    wanted = set(evidence)
    if not wanted:
        raise ValueError("a question without evidence cannot be scored")
    scores: dict[str, float] = {}
    for k in ks:
        found = len(wanted.intersection(ranked[:k]))
        scores[f"recall@{k}"] = found / len(wanted)
        scores[f"hit@{k}"] = 1.0 if found else 0.0
    return scores


def aggregate(rows: Sequence[dict[str, float]], ks: Sequence[int]) -> dict[str, Any]:
    """Average per-question scores.

    Args:
        rows: outputs of :func:`score_ranking`.
        ks: the cut-offs they hold.

    Returns:
        ``{"n": len(rows), "recall@k": mean, ..., "hit@k": mean, ...}`` (means 0.0 when
        there are no rows), rounded to 4 places.
    """
    out: dict[str, Any] = {"n": len(rows)}
    for metric in ("recall", "hit"):
        for k in ks:
            key = f"{metric}@{k}"
            out[key] = round(sum(r[key] for r in rows) / len(rows), 4) if rows else 0.0
    return out


@dataclass
class ModeScores:
    """Per-question scores of one ranking mode, with their categories."""

    rows: list[dict[str, float]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    def add(self, category: str, scores: dict[str, float]) -> None:
        """Record one question's scores."""
        self.rows.append(scores)
        self.categories.append(category)

    def overall(self, ks: Sequence[int]) -> dict[str, Any]:
        """Averages over every question."""
        return aggregate(self.rows, ks)

    def by_category(self, ks: Sequence[int]) -> dict[str, dict[str, Any]]:
        """Averages per category, categories sorted."""
        return {
            cat: aggregate(
                [r for r, c in zip(self.rows, self.categories, strict=True) if c == cat], ks
            )
            for cat in sorted(set(self.categories))
        }


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """Median and 95th percentile.

    Args:
        values: e.g. latencies in ms.

    Returns:
        ``{"p50": ..., "p95": ...}`` rounded to 2 places (0.0 for no values).
    """
    if not values:
        return {"p50": 0.0, "p95": 0.0}
    array = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(array, 50)), 2),
        "p95": round(float(np.percentile(array, 95)), 2),
    }
