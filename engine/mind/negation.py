"""A cheap contradiction heuristic: one text negates what the other affirms
(moltbot plan v4, section 2.8, the first and cheapest of the three layers).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NEGATIONS = frozenset(
    {"not", "no", "never", "cannot", "nobody", "nothing", "none", "neither", "nor", "nowhere"}
)
# fmt: off
_STOPWORDS = frozenset([
    "a", "an", "the", "i", "me", "my", "we", "our", "you", "your", "he", "she", "it", "its",
    "they", "them", "their", "this", "that", "these", "those", "is", "am", "are", "was",
    "were", "be", "been", "being", "do", "does", "did", "have", "has", "had", "will", "would",
    "shall", "should", "can", "could", "may", "might", "must", "of", "to", "in", "on", "at",
    "by", "for", "with", "about", "as", "from", "into", "than", "then", "so", "and", "or",
    "but", "if", "there", "here", "what", "which", "who", "whom", "how", "when", "where",
    "why", "also", "just", "very", "too", "any", "some", "longer", "anymore", "again",
])
# fmt: on
_STUBS = frozenset({"ca", "wo", "sha", "ai"})
"""What can't, won't, shan't, ain't leave once n't is cut off."""


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _negated(words: list[str]) -> bool:
    return any(w in _NEGATIONS or w.endswith("n't") for w in words)  # "no longer": "no"


def _content(words: list[str]) -> set[str]:
    out = set()
    for w in words:
        base = w[:-3] if w.endswith("n't") else w  # isn't -> is, don't -> do
        if base and base not in _STOPWORDS and base not in _NEGATIONS and base not in _STUBS:
            out.add(base)
    return out


def negation_flip(a: str, b: str, min_overlap: float = 0.5) -> bool:
    """Cheap contradiction heuristic: one text negates what the other affirms.

    One of the two has a negation ("not", "never", "no longer", "isn't", ...) and the
    other has none, and their content words (stopwords and negations left out)
    overlap by at least ``min_overlap`` (Dice: ``2 |A & B| / (|A| + |B|)``).

    Args:
        a: one text.
        b: the other.
        min_overlap: ``gates.exit.negation_min_overlap``.

    Returns:
        True when they look like a statement and its negation.
    """
    wa, wb = _words(a), _words(b)
    if _negated(wa) == _negated(wb):
        return False
    ca, cb = _content(wa), _content(wb)
    shared = len(ca & cb)
    return shared > 0 and 2 * shared / (len(ca) + len(cb)) >= min_overlap
