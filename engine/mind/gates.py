"""Memory gates: what is worth remembering (moltbot plan v4, sections 2.8 and 2.9).

- The **entry gate** is a fast, stochastic filter on incoming text: very short
  content is mostly skipped, mechanical output (log lines, stack traces, bot
  boilerplate) mostly skipped, everything else buffered in the scratch buffer
  (:mod:`engine.mind.scratch`) until the exit gate judges it. Text the engine wrote
  itself (``gates.entry.internal_sources``) passes untouched. The operator's
  messages always get a turn whatever the gate says: it only decides memory.
- The **exit gate** judges what a turn produced (and each flushed scratch item) on
  two axes, relevance (core / peripheral / irrelevant) and novelty against the
  nearest memory (confirming / novel / contradicting), and maps the cell to an
  action. It starts permissive (over-persisting is recoverable, dropping is not):
  a similarity between ``novel_sim`` and ``confirming_sim`` counts as novel, and a
  seeded noise floor upgrades any drop or buffer to persist now and then.

  ============  ==========  ========  =============
  relevance     confirming  novel     contradicting
  ============  ==========  ========  =============
  core          reinforce   persist   persist_flag
  peripheral    drop        buffer    persist
  irrelevant    drop        drop      drop
  ============  ==========  ========  =============

  ("peripheral x confirming" drops: the confirmed memory already holds it.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.mind.negation import negation_flip
from engine.policy.mind import EntryGateSection, ExitGateSection

__all__ = ["EntryGate", "ExitDecision", "ExitGate", "classify", "is_mechanical", "negation_flip"]

EntryAction = Literal["skip", "buffer", "pass"]
ExitAction = Literal["reinforce", "persist", "persist_flag", "buffer", "drop"]
RelevanceClass = Literal["core", "peripheral", "irrelevant"]
NoveltyClass = Literal["confirming", "novel", "contradicting"]
ContentClass = Literal["short", "mechanical", "content"]

_LOG_LINE = re.compile(
    r"^\s*(\[?\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}"  # 2026-01-01 12:00 / [2026-01-01T12:00
    r"|\[?\d{2}:\d{2}:\d{2}[.,\]]"  # 12:00:01.123 / [12:00:01]
    r"|\[?(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL)\b[\]:]?"  # INFO: ...
    r"|\w+(\.\w+)*:\s*(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL)\b)"  # app.db: ERROR
)
_TRACE_LINE = re.compile(
    r"^\s*(Traceback \(most recent call last\)"
    r'|File "[^"]+", line \d+'
    r"|at [\w.$<>]+\(.*\)$"  # Java / JS frames
    r"|\w+(\.\w+)*(Error|Exception)(: .*)?$"  # ValueError: boom
    r"|\^+\s*$)"  # caret markers
)
_BOILERPLATE = re.compile(
    r"(i am a bot|i'm a bot|beep boop|this (action|message) was (performed|sent) automatically"
    r"|powered by \w+|type [!/]\w+ for help|use [!/]help|react with .{1,4} to"
    r"|has (joined|left) the (server|channel|chat)|(leveled|levelled) up|reached level \d+"
    r"|now playing:|added to (the )?queue|do not reply to this)",
    re.IGNORECASE,
)


def classify(text: str, author_is_bot: bool, policy: EntryGateSection) -> ContentClass:
    """Which entry rule applies to a text.

    Args:
        text: the input.
        author_is_bot: written by a bot (boilerplate then needs fewer cues).
        policy: ``gates.entry``.

    Returns:
        ``short`` (under ``short_chars``), ``mechanical`` or ``content``.
    """
    stripped = text.strip()
    if len(stripped) < policy.short_chars:
        return "short"
    return "mechanical" if is_mechanical(stripped, author_is_bot, policy) else "content"


def is_mechanical(text: str, author_is_bot: bool, policy: EntryGateSection) -> bool:
    """Log lines, stack traces, a bot's boilerplate, or hardly any words (letters in
    tokens without digits: hex dumps, ids and numbers count as no words).

    Args:
        text: the input.
        author_is_bot: a bot wrote it.
        policy: ``gates.entry`` (line share and letter share thresholds).

    Returns:
        True for mechanical output.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    if any(line.lstrip().startswith("Traceback (most recent call last)") for line in lines):
        return True
    machine = sum(1 for line in lines if _LOG_LINE.match(line) or _TRACE_LINE.match(line))
    if machine / len(lines) >= policy.mechanical_line_share:
        return True
    if author_is_bot and _BOILERPLATE.search(text):
        return True
    tokens = text.split()
    size = sum(len(t) for t in tokens)
    wordy = sum(sum(ch.isalpha() for ch in t) for t in tokens if not any(c.isdigit() for c in t))
    return size >= 20 and wordy / size < policy.min_letter_share


class EntryGate:
    """The stochastic filter on incoming text."""

    def __init__(self, policy: EntryGateSection, rng: np.random.Generator) -> None:
        """Create the gate.

        Args:
            policy: ``gates.entry``.
            rng: seeded generator (one draw per gated decision).
        """
        self.policy = policy
        self.rng = rng

    def decide(self, text: str, source: str, author_is_bot: bool = False) -> EntryAction:
        """Skip, buffer (into scratch) or pass (engine-made text, not gated).

        Args:
            text: the input text.
            source: ``operator``, ``channel``, ``gut``, ``job`` or ``dmn``.
            author_is_bot: a bot wrote it.

        Returns:
            ``skip`` (forget it), ``buffer`` (hold it for the exit gate) or ``pass``.
        """
        if source in self.policy.internal_sources:
            return "pass"
        kind = classify(text, author_is_bot, self.policy)
        draw = float(self.rng.random())
        if kind == "short":
            return "skip" if draw < self.policy.short_skip_p else "buffer"
        if kind == "mechanical":
            return "skip" if draw < self.policy.mechanical_skip_p else "buffer"
        return "buffer"


@dataclass(frozen=True)
class ExitDecision:
    """What the exit gate decided, and why."""

    action: ExitAction
    relevance_class: RelevanceClass
    novelty_class: NoveltyClass
    noise_applied: bool = False
    """The noise floor upgraded a drop or buffer to persist."""
    target_id: int | None = None
    """The nearest existing memory (what ``reinforce`` strengthens), when known."""
    relevance: float = 0.0
    max_similarity: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """For logs, turn records and ``scratch_items.decision``."""
        return {
            "action": self.action,
            "relevance_class": self.relevance_class,
            "novelty_class": self.novelty_class,
            "noise_applied": self.noise_applied,
            "target_id": self.target_id,
            "relevance": round(self.relevance, 4),
            "max_similarity": round(self.max_similarity, 4),
        }


_MATRIX: dict[tuple[RelevanceClass, NoveltyClass], ExitAction] = {
    ("core", "confirming"): "reinforce",
    ("core", "novel"): "persist",
    ("core", "contradicting"): "persist_flag",
    ("peripheral", "confirming"): "drop",
    ("peripheral", "novel"): "buffer",
    ("peripheral", "contradicting"): "persist",
    ("irrelevant", "confirming"): "drop",
    ("irrelevant", "novel"): "drop",
    ("irrelevant", "contradicting"): "drop",
}


class ExitGate:
    """The relevance x novelty matrix with a noise floor."""

    def __init__(self, policy: ExitGateSection, rng: np.random.Generator) -> None:
        """Create the gate.

        Args:
            policy: ``gates.exit``.
            rng: seeded generator (one draw per decision).
        """
        self.policy = policy
        self.rng = rng

    def relevance_class(self, relevance: float) -> RelevanceClass:
        """Core above ``core_min``, peripheral above ``peripheral_min``, else irrelevant."""
        if relevance > self.policy.core_min:
            return "core"
        return "peripheral" if relevance > self.policy.peripheral_min else "irrelevant"

    def novelty_class(self, max_similarity: float, contradicts: bool) -> NoveltyClass:
        """Contradicting (similar and opposed), confirming (very similar), else novel."""
        p = self.policy
        if contradicts and max_similarity > p.contradicting_sim:
            return "contradicting"
        return "confirming" if max_similarity > p.confirming_sim else "novel"

    def decide(
        self,
        relevance: float,
        max_similarity: float,
        contradicts: bool,
        *,
        charge: float = 0.0,
        target_id: int | None = None,
    ) -> ExitDecision:
        """Judge one piece of content.

        Args:
            relevance: relevance to the active goals in [0, 1].
            max_similarity: cosine similarity to the nearest existing memory (0 if none).
            contradicts: the nearest memory says the opposite (see :func:`negation_flip`).
            charge: the gut's charge; above ``charge_bonus_above`` relevance gets
                ``charge_bonus`` (what moves the gut matters more).
            target_id: the nearest memory's id (kept on the decision for ``reinforce``).

        Returns:
            The decision.
        """
        p = self.policy
        effective = relevance + (p.charge_bonus if charge > p.charge_bonus_above else 0.0)
        rel = self.relevance_class(effective)
        nov = self.novelty_class(max_similarity, contradicts)
        action = _MATRIX[(rel, nov)]
        noisy = float(self.rng.random()) < p.noise_floor and action in ("drop", "buffer")
        return ExitDecision(
            action="persist" if noisy else action,
            relevance_class=rel,
            novelty_class=nov,
            noise_applied=noisy,
            target_id=target_id,
            relevance=effective,
            max_similarity=max_similarity,
        )
