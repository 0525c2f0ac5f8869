"""Identity in the context: the name hook and stochastic identity injection
(moltbot plan v4, section 3.2 track 2; the deterministic hook is Chalie's IIP step).

- :func:`identity_hook` spots "call me X", "my name is X", "I'm called X" ... with
  regexes (no LLM) and returns the name; the caller mints an identity memory.
- :func:`identity_candidates` reads what rolls for injection each turn: every
  immutable memory (always injected), then the ``identity.top_n`` heaviest memories
  (Beta mean) that are pinned or of an ``identity.kinds`` kind, pinned first.
- :func:`roll` decides one candidate: immutable and pinned always go in; any other
  goes in whole when its Beta sample (``StochasticWeight.observe``, seeded) beats
  ``identity.threshold``, else it sits this turn out. Nothing is ever truncated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.memory.service import MemoryService
from engine.memory.weight_ranking import heaviest_first, select_live
from engine.mind.weights import StochasticWeight
from engine.policy.mind import IdentitySection

_NAME = r"(?P<name>[A-Za-z][\w'\-]*(?:[ \t]+[A-Z][\w'\-]*){0,2})"
_HOOKS = [  # the trigger ignores case; a name's later words must be capitalised
    re.compile(rf"\b(?i:call|calling)[ \t]+(?i:me)[ \t]+{_NAME}"),
    re.compile(rf"\b(?i:my[ \t]+name(?:'s|[ \t]+is))[ \t]+{_NAME}"),
    re.compile(rf"\b(?i:i'm|i[ \t]+am|im)[ \t]+(?i:called)[ \t]+{_NAME}"),
    re.compile(rf"\b(?i:i[ \t]+go|i'm[ \t]+going)[ \t]+(?i:by)[ \t]+{_NAME}"),
]
# fmt: off
_NOT_NAMES = frozenset([
    "a", "an", "the", "not", "no", "never", "back", "later", "tomorrow", "today", "tonight",
    "soon", "now", "when", "if", "at", "on", "in", "maybe", "anytime", "sometime", "after",
    "before", "please", "again", "asap", "up", "out", "whatever", "anything", "something",
    "nothing", "to", "by", "for", "with", "and", "or", "but", "what", "who", "how", "whenever",
    "wherever", "crazy", "old", "lazy", "just", "really", "also",
])
# fmt: on
_NEGATED = re.compile(r"(?:\bdon'?t|\bdo not|\bnever|\bnot|\bstop|\bno one)\W*(?:\w+\W+)?$", re.I)


def identity_hook(text: str) -> str | None:
    """The name an operator gives themself in a message, if any.

    Args:
        text: the operator's message.

    Returns:
        The name (1-3 words; an all-lowercase name is capitalised), or None for no
        match, a negated one ("don't call me Bob") or a non-name ("call me back").
    """
    for pattern in _HOOKS:
        for match in pattern.finditer(text):
            if _NEGATED.search(text[max(0, match.start() - 16) : match.start()]):
                continue
            words = match.group("name").split()
            while words and words[-1].lower() in _NOT_NAMES:
                words.pop()
            if not words or words[0].lower() in _NOT_NAMES:
                continue
            name = " ".join(w.strip("'-") for w in words)
            return name.title() if name.islower() else name
    return None


@dataclass(frozen=True)
class IdentityCandidate:
    """A memory that rolls for identity injection."""

    id: int
    kind: str
    content: str
    alpha: float
    beta: float
    immutable: bool
    pinned: bool

    @property
    def weight(self) -> StochasticWeight:
        """Its depth weight."""
        return StochasticWeight(self.alpha, self.beta, immutable=self.immutable)


def identity_candidates(memory: MemoryService, policy: IdentitySection) -> list[IdentityCandidate]:
    """Immutable memories, then the ``top_n`` heaviest pinned / identity-kind memories.

    Chosen from the scoring cache (:mod:`engine.memory.weight_ranking`); only the
    chosen few's contents are read from the store.

    Args:
        memory: the memory service (scoring cache, repository).
        policy: ``identity`` (``top_n``, ``kinds``).

    Returns:
        The candidates in injection order.
    """
    cache = memory.scoring
    ids = [int(i) for i in select_live(cache, immutable=True)]
    if policy.top_n:
        ranked = select_live(cache, immutable=False, pinned_or_kinds=list(policy.kinds))
        ids += heaviest_first(cache, ranked, policy.top_n, pinned_first=True)
    if not ids:
        return []
    contents = memory.repo.contents(ids)
    with cache.lock:
        c = cache.cols
        return [
            IdentityCandidate(
                i,
                cache.kind_names[int(c["kind"][i])],
                contents[i],
                float(c["alpha"][i]),
                float(c["beta"][i]),
                bool(c["immutable"][i]),
                bool(c["pinned"][i]),
            )
            for i in ids
            if i in contents
        ]


def roll(
    candidate: IdentityCandidate, policy: IdentitySection, rng: np.random.Generator
) -> tuple[bool, float]:
    """Whether a candidate goes in this turn, and the value it rolled.

    Args:
        candidate: the memory.
        policy: ``identity`` (``threshold``).
        rng: seeded generator (one Beta draw per mutable, unpinned candidate).

    Returns:
        (included, observed): immutable -> (True, 1.0); pinned -> (True, its mean);
        else (sample > threshold, sample).
    """
    weight = candidate.weight
    if candidate.immutable:
        return True, weight.observe(rng)
    if candidate.pinned:
        return True, weight.center
    observed = weight.observe(rng)
    return observed > policy.threshold, observed
