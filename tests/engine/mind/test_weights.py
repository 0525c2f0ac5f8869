"""Beta depth weights: moments, flags, evidence updates, immutability, sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.mind.weights import StochasticWeight


def test_default_is_beta_1_4_with_hand_computed_moments() -> None:
    weight = StochasticWeight()
    assert weight.to_tuple() == (1.0, 4.0)
    assert weight.center == pytest.approx(0.2)
    assert weight.variance == pytest.approx(4 / (25 * 6))  # ab / ((a+b)^2 (a+b+1))
    assert weight.total_evidence == 5.0


@pytest.mark.parametrize(
    ("alpha", "beta", "center", "variance"),
    [(10, 2, 10 / 12, 20 / (144 * 13)), (30, 25, 30 / 55, 750 / (3025 * 56)), (1, 1, 0.5, 1 / 12)],
)
def test_moments(alpha: float, beta: float, center: float, variance: float) -> None:
    weight = StochasticWeight(alpha, beta)
    assert weight.center == pytest.approx(center)
    assert weight.variance == pytest.approx(variance)


def test_contested_and_uninformed_follow_the_plan() -> None:
    assert StochasticWeight(30, 25).is_contested()  # plan 2.3: alpha > 5 and beta > 5
    assert not StochasticWeight(50, 2).is_contested()
    assert not StochasticWeight(5, 5).is_contested()
    assert StochasticWeight(5, 5).is_contested(min_each=4.0)
    assert StochasticWeight(1, 1).is_uninformed()  # alpha < 2 and beta < 2
    assert not StochasticWeight(1, 4).is_uninformed()
    assert not StochasticWeight(30, 25).is_uninformed()


def test_reinforce_and_contradict_add_evidence() -> None:
    weight = StochasticWeight()
    assert weight.reinforce() is True
    assert weight.contradict() is True
    assert weight.to_tuple() == (2.0, 4.5)  # defaults: +1.0 for, +0.5 against
    weight.reinforce(2.5)
    assert weight.alpha == 4.5
    assert weight.reinforce(0.0) is False
    with pytest.raises(ValueError, match=">= 0"):
        weight.contradict(-1.0)
    with pytest.raises(ValueError, match="finite"):
        weight.reinforce(math.inf)


def test_immutable_weight_never_changes_and_always_observes_one() -> None:
    safety = StochasticWeight.immutable_safety()
    assert safety.to_tuple() == (50.0, 1.0) and safety.immutable
    assert safety.reinforce(10) is False and safety.contradict(10) is False
    assert safety.to_tuple() == (50.0, 1.0)
    rng = np.random.default_rng(0)
    assert [safety.observe(rng) for _ in range(5)] == [1.0] * 5
    untouched = np.random.default_rng(0)
    assert rng.random() == untouched.random()  # no draw consumed


def test_observe_is_seeded_and_matches_the_distribution() -> None:
    weight = StochasticWeight()
    first = [weight.observe(np.random.default_rng(7)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng = np.random.default_rng(42)
    samples = np.array([weight.observe(rng) for _ in range(4000)])
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    assert samples.mean() == pytest.approx(0.2, abs=0.01)
    assert samples.var() == pytest.approx(weight.variance, rel=0.1)


def test_plan_ranges_for_strong_and_contested_weights() -> None:
    rng = np.random.default_rng(1)
    strong = np.array([StochasticWeight(50, 2).observe(rng) for _ in range(500)])
    contested = np.array([StochasticWeight(30, 25).observe(rng) for _ in range(500)])
    assert strong.min() > 0.8 and strong.mean() == pytest.approx(50 / 52, abs=0.01)
    assert contested.mean() == pytest.approx(0.545, abs=0.02)
    assert contested.std() == pytest.approx(math.sqrt(StochasticWeight(30, 25).variance), rel=0.1)
    assert contested.std() > 2 * strong.std()  # wider: 0.067 vs 0.026


def test_storage_roundtrip_and_validation() -> None:
    weight = StochasticWeight(3.5, 2.25)
    restored = StochasticWeight.from_tuple(weight.to_tuple())
    assert restored == weight and restored is not weight
    safety = StochasticWeight.immutable_safety()
    assert StochasticWeight.from_tuple((50, 1), immutable=True) == safety
    assert StochasticWeight(1, 4) != StochasticWeight(1, 4, immutable=True)
    for bad in [(0, 1), (1, -2), (math.nan, 1)]:
        with pytest.raises(ValueError):
            StochasticWeight(*bad)
    assert repr(StochasticWeight.immutable_safety()) == (
        "StochasticWeight(alpha=50, beta=1, immutable)"
    )
