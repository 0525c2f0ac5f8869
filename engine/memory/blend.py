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
from dataclasses import dataclass

import numpy as np

from engine.memory.explain import Explanation
from engine.memory.records import Memory
from engine.mind.activation import activation, recency_factor
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


def score_memory(
    policy: Policy,
    e: Explanation,
    memory: Memory,
    similarity: float | None,
    focus: float,
    rerank: float | None,
    inputs: BlendInputs,
    rng: np.random.Generator | None,
) -> None:
    """Score one candidate, filling its explanation (``e.final`` is the score).

    Args:
        policy: blend weights, activation and weight settings.
        e: the candidate's explanation, with its RRF and BM25 parts already set.
        memory: the stored memory.
        similarity: cosine similarity of the query and the memory (None: no vector).
        focus: similarity of the attention focus and the memory (ACT-R spreading).
        rerank: the cross-encoder score, if any.
        inputs: what the whole candidate set contributes (see :class:`BlendInputs`).
        rng: activation-noise source (None: no noise).
    """
    p = policy
    w = p.retrieval.blend
    accesses = [memory.time.timestamp(), *memory.access_timestamps]
    parts = activation(
        accesses,
        inputs.now_s,
        context_weights=[p.activation.spreading_weight],
        associations=[focus],
        rng=rng,
        decay=p.activation.decay_d,
        noise_s=p.activation.noise_s,
        min_age_s=p.activation.min_age_seconds,
        empty_history=p.activation.empty_history_floor,
    )
    weight = StochasticWeight(memory.alpha, memory.beta, immutable=memory.immutable)
    e.activation = {k: round(v, 4) for k, v in parts.as_dict().items()}
    e.weight_mean, e.weight_variance = round(weight.center, 4), round(weight.variance, 5)
    e.weight_contested = weight.is_contested(p.weights.contested_min)
    half_life_s = p.retrieval.recency_half_life_days * 86400
    e.recency = round(recency_factor(inputs.now_s - max(accesses), half_life_s), 4)
    if e.ann_similarity is None and similarity is not None:
        e.ann_similarity = round(similarity, 4)
    if rerank is not None:
        e.rerank = round(rerank, 4)
    raw_bot = memory.author_is_bot and memory.kind in RAW_MESSAGE_KINDS
    e.source_factor = p.retrieval.bot_message_weight if raw_bot else 1.0
    rrf_w, dense_w, bm25_w = inputs.weights
    bm25 = (e.bm25_score or 0.0) / inputs.max_bm25 if inputs.max_bm25 > 0 else 0.0
    score = (
        rrf_w * (e.rrf / inputs.max_rrf)
        + dense_w * max(0.0, similarity or 0.0)
        + bm25_w * bm25
        + (w.rerank * rerank if rerank is not None else 0.0)
        + w.activation * sigmoid(parts.total - p.activation.retrieval_threshold)
        + w.weight * weight.center
        + w.recency * e.recency
    )
    e.final = round(score * e.source_factor, 6)
