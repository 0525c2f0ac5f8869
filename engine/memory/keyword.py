"""BM25 keyword search over memories, kept in memory and updated per insert.

Why not SQL: BM25 in plain SQL over a DuckDB postings table matches the fts
extension's scores but queries in 8-20 ms at 100k rows, most of the 15 ms the
whole hybrid search may take. Why not ``bm25s``: it has no incremental insert,
and a new memory must be findable at once. So postings live in numpy arrays per
term, appended to on insert (amortized O(terms)), and the index is rebuilt from
DuckDB (the source of truth) when a process opens the store.

Text analysis: lowercase, words of letters/digits, English stopwords dropped,
Snowball (Porter2) stemming (PyStemmer, C) with a cache.
"""

from __future__ import annotations

import math
import re
import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import Stemmer

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORD_TEXT = """a about above after again against all am an and any are as at be because
    been before being below between both but by can did do does doing down during each few for
    from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with you your yours yourself
    yourselves"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_stemmer = Stemmer.Stemmer("english")
_stem_lock = threading.Lock()


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    with _stem_lock:  # a Stemmer object is not thread-safe
        return str(_stemmer.stemWord(word))


def analyze(text: str) -> list[str]:
    """Turn text into BM25 terms.

    Args:
        text: any text.

    Returns:
        Stemmed, lowercased terms without stopwords, in order (repeats kept).
    """
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


@dataclass(frozen=True)
class KeywordHit:
    """One BM25 result."""

    memory_id: int
    score: float
    rank: int


class _Postings:
    """Growable (doc id, term frequency) arrays for one term.

    ``array.array`` appends cheaply; searches read them through zero-copy numpy views.
    """

    __slots__ = ("docs", "tfs")

    def __init__(self) -> None:
        self.docs = array("q")
        self.tfs = array("f")

    def append(self, doc: int, tf: int) -> None:
        self.docs.append(doc)
        self.tfs.append(tf)

    def drop(self, doc: int) -> None:
        docs, tfs = self.views()
        keep = docs != doc
        if not keep.all():
            self.docs = array("q", docs[keep].tobytes())
            self.tfs = array("f", tfs[keep].tobytes())

    def views(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        return (
            np.frombuffer(self.docs, dtype=np.int64),
            np.frombuffer(self.tfs, dtype=np.float32),
        )


class KeywordIndex:
    """An incremental BM25 index. Thread-safe."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        """Create an empty index.

        Args:
            k1: term-frequency saturation.
            b: document-length normalization (0 = none, 1 = full).
        """
        self.k1 = k1
        self.b = b
        self._postings: dict[str, _Postings] = {}
        self._lengths: dict[int, int] = {}
        self._doc_terms: dict[int, tuple[str, ...]] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._doc_len = np.zeros(0, dtype=np.float32)
        self._total_len = 0
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._lengths)

    def __contains__(self, memory_id: int) -> bool:
        return memory_id in self._lengths

    def _grow(self, memory_id: int) -> None:
        if memory_id >= len(self._alive):
            size = max(memory_id + 1, len(self._alive) * 2, 1024)
            self._alive = np.concatenate([self._alive, np.zeros(size - len(self._alive), bool)])
            self._doc_len = np.concatenate(
                [self._doc_len, np.zeros(size - len(self._doc_len), np.float32)]
            )

    def add(self, memory_id: int, text: str) -> None:
        """Index one memory (replacing an earlier text of the same id).

        Args:
            memory_id: the memory's id (>= 1).
            text: its content.
        """
        terms = Counter(analyze(text))
        with self._lock:
            if memory_id in self._lengths:
                self.remove(memory_id)
            self._grow(memory_id)
            for term, tf in terms.items():
                postings = self._postings.get(term)
                if postings is None:
                    postings = self._postings[term] = _Postings()
                postings.append(memory_id, tf)
            length = sum(terms.values())
            self._lengths[memory_id] = length
            self._doc_terms[memory_id] = tuple(terms)
            self._alive[memory_id] = True
            self._doc_len[memory_id] = length
            self._total_len += length

    def add_many(self, items: Iterable[tuple[int, str]]) -> int:
        """Index many memories; returns how many."""
        count = 0
        for memory_id, text in items:
            self.add(memory_id, text)
            count += 1
        return count

    def remove(self, memory_id: int) -> None:
        """Forget a memory and drop its postings."""
        with self._lock:
            length = self._lengths.pop(memory_id, None)
            if length is None:
                return
            for term in self._doc_terms.pop(memory_id, ()):
                postings = self._postings.get(term)
                if postings is not None:
                    postings.drop(memory_id)
            self._alive[memory_id] = False
            self._total_len -= length

    def search(
        self, query: str, k: int, allowed: Sequence[int] | None = None
    ) -> list[KeywordHit]:
        """Rank memories by BM25 against the query.

        Args:
            query: the query text (analyzed like documents).
            k: how many hits.
            allowed: restrict to these memory ids (e.g. one conversation), or None.

        Returns:
            Up to ``k`` hits, best first; memories matching no query term are absent.
        """
        terms = list(dict.fromkeys(analyze(query)))
        with self._lock:
            n_docs = len(self._lengths)
            if not terms or n_docs == 0:
                return []
            avg_len = self._total_len / n_docs or 1.0
            mask = self._alive
            if allowed is not None:
                mask = np.zeros_like(self._alive)
                ids = np.asarray([i for i in allowed if 0 <= i < len(mask)], dtype=np.int64)
                mask[ids] = self._alive[ids]
            docs_parts: list[npt.NDArray[np.int64]] = []
            score_parts: list[npt.NDArray[np.float32]] = []
            for term in terms:
                postings = self._postings.get(term)
                if postings is None:
                    continue
                docs, tfs = postings.views()
                live = self._alive[docs]
                df = int(live.sum())
                if df == 0:
                    continue
                keep = mask[docs]
                docs, tfs = docs[keep], tfs[keep]
                idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
                norm = self.k1 * (1 - self.b + self.b * self._doc_len[docs] / avg_len)
                docs_parts.append(docs)
                score_parts.append((idf * tfs * (self.k1 + 1) / (tfs + norm)).astype(np.float32))
        if not docs_parts:
            return []
        all_docs = np.concatenate(docs_parts)
        all_scores = np.concatenate(score_parts)
        unique, inverse = np.unique(all_docs, return_inverse=True)
        totals = np.zeros(len(unique), dtype=np.float64)
        np.add.at(totals, inverse, all_scores)
        top = min(k, len(unique))
        order = np.argpartition(-totals, top - 1)[:top]
        order = order[np.lexsort((unique[order], -totals[order]))]
        return [
            KeywordHit(int(unique[i]), float(totals[i]), rank)
            for rank, i in enumerate(order, start=1)
        ]
