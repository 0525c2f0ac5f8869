"""Depth weights as Beta distributions (moltbot plan v4, section 2.3).

A weight is Beta(alpha, beta): alpha counts evidence FOR a memory/belief, beta
evidence AGAINST. Its shape says how good the evidence is:

- Beta(1, 4): a new memory, center 0.2, wide (the default);
- Beta(10, 2): well reinforced, center ~0.83, tight;
- Beta(30, 25): contested, center ~0.55: much evidence on both sides;
- Beta(1, 1): uniform, no information (a deliberate reset).

``observe`` draws a sample, so each use of a weight is a fresh roll; the
deterministic ``center`` is for sorting and display. Immutable weights (safety
boundaries, which start at Beta(50, 1)) never change and always observe as 1.0:
the plan injects immutable memories on every cycle, so their roll must always pass.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_ALPHA = 1.0
DEFAULT_BETA = 4.0
CONTESTED_MIN_EACH = 5.0
"""is_contested: alpha > this AND beta > this (plan 2.3)."""
UNINFORMED_MAX_EACH = 2.0
"""is_uninformed: alpha < this AND beta < this (plan 2.3)."""
REINFORCE_AMOUNT = 1.0
CONTRADICT_AMOUNT = 0.5
IMMUTABLE_SAFETY_ALPHA = 50.0
IMMUTABLE_SAFETY_BETA = 1.0


def _check_shape(value: float, name: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def _check_amount(amount: float) -> float:
    number = float(amount)
    if not math.isfinite(number) or number < 0.0:
        raise ValueError(f"evidence amount must be finite and >= 0, got {amount!r}")
    return number


class StochasticWeight:
    """A Beta(alpha, beta) depth weight.

    Args:
        alpha: evidence for (> 0).
        beta: evidence against (> 0).
        immutable: if True, the weight never changes and observes as 1.0.

    Raises:
        ValueError: if alpha or beta is not a finite positive number.
    """

    __slots__ = ("_alpha", "_beta", "_immutable")

    def __init__(
        self, alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA, *, immutable: bool = False
    ) -> None:
        self._alpha = _check_shape(alpha, "alpha")
        self._beta = _check_shape(beta, "beta")
        self._immutable = immutable

    @classmethod
    def immutable_safety(
        cls, alpha: float = IMMUTABLE_SAFETY_ALPHA, beta: float = IMMUTABLE_SAFETY_BETA
    ) -> StochasticWeight:
        """The weight of a bootstrap safety boundary: Beta(50, 1), immutable.

        Args:
            alpha: evidence for.
            beta: evidence against.

        Returns:
            An immutable weight.
        """
        return cls(alpha, beta, immutable=True)

    @classmethod
    def from_tuple(cls, shape: tuple[float, float], *, immutable: bool = False) -> StochasticWeight:
        """Rebuild a weight from its stored (alpha, beta).

        Args:
            shape: (alpha, beta) as stored.
            immutable: the stored immutable flag.

        Returns:
            The weight.

        Raises:
            ValueError: if a value is not a finite positive number.
        """
        alpha, beta = shape
        return cls(alpha, beta, immutable=immutable)

    def to_tuple(self) -> tuple[float, float]:
        """(alpha, beta) for storage (the immutable flag is stored separately)."""
        return (self._alpha, self._beta)

    @property
    def alpha(self) -> float:
        """Evidence for."""
        return self._alpha

    @property
    def beta(self) -> float:
        """Evidence against."""
        return self._beta

    @property
    def immutable(self) -> bool:
        """Whether the weight is frozen."""
        return self._immutable

    @property
    def center(self) -> float:
        """Mean alpha / (alpha + beta): the deterministic weight for sorting and display."""
        return self._alpha / (self._alpha + self._beta)

    @property
    def variance(self) -> float:
        """alpha * beta / ((alpha + beta)^2 * (alpha + beta + 1))."""
        total = self._alpha + self._beta
        return (self._alpha * self._beta) / (total * total * (total + 1.0))

    @property
    def total_evidence(self) -> float:
        """alpha + beta."""
        return self._alpha + self._beta

    def is_contested(self, min_each: float = CONTESTED_MIN_EACH) -> bool:
        """High evidence on both sides (productive tension), e.g. Beta(30, 25).

        Args:
            min_each: both alpha and beta must exceed this.

        Returns:
            alpha > min_each and beta > min_each.
        """
        return self._alpha > min_each and self._beta > min_each

    def is_uninformed(self, max_each: float = UNINFORMED_MAX_EACH) -> bool:
        """Little evidence either way, e.g. Beta(1, 1).

        Args:
            max_each: both alpha and beta must be below this.

        Returns:
            alpha < max_each and beta < max_each.
        """
        return self._alpha < max_each and self._beta < max_each

    def observe(self, rng: np.random.Generator) -> float:
        """Draw one sample: each use of the weight is a fresh roll.

        Args:
            rng: the random source (seeded in tests and replays).

        Returns:
            A sample in [0, 1]; 1.0 for an immutable weight (no draw is consumed).
        """
        if self._immutable:
            return 1.0
        return float(rng.beta(self._alpha, self._beta))

    def reinforce(self, amount: float = REINFORCE_AMOUNT) -> bool:
        """Add evidence FOR (alpha += amount).

        Args:
            amount: evidence, >= 0.

        Returns:
            True if the weight changed (False when immutable or amount is 0).

        Raises:
            ValueError: if amount is negative or not finite.
        """
        amount = _check_amount(amount)
        if self._immutable or amount == 0.0:
            return False
        self._alpha += amount
        return True

    def contradict(self, amount: float = CONTRADICT_AMOUNT) -> bool:
        """Add evidence AGAINST (beta += amount).

        Args:
            amount: evidence, >= 0.

        Returns:
            True if the weight changed (False when immutable or amount is 0).

        Raises:
            ValueError: if amount is negative or not finite.
        """
        amount = _check_amount(amount)
        if self._immutable or amount == 0.0:
            return False
        self._beta += amount
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StochasticWeight):
            return NotImplemented
        return self.to_tuple() == other.to_tuple() and self._immutable == other._immutable

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        frozen = ", immutable" if self._immutable else ""
        return f"StochasticWeight(alpha={self._alpha:g}, beta={self._beta:g}{frozen})"
