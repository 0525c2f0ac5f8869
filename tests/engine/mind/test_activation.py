"""ACT-R activation parts checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.mind.activation import (
    EMPTY_HISTORY_BASE_LEVEL,
    activation,
    base_level_activation,
    cosine_associations,
    equal_source_weights,
    logistic_noise,
    partial_matching,
    recency_factor,
    retrieval_probability,
    spreading_activation,
)

NOW = 1_800_000_000.0  # seconds since the epoch


def test_base_level_single_and_multiple_accesses() -> None:
    # one access 100 s ago: ln(100^-0.5) = -0.5 ln 100
    assert base_level_activation([NOW - 100], NOW) == pytest.approx(-0.5 * math.log(100))
    # accesses 1 s, 4 s, 9 s ago: ln(1 + 1/2 + 1/3)
    expected = math.log(1 + 0.5 + 1 / 3)
    assert base_level_activation([NOW - 1, NOW - 4, NOW - 9], NOW) == pytest.approx(expected)
    # d = 1: ln(1/10 + 1/20)
    assert base_level_activation([NOW - 10, NOW - 20], NOW, 1.0) == pytest.approx(math.log(0.15))


def test_base_level_rises_with_use_and_falls_with_time() -> None:
    once = base_level_activation([NOW - 3600], NOW)
    twice = base_level_activation([NOW - 3600, NOW - 60], NOW)
    later = base_level_activation([NOW - 3600], NOW + 86_400)
    assert twice > once > later


def test_base_level_guards_zero_future_and_empty_histories() -> None:
    assert base_level_activation([NOW], NOW) == pytest.approx(0.0)  # floored to 1 s
    assert base_level_activation([NOW + 50], NOW) == pytest.approx(0.0)  # clock skew
    assert base_level_activation([NOW - 0.01], NOW, min_age_s=0.25) == pytest.approx(
        -0.5 * math.log(0.25)
    )
    assert base_level_activation([], NOW) == EMPTY_HISTORY_BASE_LEVEL
    assert base_level_activation([], NOW, empty_history=-3.0) == -3.0
    # the empty-history floor sits below a single access ten years ago
    assert base_level_activation([NOW - 10 * 365 * 86_400], NOW) > EMPTY_HISTORY_BASE_LEVEL


def test_petrov_approximation_for_a_truncated_history() -> None:
    times = NOW - np.arange(1, 201) * 600.0  # 200 accesses, every 10 minutes
    exact = base_level_activation(times, NOW)
    approx = base_level_activation(
        times[:20], NOW, total_accesses=200, first_access_time=float(times[-1])
    )
    assert approx == pytest.approx(exact, abs=0.02)
    assert base_level_activation(times[:20], NOW) < exact - 0.3  # truncation alone undercounts
    with pytest.raises(ValueError, match="first_access_time"):
        base_level_activation(times[:20], NOW, total_accesses=200)


def test_spreading_is_the_weighted_sum_of_associations() -> None:
    weights = equal_source_weights(4)
    np.testing.assert_allclose(weights, [0.25] * 4)
    assert spreading_activation(weights, [0.8, 0.4, 0.0, -0.2]) == pytest.approx(0.25)
    assert spreading_activation([0.7, 0.3], [1.0, 0.5]) == pytest.approx(0.85)
    assert spreading_activation([], []) == 0.0
    assert equal_source_weights(0).size == 0
    with pytest.raises(ValueError, match="2 weights for 3"):
        spreading_activation([0.5, 0.5], [1, 2, 3])


def test_cosine_associations() -> None:
    memory = np.array([1.0, 0.0])
    context = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(
        cosine_associations(memory, context), [1.0, 0.0, 1 / math.sqrt(2), 0.0]
    )
    assert cosine_associations(memory, np.zeros((0, 2))).size == 0


def test_partial_matching() -> None:
    assert partial_matching([1.0, 0.5]) == pytest.approx(-1.5)
    assert partial_matching([]) == 0.0
    assert partial_matching([1.0], mismatch_penalty=-2.0) == pytest.approx(-2.0)
    with pytest.raises(ValueError):
        partial_matching([1.5])


def test_noise_is_seeded_logistic_with_scale_s() -> None:
    a = [logistic_noise(np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(11)
    draws = np.array([logistic_noise(rng) for _ in range(20_000)])
    assert draws.mean() == pytest.approx(0.0, abs=0.02)
    assert draws.var() == pytest.approx(math.pi**2 * 0.4**2 / 3, rel=0.05)
    assert logistic_noise(rng, 0.0) == 0.0


def test_activation_returns_every_part_and_their_sum() -> None:
    parts = activation(
        [NOW - 1, NOW - 4, NOW - 9],
        NOW,
        context_weights=[0.5, 0.5],
        associations=[0.6, 0.2],
        mismatches=[0.5],
    )
    base = math.log(1 + 0.5 + 1 / 3)
    assert parts.base_level == pytest.approx(base)
    assert parts.spreading == pytest.approx(0.4)
    assert parts.partial_matching == pytest.approx(-0.5)
    assert parts.noise == 0.0  # no rng: deterministic
    assert parts.total == pytest.approx(base + 0.4 - 0.5)
    assert set(parts.as_dict()) == {"base_level", "spreading", "partial_matching", "noise", "total"}

    noisy = activation([NOW - 1], NOW, rng=np.random.default_rng(5))
    again = activation([NOW - 1], NOW, rng=np.random.default_rng(5))
    assert noisy == again and noisy.noise != 0.0
    assert noisy.total == pytest.approx(noisy.base_level + noisy.noise)


def test_retrieval_probability() -> None:
    assert retrieval_probability(0.0) == pytest.approx(0.5)
    assert retrieval_probability(0.4) == pytest.approx(1 / (1 + math.exp(-1)))
    assert retrieval_probability(-1000.0) == pytest.approx(0.0)
    assert retrieval_probability(0.1, noise_s=0.0) == 1.0
    assert retrieval_probability(-0.1, noise_s=0.0) == 0.0


def test_recency_has_a_seven_day_half_life() -> None:
    week = 7 * 86_400
    assert recency_factor(0) == 1.0
    assert recency_factor(week) == pytest.approx(0.5)
    assert recency_factor(2 * week) == pytest.approx(0.25)
    assert recency_factor(-100) == 1.0
    assert recency_factor(3600, half_life_s=3600) == pytest.approx(0.5)
    # the plan's SQL form: EXP(-0.693 * age / 604800)
    assert recency_factor(123_456) == pytest.approx(math.exp(-0.693 * 123_456 / 604_800), rel=1e-3)
    with pytest.raises(ValueError):
        recency_factor(1, half_life_s=0)
