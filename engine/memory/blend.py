"""The blend that turns one candidate's signals into its score.

``final = source_factor x (relevance + priors)``, every signal in [0, 1]:

- relevance: normalized RRF (rank agreement of the keyword and vector lists), the
  cosine similarity of query and memory, BM25 over the best BM25 among the candidates,
  and the cross-encoder score when there is one (else its weight is shared by the
  other three). Similarity and BM25 are score-aware: RRF alone treats a near-exact 3rd
  hit and a barely-related 3rd hit alike.
- priors from the memory's history: squashed ACT-R activation ``sigmoid(A - tau)``,
  the Beta depth weight's mean, and recency.

The weights are ``retrieval.blend`` in the policy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.memory.explain import Explanation
from engine.memory.scoring_rows import ScoringRows
from engine.mind.activation import logistic_noise, partial_matching, recency_factor
from engine.mind.weights import StochasticWeight
from engine.policy import Policy
from engine.policy.memory import BlendWeights

RAW_MESSAGE_KINDS = frozenset({"message", "discord_message"})
"""Kinds whose bot-authored memories are scaled by ``retrieval.bot_message_weight``."""


def sigmoid(x: float) -> float:
    """The logistic function, clamped so it never overflows."""
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


@dataclass(frozen=True)
class BlendInputs:
    """What scoring one candidate needs from the whole candidate set."""

    weights: tuple[float, float, float]
    """The rrf, dense and bm25 weights (see :func:`relevance_weights`)."""
    max_rrf: float
    """The RRF score of a memory ranked first in both lists."""
    max_bm25: float
    """The best BM25 score among the candidates (0: no keyword match)."""
    now_s: float
    """The time of the search, epoch seconds."""


def relevance_weights(w: BlendWeights, reranked: bool) -> tuple[float, float, float]:
    """The rrf, dense and bm25 weights of one search.

    Args:
        w: the policy's blend weights.
        reranked: whether cross-encoder scores exist for this search.

    Returns:
        ``(rrf, dense, bm25)``; without rerank scores the rerank weight is shared by
        them in proportion to their weights (all of it to rrf when they are all 0).
    """
    if reranked:
        return w.rrf, w.dense, w.bm25
    total = w.rrf + w.dense + w.bm25
    if total <= 0:
        return w.rrf + w.rerank, w.dense, w.bm25
    scale = 1.0 + w.rerank / total
    return w.rrf * scale, w.dense * scale, w.bm25 * scale


def score_candidates(
    policy: Policy,
    rows: ScoringRows,
    explanations: Sequence[Explanation],
    relevance: tuple[dict[int, float], dict[int, float], dict[int, float]],
    inputs: BlendInputs,
    rng: np.random.Generator | None,
) -> None:
    """Score candidates, filling their explanations (``e.final`` is the score).

    The activation is :func:`engine.mind.activation.activation` with one context
    element (the attention focus, weight ``activation.spreading_weight``) and the
    memory's time plus access times as its history; the ``age^-d`` terms of all
    candidates are computed in one numpy call, the rest per candidate.

    Args:
        policy: blend weights, activation and weight settings.
        rows: the candidates' stored inputs (live ones, ascending id).
        explanations: one per row, with the RRF and BM25 parts already set.
        relevance: memory id -> cosine similarity of the query (absent: no vector),
            of the attention focus (absent: 0), and the cross-encoder score (absent:
            none).
        inputs: what the whole candidate set contributes (see :class:`BlendInputs`).
        rng: activation-noise source (None: no noise); drawn once per row, in order.

    Raises:
        ValueError: a non-positive ``activation.decay_d`` or ``min_age_seconds``.
    """
    p, a = policy, policy.activation
    w = p.retrieval.blend
    if a.decay_d <= 0.0 or a.min_age_seconds <= 0.0:
        raise ValueError("decay and min_age_s must be > 0")
    similarities, focus, rerank_scores = relevance
    terms = np.maximum(inputs.now_s - np.asarray(rows.history), a.min_age_seconds) ** -a.decay_d
    partial = partial_matching(())
    half_life_s = p.retrieval.recency_half_life_days * 86400
    rrf_w, dense_w, bm25_w = inputs.weights
    for i, memory_id in enumerate(rows.ids):
        e = explanations[i]
        start, stop = rows.bounds[i], rows.bounds[i + 1]
        base = math.log(float(np.sum(terms[start:stop])))
        spread = a.spreading_weight * focus.get(memory_id, 0.0)
        noise = 0.0 if rng is None else logistic_noise(rng, a.noise_s)
        total = base + spread + partial + noise
        e.activation = {
            "base_level": round(base, 4),
            "spreading": round(spread, 4),
            "partial_matching": round(partial, 4),
            "noise": round(noise, 4),
            "total": round(total, 4),
        }
        weight = StochasticWeight(rows.alpha[i], rows.beta[i], immutable=rows.immutable[i])
        e.weight_mean, e.weight_variance = round(weight.center, 4), round(weight.variance, 5)
        e.weight_contested = weight.is_contested(p.weights.contested_min)
        e.recency = round(
            recency_factor(inputs.now_s - max(rows.history[start:stop]), half_life_s), 4
        )
        similarity = similarities.get(memory_id)
        if e.ann_similarity is None and similarity is not None:
            e.ann_similarity = round(similarity, 4)
        rerank = rerank_scores.get(memory_id)
        if rerank is not None:
            e.rerank = round(rerank, 4)
        raw_bot = rows.author_is_bot[i] and rows.kinds[i] in RAW_MESSAGE_KINDS
        e.source_factor = p.retrieval.bot_message_weight if raw_bot else 1.0
        bm25 = (e.bm25_score or 0.0) / inputs.max_bm25 if inputs.max_bm25 > 0 else 0.0
        score = (
            rrf_w * (e.rrf / inputs.max_rrf)
            + dense_w * max(0.0, similarity or 0.0)
            + bm25_w * bm25
            + (w.rerank * rerank if rerank is not None else 0.0)
            + w.activation * sigmoid(total - a.retrieval_threshold)
            + w.weight * weight.center
            + w.recency * e.recency
        )
        e.final = round(score * e.source_factor, 6)
