"""What search scores memories by, held in memory beside the BM25 index.

Reading ~100 candidates' rows per search from DuckDB cost ~23 ms at 100k memories
(DuckDB scans for ``id = ANY(...)``), the neighbour and co-access SQL ~11 ms more.
This cache holds per memory id (dense positive ints from the writer), in numpy
columns: kind, author_is_bot, immutable, deleted, the time it is about (event time,
else creation), channel, alpha and beta; access times and co-access counts in flat
ragged arrays; per-channel conversation timelines. Search reads only the hits' text
from DuckDB.

DuckDB stays the source of truth: the cache is loaded from it when the store opens
(:mod:`engine.memory.scoring_load`) and every writer in the memory subsystem updates
it with the same arithmetic as its SQL (:class:`engine.memory.service.MemoryService`,
:mod:`engine.memory.retrieval_effects`); writes made behind the service's back are
seen after the next load. Thread-safe: one re-entrant lock, held briefly.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.memory.co_access import CoAccess
from engine.memory.contiguity import Conversations
from engine.memory.ragged import Ragged
from engine.memory.records import NewMemory
from engine.memory.scoring_rows import ScoringRows, epoch_us

COLUMNS: tuple[tuple[str, type[np.generic]], ...] = (
    ("present", np.bool_), ("deleted", np.bool_), ("immutable", np.bool_),
    ("bot", np.bool_), ("kind", np.int16), ("channel", np.int32),
    ("time_us", np.int64), ("alpha", np.float64), ("beta", np.float64),
    ("pinned", np.bool_),
)  # fmt: skip
"""The per-memory columns, indexed by memory id (``channel`` -1: none)."""


class ScoringCache:
    """Per-memory scoring fields, co-access counts and conversation timelines."""

    def __init__(self, conversation_kinds: Sequence[str]) -> None:
        """Create an empty cache.

        Args:
            conversation_kinds: kinds on the conversation timelines
                (``retrieval.contiguity.kinds``).
        """
        self.lock = threading.RLock()
        self.conversation_kinds = tuple(conversation_kinds)
        self.reset()

    def reset(self) -> None:
        """Forget everything (before a load)."""
        with self.lock:
            self.cols: dict[str, npt.NDArray[Any]] = {n: np.zeros(0, t) for n, t in COLUMNS}
            self.kind_names: list[str] = []
            self.kind_codes: dict[str, int] = {}
            self.channel_names: list[str] = []
            self.channel_codes: dict[str, int] = {}
            self.is_conversation = np.zeros(0, dtype=np.bool_)
            self.accesses = Ragged([np.float64])
            self.co_access = CoAccess()
            self.conversations = Conversations()

    def kind_code(self, kind: str) -> int:
        """The code of a kind (assigned on first sight)."""
        if kind not in self.kind_codes:
            self.kind_codes[kind] = len(self.kind_names)
            self.kind_names.append(kind)
            self.is_conversation = np.append(self.is_conversation, kind in self.conversation_kinds)
        return self.kind_codes[kind]

    def channel_code(self, channel: str | None) -> int:
        """The code of a channel (-1 for none; assigned on first sight)."""
        if channel is not None and channel not in self.channel_codes:
            self.channel_codes[channel] = len(self.channel_names)
            self.channel_names.append(channel)
        return -1 if channel is None else self.channel_codes[channel]

    def ensure(self, size: int) -> None:
        """Make ids ``< size`` addressable (growing by a quarter at least)."""
        with self.lock:
            have = len(self.cols["present"])
            if size <= have:
                return
            size = max(size, have + have // 4, 1024)
            for name, column in self.cols.items():
                grown = np.full(size, -1 if name == "channel" else 0, dtype=column.dtype)
                grown[:have] = column
                self.cols[name] = grown

    def conversation_mask(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of some stored ids belong on a timeline (live, a channel, a conversation kind)."""
        c = self.cols
        mask: npt.NDArray[np.bool_] = c["present"][keys] & ~c["deleted"][keys]
        mask &= c["channel"][keys] >= 0
        if not len(self.is_conversation):
            return np.zeros(len(keys), dtype=np.bool_)
        mask &= self.is_conversation[c["kind"][keys]]
        return mask

    def _on_timeline(self, key: int) -> bool:
        return bool(self.conversation_mask(np.asarray([key]))[0])

    def _timeline_key(self, key: int) -> tuple[int, int, int]:
        return int(self.cols["channel"][key]), int(self.cols["time_us"][key]), key

    # -- writers --------------------------------------------------------------------------

    def put(
        self,
        key: int,
        *,
        kind: str,
        channel_id: str | None,
        flags: tuple[bool, bool, bool],
        time_us: int,
        weight: tuple[float, float],
        accesses: Sequence[float] = (),
        pinned: bool = False,
    ) -> None:
        """Set everything about one memory (its co-access counts are kept).

        Args:
            key: the memory id.
            kind: its kind.
            channel_id: its channel, if any.
            flags: (author_is_bot, immutable, deleted).
            time_us: the time it is about (event time, else creation), epoch microseconds.
            weight: (alpha, beta).
            accesses: its access times, epoch seconds, in stored order.
            pinned: whether the operator pinned it.
        """
        with self.lock:
            self.ensure(key + 1)
            if self._present(key) and self._on_timeline(key):
                self.conversations.remove(*self._timeline_key(key))
            bot, immutable, deleted = flags
            values = {
                "present": True, "deleted": deleted, "immutable": immutable, "bot": bot,
                "kind": self.kind_code(kind), "channel": self.channel_code(channel_id),
                "time_us": time_us, "alpha": weight[0], "beta": weight[1], "pinned": pinned,
            }  # fmt: skip
            for name, value in values.items():
                self.cols[name][key] = value
            self.accesses.clear(key)
            for stamp in accesses:
                self.accesses.append(key, (stamp,))
            if self._on_timeline(key):
                self.conversations.insert(*self._timeline_key(key))

    def insert(
        self,
        ids: Sequence[int],
        items: Sequence[NewMemory],
        created_at: datetime,
        priors: tuple[tuple[float, float], tuple[float, float]],
    ) -> None:
        """Add committed memories as :meth:`MemoryRepository.insert` stored them.

        Args:
            ids: their ids.
            items: the memories.
            created_at: their creation time.
            priors: (alpha, beta) of a mutable memory, then of an immutable one.
        """
        stamp = epoch_us(created_at)
        with self.lock:
            for key, item in zip(ids, items, strict=True):
                self.put(
                    key,
                    kind=item.kind,
                    channel_id=item.channel_id,
                    flags=(item.author_is_bot, item.immutable, False),
                    time_us=epoch_us(item.event_ts) if item.event_ts else stamp,
                    weight=priors[1] if item.immutable else priors[0],
                    pinned=item.pinned,
                )

    def set_pinned(self, key: int, pinned: bool) -> None:
        """Pin or unpin a live memory (as :meth:`MemoryRepository.set_pinned`)."""
        with self.lock:
            if self._present(key) and not self.cols["deleted"][key]:
                self.cols["pinned"][key] = pinned

    def mark_deleted(self, ids: Iterable[int]) -> None:
        """Tombstone memories (as :meth:`MemoryRepository.mark_deleted`)."""
        with self.lock:
            for key in ids:
                if not self._present(key):
                    continue
                if self._on_timeline(key):
                    self.conversations.remove(*self._timeline_key(key))
                self.cols["deleted"][key] = True

    def record_retrieval(
        self, hits: Sequence[int], misses: Sequence[int], stamp: float, amounts: Sequence[float]
    ) -> None:
        """Apply one search's effects with the arithmetic of ``apply_retrieval_effects``' SQL.

        Args:
            hits: returned memories: an access at ``stamp``, alpha reinforced (capped so
                the mean stays <= max_center), one more co-access for every pair.
            misses: near misses: beta contradicted.
            stamp: the access time, epoch seconds.
            amounts: (reinforce, contradict, max_center).
        """
        reinforce, contradict, cap = amounts
        c = self.cols
        with self.lock:
            for key in dict.fromkeys(hits):
                if not self._present(key):
                    continue
                self.accesses.append(key, (stamp,))
                if not c["immutable"][key]:
                    alpha, beta = float(c["alpha"][key]), float(c["beta"][key])
                    c["alpha"][key] = max(alpha, min(alpha + reinforce, cap * beta / (1 - cap)))
            for key in dict.fromkeys(misses):
                if self._present(key) and not c["immutable"][key]:
                    c["beta"][key] = float(c["beta"][key]) + contradict
            for a, b in itertools.combinations(sorted(hits), 2):
                self.co_access.bump(a, b)

    def record_access(self, ids: Iterable[int], stamp: float) -> None:
        """Append an access time to memories (as ``record_inclusions``' SQL)."""
        with self.lock:
            for key in dict.fromkeys(ids):
                if self._present(key):
                    self.accesses.append(key, (stamp,))

    # -- reads ----------------------------------------------------------------------------

    def _present(self, key: int) -> bool:
        return 0 <= key < len(self.cols["present"]) and bool(self.cols["present"][key])

    def live_mask(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of some ids are stored, not deleted memories."""
        c = self.cols
        mask = (keys >= 0) & (keys < len(c["present"]))
        inside = keys[mask]
        mask[mask] = c["present"][inside] & ~c["deleted"][inside]
        return mask

    def live_kinds(self, ids: Sequence[int]) -> dict[int, str]:
        """The kind of each id that is a stored, not deleted memory."""
        keys = np.asarray(ids, dtype=np.int64)
        with self.lock:
            keys = keys[self.live_mask(keys)]
            kinds = self.cols["kind"][keys].tolist()
        return {key: self.kind_names[kind] for key, kind in zip(keys.tolist(), kinds, strict=True)}

    def rows(self, ids: Iterable[int]) -> ScoringRows:
        """Scoring inputs of the stored, not deleted memories among ``ids`` (id order)."""
        keys = np.unique(np.fromiter(ids, dtype=np.int64))
        with self.lock:
            c = self.cols
            keys = keys[self.live_mask(keys)]
            values = self.accesses.columns[0]
            history: list[float] = []
            bounds = [0]
            for key, when in zip(keys.tolist(), (c["time_us"][keys] / 1e6).tolist(), strict=True):
                start, stop = self.accesses.row(key)
                history.append(when)
                history.extend(values[start:stop].tolist())
                bounds.append(len(history))
            return ScoringRows(
                ids=keys.tolist(),
                kinds=[self.kind_names[k] for k in c["kind"][keys].tolist()],
                author_is_bot=c["bot"][keys].tolist(),
                immutable=c["immutable"][keys].tolist(),
                alpha=c["alpha"][keys].tolist(),
                beta=c["beta"][keys].tolist(),
                history=history,
                bounds=bounds,
            )

    def neighbours(
        self, seeds: Sequence[int], span: int, gap_seconds: float
    ) -> dict[int, list[tuple[int, int]]]:
        """Conversation neighbours: what ``contiguity.conversation_neighbours`` finds in
        DuckDB (same arguments bar the kinds, same answer)."""
        found: dict[int, list[tuple[int, int]]] = {}
        if span <= 0:
            return found
        with self.lock:
            for seed in sorted(set(seeds)):
                if self._present(seed) and self._on_timeline(seed):
                    near = self.conversations.neighbours(
                        *self._timeline_key(seed), span, gap_seconds
                    )
                    if near is not None:
                        found[seed] = near
        return found

    def partners(self, seeds: Sequence[int], per_seed: int, min_count: int) -> dict[int, list[int]]:
        """Co-access partners: what ``MemoryRepository.co_access_partners`` finds in DuckDB
        (each seed's list ordered by count, then id; see :meth:`CoAccess.partners`)."""
        with self.lock:
            return self.co_access.partners(seeds, per_seed, min_count, self.live_mask)
