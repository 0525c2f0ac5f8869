"""ACT-R activation of a memory: A = B + S + P + noise (moltbot plan v4, section 2.7).

- Base level ``B = ln(sum_j age_j^-d)``: how often and how recently it was used
  (ages in seconds, d = 0.5).
- Spreading ``S = sum_j W_j * S_ji``: how strongly the current context points at it;
  ``W_j`` is the attention given to context element j (they sum to W = 1 by default)
  and ``S_ji`` the association of j with the memory (the plan uses the cosine
  similarity between the memory's vector and the context's / identity's vectors).
- Partial matching ``P = mismatch_penalty * sum_k M_k``: M_k in [0, 1] is how badly
  metadata constraint k is missed (P = -1.0 per full mismatch).
- Noise: logistic, scale s = 0.4, drawn from the RNG passed in.

``activation`` returns every part, so retrieval can show why a memory was chosen.
Recency with a 7-day half-life is a separate factor (``recency_factor``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

DECAY = 0.5
NOISE_S = 0.4
MISMATCH_PENALTY = -1.0
RETRIEVAL_THRESHOLD = 0.0
MIN_AGE_S = 1.0
"""Ages below this (an access "now", or clock skew) count as this, so age^-d stays finite."""
EMPTY_HISTORY_BASE_LEVEL = -10.0
"""Base level of a memory with no access times at all: below a single access made
~15 years ago (ln((4.7e8 s)^-0.5) = -10.0). Callers should pass the creation (or event)
time as the first access, so this is only a guard."""
RECENCY_HALF_LIFE_S = 7 * 24 * 3600.0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ActivationParts:
    """The components of one activation, and their sum."""

    base_level: float
    spreading: float
    partial_matching: float
    noise: float
    total: float

    def as_dict(self) -> dict[str, float]:
        """The parts by name (for logs, signals and the TUI)."""
        return asdict(self)


def base_level_activation(
    access_times: Sequence[float] | FloatArray,
    now: float,
    decay: float = DECAY,
    *,
    min_age_s: float = MIN_AGE_S,
    empty_history: float = EMPTY_HISTORY_BASE_LEVEL,
    total_accesses: int | None = None,
    first_access_time: float | None = None,
) -> float:
    """ACT-R base-level learning: ``ln(sum_j max(now - t_j, min_age_s)^-decay)``.

    When the store keeps only the most recent access times, pass the true count and
    the first access time: the older accesses are then added with Petrov's (2006)
    approximation ``(n - k)(t_n^(1-d) - t_k^(1-d)) / ((1 - d)(t_n - t_k))``, where
    t_k is the age of the oldest kept access and t_n the age of the first one.

    Args:
        access_times: access times in seconds (epoch or any common origin).
        now: current time, same origin.
        decay: d, > 0 (< 1 for the approximation).
        min_age_s: floor on ages, > 0.
        empty_history: value returned when there are no access times.
        total_accesses: how many accesses there were in all (>= len(access_times)).
        first_access_time: time of the very first access (needed with total_accesses).

    Returns:
        The base-level activation.

    Raises:
        ValueError: on decay <= 0, min_age_s <= 0, or an inconsistent history summary.
    """
    if decay <= 0.0 or min_age_s <= 0.0:
        raise ValueError("decay and min_age_s must be > 0")
    times = np.asarray(access_times, dtype=np.float64)
    if times.size == 0:
        return empty_history
    ages = np.maximum(now - times, min_age_s)
    strength = float(np.sum(ages**-decay))
    kept = int(times.size)
    if total_accesses is not None and total_accesses > kept:
        if first_access_time is None or decay >= 1.0:
            raise ValueError("the approximation needs first_access_time and decay < 1")
        oldest_kept = float(ages.max())
        lifetime = max(now - first_access_time, oldest_kept)
        missing = total_accesses - kept
        if lifetime > oldest_kept:
            span = lifetime ** (1 - decay) - oldest_kept ** (1 - decay)
            strength += missing * span / ((1 - decay) * (lifetime - oldest_kept))
        else:  # all older accesses at the same age as the oldest kept one
            strength += missing * oldest_kept**-decay
    return math.log(strength)


def equal_source_weights(count: int, total: float = 1.0) -> FloatArray:
    """ACT-R's default attention split: W_j = W / n.

    Args:
        count: number of context elements.
        total: W, the total source activation.

    Returns:
        ``count`` equal weights summing to ``total`` (empty for count 0).
    """
    if count <= 0:
        return np.zeros(0, dtype=np.float64)
    return np.full(count, total / count, dtype=np.float64)


def cosine_associations(memory_vector: npt.ArrayLike, context_vectors: npt.ArrayLike) -> FloatArray:
    """S_ji as cosine similarity of each context vector with the memory's vector.

    Args:
        memory_vector: shape (dim,).
        context_vectors: shape (n, dim).

    Returns:
        n similarities in [-1, 1]; 0 where a vector has zero length.

    Raises:
        ValueError: on mismatched shapes.
    """
    memory = np.asarray(memory_vector, dtype=np.float64).reshape(-1)
    context = np.asarray(context_vectors, dtype=np.float64)
    if context.size == 0:
        return np.zeros(0, dtype=np.float64)
    if context.ndim != 2 or context.shape[1] != memory.shape[0]:
        raise ValueError(f"context vectors {context.shape} do not match memory {memory.shape}")
    norms = np.linalg.norm(context, axis=1) * np.linalg.norm(memory)
    dots = context @ memory
    similarities: FloatArray = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return similarities


def spreading_activation(
    context_weights: Sequence[float] | FloatArray,
    associations: Sequence[float] | FloatArray,
) -> float:
    """S = sum_j W_j * S_ji.

    Args:
        context_weights: W_j, attention on each context element.
        associations: S_ji, association of each context element with the memory.

    Returns:
        The spreading activation (0 for an empty context).

    Raises:
        ValueError: if the two sequences differ in length.
    """
    weights = np.asarray(context_weights, dtype=np.float64)
    strengths = np.asarray(associations, dtype=np.float64)
    if weights.shape != strengths.shape:
        raise ValueError(f"{weights.size} weights for {strengths.size} associations")
    return float(np.dot(weights, strengths))


def partial_matching(
    mismatches: Sequence[float] | FloatArray, mismatch_penalty: float = MISMATCH_PENALTY
) -> float:
    """P = mismatch_penalty * sum_k M_k.

    Args:
        mismatches: M_k in [0, 1], degree to which constraint k is missed.
        mismatch_penalty: P per full mismatch (negative).

    Returns:
        The (non-positive, for a negative penalty) partial-matching term.

    Raises:
        ValueError: if a mismatch degree is outside [0, 1].
    """
    degrees = np.asarray(mismatches, dtype=np.float64)
    if np.any((degrees < 0.0) | (degrees > 1.0)):
        raise ValueError("mismatch degrees must be in [0, 1]")
    return float(mismatch_penalty * degrees.sum())


def logistic_noise(rng: np.random.Generator, s: float = NOISE_S) -> float:
    """One draw of ACT-R's activation noise, logistic(0, s) (variance pi^2 s^2 / 3).

    Args:
        rng: the random source.
        s: scale; 0 gives no noise (and consumes no draw).

    Returns:
        The noise value.

    Raises:
        ValueError: if s is negative.
    """
    if s < 0.0:
        raise ValueError("s must be >= 0")
    if s == 0.0:
        return 0.0
    return float(rng.logistic(0.0, s))


def activation(
    access_times: Sequence[float] | FloatArray,
    now: float,
    *,
    context_weights: Sequence[float] | FloatArray = (),
    associations: Sequence[float] | FloatArray = (),
    mismatches: Sequence[float] | FloatArray = (),
    rng: np.random.Generator | None = None,
    decay: float = DECAY,
    noise_s: float = NOISE_S,
    mismatch_penalty: float = MISMATCH_PENALTY,
    min_age_s: float = MIN_AGE_S,
    empty_history: float = EMPTY_HISTORY_BASE_LEVEL,
) -> ActivationParts:
    """A = B + S + P + noise, with every part kept.

    Args:
        access_times: access times in seconds.
        now: current time in seconds.
        context_weights: W_j (see ``spreading_activation``).
        associations: S_ji.
        mismatches: M_k (see ``partial_matching``).
        rng: noise source; None means no noise (a deterministic score).
        decay: d of the base level.
        noise_s: logistic noise scale.
        mismatch_penalty: P per full mismatch.
        min_age_s: floor on ages.
        empty_history: base level when there is no access time.

    Returns:
        The parts and their total.

    Raises:
        ValueError: as the part functions do.
    """
    base = base_level_activation(
        access_times, now, decay, min_age_s=min_age_s, empty_history=empty_history
    )
    spread = spreading_activation(context_weights, associations)
    partial = partial_matching(mismatches, mismatch_penalty)
    noise = 0.0 if rng is None else logistic_noise(rng, noise_s)
    return ActivationParts(base, spread, partial, noise, base + spread + partial + noise)


def retrieval_probability(
    activation_value: float, threshold: float = RETRIEVAL_THRESHOLD, noise_s: float = NOISE_S
) -> float:
    """ACT-R recall probability ``1 / (1 + exp(-(A - tau) / s))``.

    Args:
        activation_value: A (without noise).
        threshold: tau.
        noise_s: s; 0 gives a step function.

    Returns:
        Probability in [0, 1].
    """
    if noise_s <= 0.0:
        return 1.0 if activation_value >= threshold else 0.0
    z = (activation_value - threshold) / noise_s
    if z < -700.0:  # exp overflow guard
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


def recency_factor(age_s: float, half_life_s: float = RECENCY_HALF_LIFE_S) -> float:
    """Exponential recency, ``0.5 ** (age / half_life)`` (7-day half-life by default).

    Args:
        age_s: seconds since last access; negative ages (clock skew) count as 0.
        half_life_s: age at which the factor is 0.5, > 0.

    Returns:
        A factor in [0, 1] (1 at age 0).

    Raises:
        ValueError: if half_life_s <= 0.
    """
    if half_life_s <= 0.0:
        raise ValueError("half_life_s must be > 0")
    return math.exp(-math.log(2.0) * max(age_s, 0.0) / half_life_s)
