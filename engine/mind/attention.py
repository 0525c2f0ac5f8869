"""Attention: every pending input competes for the turn (moltbot plan v4, section 3.10).

Each candidate (an operator or channel message, an idle DMN thought, a job tick, a
gut signal) gets a salience, the weighted sum of four parts in [0, 1]::

    salience = w_n * novelty + w_r * relevance + w_c * charge + w_u * urgency

(weights: ``attention.salience``). Novelty, relevance and charge come from callables
(:func:`engine.mind.salience.make_salience_inputs` builds them from memory and the
gut); urgency is the candidate's own, set by its source (``attention.urgency``) and
multiplied by ``attention.loser_urgency_decay`` each turn it loses.

The highest salience wins (ties: higher urgency, then older, then lower id). Losers
stay queued; one whose salience (with its decayed urgency) falls below
``attention.drop_below`` leaves the queue, and past ``attention.max_queue`` the least
salient leave first. The operator's own messages are never dropped: the operator
always gets a turn. The decision comes with a cognitive state report, the text the
model sees, so it can reason about its own attention.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.policy import Policy
from engine.signals import AttentionCandidates, CandidateView, SalienceParts

NEVER_DROPPED = frozenset({"operator"})
"""Sources whose candidates stay queued until they win (the operator always gets a turn)."""

_LABELS = {
    "operator": "operator message",
    "channel": "channel message",
    "gut": "gut signal",
    "job": "job tick",
    "dmn": "idle thought",
}


@dataclass(frozen=True)
class Candidate:
    """A pending input, as queued in ``candidates``."""

    id: int
    source: str
    """``operator``, ``channel``, ``gut``, ``job`` or ``dmn``."""
    text: str
    created_at: datetime
    urgency: float
    waited: int = 0
    """Turns it has lost so far."""
    channel_id: str | None = None
    event_id: int | None = None
    source_tag: str = "operator"


@dataclass(frozen=True)
class Scored:
    """A candidate with its salience parts (as weighed this turn) and their weighted sum."""

    candidate: Candidate
    parts: SalienceParts
    salience: float


@dataclass(frozen=True)
class AttentionDecision:
    """What attention decided this turn."""

    winner: Scored | None
    ranked: list[Scored]
    """Every candidate weighed, most salient first (the winner first)."""
    dropped: list[Scored]
    """Losers that leave the queue (too weak, or the queue is full)."""
    reason: str
    """Why the winner won, in words."""
    report: str
    """The cognitive state report injected into the model's context."""
    queued: list[Candidate] = dataclasses.field(default_factory=list)
    """Losers that stay queued, with their urgency decayed and ``waited`` + 1."""
    rescored: dict[int, float] = dataclasses.field(default_factory=dict)
    """Candidate id -> salience with the decayed urgency (what the drop rule used)."""


def _snippet(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Attention:
    """Scores candidates and picks the one that takes the turn."""

    def __init__(
        self,
        policy: Policy,
        novelty: Callable[[str], float],
        relevance: Callable[[str], float],
        charge: Callable[[], float],
    ) -> None:
        """Create the scorer.

        Args:
            policy: ``attention`` (weights, urgency, decay, drop rule, queue size).
            novelty: text -> novelty in [0, 1] (1 - similarity to what memory holds).
            relevance: text -> relevance to the active goals in [0, 1].
            charge: the gut's current emotional charge in [0, 1].
        """
        self.policy = policy.attention
        self.novelty = novelty
        self.relevance = relevance
        self.charge = charge

    def urgency_for(self, source: str) -> float:
        """The starting urgency of a source (``attention.urgency``; unknown sources 0).

        Args:
            source: ``operator``, ``channel``, ``gut``, ``job`` or ``dmn``.

        Returns:
            The urgency in [0, 1].
        """
        return float(getattr(self.policy.urgency, source, 0.0))

    def salience(self, parts: SalienceParts) -> float:
        """The weighted sum of the parts with the policy's weights."""
        w = self.policy.salience
        return (
            w.novelty * parts.novelty
            + w.relevance * parts.relevance
            + w.charge * parts.charge
            + w.urgency * parts.urgency
        )

    def score(self, candidate: Candidate, charge: float) -> Scored:
        """Weigh one candidate.

        Args:
            candidate: the input.
            charge: the gut's charge this turn (the same for every candidate).

        Returns:
            Its parts (each clipped to [0, 1]) and salience.
        """
        parts = SalienceParts(
            novelty=_unit(self.novelty(candidate.text)),
            relevance=_unit(self.relevance(candidate.text)),
            charge=_unit(charge),
            urgency=_unit(candidate.urgency),
        )
        return Scored(candidate, parts, self.salience(parts))

    def decide(self, pending: list[Candidate]) -> AttentionDecision:
        """Score every pending candidate and pick the winner.

        Args:
            pending: the queued candidates.

        Returns:
            The winner (None when nothing is pending), everyone ranked, the losers
            that are dropped, the losers that stay queued (urgency decayed, waited + 1),
            the reason and the state report.
        """
        charge = _unit(self.charge()) if pending else 0.0
        ranked = sorted(
            (self.score(c, charge) for c in pending),
            key=lambda s: (
                -s.salience,
                -s.candidate.urgency,
                s.candidate.created_at,
                s.candidate.id,
            ),
        )
        if not ranked:
            return AttentionDecision(None, [], [], "nothing pending", self._report([], None, ""))
        winner, losers = ranked[0], ranked[1:]
        decay = self.policy.loser_urgency_decay
        kept: list[tuple[Scored, Candidate, float]] = []
        dropped: list[Scored] = []
        rescored: dict[int, float] = {}
        for loser in losers:
            c = loser.candidate
            aged = dataclasses.replace(c, urgency=c.urgency * decay, waited=c.waited + 1)
            again = self.salience(loser.parts.model_copy(update={"urgency": aged.urgency}))
            rescored[c.id] = again
            if again < self.policy.drop_below and c.source not in NEVER_DROPPED:
                dropped.append(loser)
            else:
                kept.append((loser, aged, again))
        excess = len(kept) - self.policy.max_queue
        if excess > 0:  # the weakest droppable losers leave first
            order = sorted(
                (k for k in kept if k[1].source not in NEVER_DROPPED), key=lambda k: k[2]
            )
            leaving = {k[1].id for k in order[:excess]}
            dropped.extend(k[0] for k in kept if k[1].id in leaving)
            kept = [k for k in kept if k[1].id not in leaving]
        reason = self._reason(winner, losers)
        report = self._report(ranked, winner, reason, {d.candidate.id for d in dropped})
        return AttentionDecision(
            winner, ranked, dropped, reason, report, [k[1] for k in kept], rescored
        )

    def _reason(self, winner: Scored, losers: list[Scored]) -> str:
        w = self.policy.salience
        label = _LABELS.get(winner.candidate.source, winner.candidate.source)
        if not losers:
            return f"{label} was the only candidate (salience {winner.salience:.2f})"
        runner = losers[0]
        weights = {
            "novelty": w.novelty,
            "relevance": w.relevance,
            "charge": w.charge,
            "urgency": w.urgency,
        }
        edge = {
            name: weight * (getattr(winner.parts, name) - getattr(runner.parts, name))
            for name, weight in weights.items()
        }
        lead = max(edge, key=lambda name: edge[name])
        other = _LABELS.get(runner.candidate.source, runner.candidate.source)
        if winner.salience == runner.salience:
            return (
                f"{label} tied with {other} at {winner.salience:.2f}; "
                "the more urgent (then the older) goes first"
            )
        return (
            f"{label} won with salience {winner.salience:.2f} over {other} "
            f"({runner.salience:.2f}); biggest edge: {lead} (+{edge[lead]:.2f})"
        )

    def _report(
        self,
        ranked: list[Scored],
        winner: Scored | None,
        reason: str,
        dropped: set[int] | None = None,
    ) -> str:
        lines = ["[COGNITIVE STATE]", "Attention candidates this cycle:"]
        if not ranked:
            lines.append("  (none)")
        for s in ranked:
            p = s.parts
            label = _LABELS.get(s.candidate.source, s.candidate.source)
            extra = f", waited {s.candidate.waited} turns" if s.candidate.waited else ""
            if dropped and s.candidate.id in dropped:
                extra += ", dropped"
            lines.append(
                f'  - {label}: "{_snippet(s.candidate.text)}" (salience {s.salience:.2f}: '
                f"novelty {p.novelty:.2f}, relevance {p.relevance:.2f}, charge {p.charge:.2f}, "
                f"urgency {p.urgency:.2f}{extra})"
            )
        if winner is not None:
            lines.append(f"Winner: {reason}")
        return "\n".join(lines)

    def signal(
        self, decision: AttentionDecision, ts: datetime, turn_id: int | None
    ) -> AttentionCandidates:
        """The ``attention.candidates`` signal of a decision.

        Args:
            decision: what :meth:`decide` returned.
            ts: the signal time.
            turn_id: the turn the winner takes (None before it is opened).

        Returns:
            The signal (every ranked candidate, the winner flagged).
        """
        winner_id = decision.winner.candidate.id if decision.winner else None
        return AttentionCandidates(
            ts=ts,
            turn_id=turn_id,
            candidates=[
                CandidateView(
                    id=s.candidate.id,
                    source=s.candidate.source,
                    text=s.candidate.text,
                    salience=s.salience,
                    parts=s.parts,
                    waited_turns=s.candidate.waited,
                    winner=s.candidate.id == winner_id,
                )
                for s in decision.ranked
            ],
            winner_id=winner_id,
            reason=decision.reason,
        )


def _unit(value: float) -> float:
    return min(1.0, max(0.0, float(value)))
