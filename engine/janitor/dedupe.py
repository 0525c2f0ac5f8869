"""Spam-family matching: which bot messages duplicate an earlier one, and which family.

A bot message is a duplicate when, in the same channel, an earlier bot message

- has the same exact hash (normalized text) and came at most ``exact_ttl_seconds``
  before it (the most recent occurrence counts, so a steady stream stays one burst), or
- came at most ``near_window_seconds`` before it, has a simhash within
  ``simhash_hamming_threshold`` bits, and (``merge_only_equal_numbers``) carries the
  same number signature: the numbers the normalizer kept (amounts, versions,
  scores) in the same order. Messages that differ in a number a human would care
  about are therefore never near duplicates, however close their simhashes.

A duplicate joins the family of the message it duplicates. When that message was
not in a family yet (the first of a burst), a family is founded with both; before
minting a new family id the matcher looks for an existing family of the same
pattern in the channel (same exact hash, or a near match on the family's
fingerprint), so a bot that repeats every day keeps one family across bursts.
A message with no earlier match stays alone (it is not a duplicate), even when its
text belongs to a family seen long ago: beyond the TTL nothing collapses.

Human messages never go through the matcher. Comparisons per message are bounded:
candidates are bucketed by (channel, number signature), one entry per distinct text,
the most recent ``near_max_candidates`` are compared, and entries older than the
longest window are pruned as time moves on.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from engine.memory.normalize import Fingerprint, hamming
from engine.policy.memory import DedupeSection

MatchKind = Literal["exact", "near"]
_PRUNE_EVERY = 4096


@dataclass(slots=True)
class Seen:
    """A bot message the matcher remembers (the latest one per distinct text)."""

    event_id: int
    ts: float
    """Seconds since the epoch."""
    exact_hash: str
    simhash: int
    family_id: int | None


@dataclass(frozen=True, slots=True)
class Match:
    """What the matcher decided for one message."""

    family_id: int | None
    """The family the message joins; None: not a duplicate."""
    kind: MatchKind | None = None
    duplicate_of: int | None = None
    """Event id of the earlier message it duplicates."""
    founder: int | None = None
    """Event id of an earlier message that joins the family now (first of its burst)."""
    founder_ts: float | None = None
    new_family: bool = False
    """The family id was minted for this burst (no earlier family of this pattern)."""


class FamilyMatcher:
    """Assigns bot messages to spam families; pure in-memory state, fed in time order."""

    def __init__(self, dedupe: DedupeSection, new_family_id: Callable[[], int]) -> None:
        """Create an empty matcher.

        Args:
            dedupe: the policy's ``dedupe`` section (windows, threshold, limits).
            new_family_id: returns a fresh family id when a family is founded.
        """
        self._ttl = float(dedupe.exact_ttl_seconds)
        self._window = float(dedupe.near_window_seconds)
        self._threshold = dedupe.simhash_hamming_threshold
        self._equal_numbers = dedupe.merge_only_equal_numbers
        self._max_candidates = dedupe.near_max_candidates
        self._new_family_id = new_family_id
        self._last: dict[tuple[str | None, str], Seen] = {}
        self._recent: dict[tuple[str | None, str], OrderedDict[str, Seen]] = {}
        self._family_by_hash: dict[tuple[str | None, str], int] = {}
        self._family_near: dict[tuple[str | None, str], dict[int, int]] = {}
        self._latest = float("-inf")
        self._since_prune = 0

    def _bucket_key(self, channel: str | None, fp: Fingerprint) -> tuple[str | None, str]:
        return (channel, fp.numbers if self._equal_numbers else "")

    def remember_family(self, family_id: int, channel: str | None, fp: Fingerprint) -> None:
        """Index a family's pattern (one of its texts) so later bursts can rejoin it.

        Args:
            family_id: the family.
            channel: its channel.
            fp: the fingerprint of one of its messages.
        """
        self._family_by_hash[(channel, fp.exact_hash)] = family_id
        self._family_near.setdefault(self._bucket_key(channel, fp), {})[fp.simhash] = family_id

    def remember(
        self, event_id: int, channel: str | None, ts: float, fp: Fingerprint, family_id: int | None
    ) -> None:
        """Load an already processed bot message (warm start of a later run).

        Args:
            event_id: its event.
            channel: its channel.
            ts: its time, seconds since the epoch.
            fp: its fingerprint.
            family_id: its family, if any.
        """
        self._store(Seen(event_id, ts, fp.exact_hash, fp.simhash, family_id), channel, fp)
        if family_id is not None:
            self.remember_family(family_id, channel, fp)

    def observe(self, event_id: int, channel: str | None, ts: float, fp: Fingerprint) -> Match:
        """Match one bot message against what came before it, then remember it.

        Args:
            event_id: its event id.
            channel: its channel (matching never crosses channels).
            ts: its time, seconds since the epoch.
            fp: its fingerprint.

        Returns:
            The match (``family_id`` None when it duplicates nothing).
        """
        kind: MatchKind | None = None
        prior = self._last.get((channel, fp.exact_hash))
        if prior is not None and abs(ts - prior.ts) <= self._ttl:
            kind = "exact"
        else:
            prior = self._nearest(channel, ts, fp)
            kind = "near" if prior is not None else None
        match = Match(None)
        if prior is not None:
            if prior.family_id is None:
                family = self._find_family(channel, fp, prior)
                new = family is None
                prior.family_id = self._new_family_id() if family is None else family
                match = Match(prior.family_id, kind, prior.event_id, prior.event_id, prior.ts, new)
            else:
                match = Match(prior.family_id, kind, prior.event_id)
        self._store(Seen(event_id, ts, fp.exact_hash, fp.simhash, match.family_id), channel, fp)
        if match.family_id is not None:
            self.remember_family(match.family_id, channel, fp)
        self._latest = max(self._latest, ts)
        self._since_prune += 1
        if self._since_prune >= _PRUNE_EVERY:
            self.prune()
        return match

    def _nearest(self, channel: str | None, ts: float, fp: Fingerprint) -> Seen | None:
        bucket = self._recent.get(self._bucket_key(channel, fp))
        if not bucket:
            return None
        best: Seen | None = None
        best_distance = self._threshold + 1
        for compared, exact_hash in enumerate(reversed(bucket)):
            if compared >= self._max_candidates:
                break
            seen = bucket[exact_hash]
            if exact_hash == fp.exact_hash or abs(ts - seen.ts) > self._window:
                continue  # same text beyond the TTL never collapses
            distance = hamming(seen.simhash, fp.simhash)
            if distance < best_distance:
                best, best_distance = seen, distance
        return best

    def _find_family(self, channel: str | None, fp: Fingerprint, prior: Seen) -> int | None:
        for exact_hash in (fp.exact_hash, prior.exact_hash):
            family = self._family_by_hash.get((channel, exact_hash))
            if family is not None:
                return family
        patterns = self._family_near.get(self._bucket_key(channel, fp))
        if not patterns:
            return None
        best, best_distance = None, self._threshold + 1
        for simhash, family in patterns.items():
            distance = hamming(simhash, fp.simhash)
            if distance < best_distance:
                best, best_distance = family, distance
        return best

    def _store(self, seen: Seen, channel: str | None, fp: Fingerprint) -> None:
        self._last[(channel, fp.exact_hash)] = seen
        bucket = self._recent.setdefault(self._bucket_key(channel, fp), OrderedDict())
        bucket[fp.exact_hash] = seen
        bucket.move_to_end(fp.exact_hash)

    def prune(self) -> int:
        """Forget messages too old to match anything that comes after the latest one.

        Returns:
            How many remembered messages were dropped.
        """
        self._since_prune = 0
        horizon = self._latest - max(self._ttl, self._window)
        stale = [key for key, seen in self._last.items() if seen.ts < horizon]
        for key in stale:
            del self._last[key]
        for key in [k for k, bucket in self._recent.items() if self._prune_bucket(bucket, horizon)]:
            del self._recent[key]
        return len(stale)

    @staticmethod
    def _prune_bucket(bucket: OrderedDict[str, Seen], horizon: float) -> bool:
        for exact_hash in [h for h, seen in bucket.items() if seen.ts < horizon]:
            del bucket[exact_hash]
        return not bucket

    def __len__(self) -> int:
        return len(self._last)
