"""Synthetic data shared by the benchmarks: clustered low-rank vectors, Zipf texts.

Vectors are low-rank and clustered, like real sentence embeddings (uniform random
vectors make every ANN look perfect or hopeless, and say nothing about recall).
Texts are drawn from a vocabulary with a Zipf-like distribution (English stopwords
at the top, as in real text, then pseudo-words), mixed with words of the vector's
cluster and sub-cluster, so texts and vectors agree on topic and BM25 postings look
real: common words have long postings, topic words medium ones, the tail short ones.
"""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import Stemmer

from engine.memory.keyword import STOPWORDS

SUBTOPICS = 16
"""Sub-clusters per cluster: which of the first 16 latent noise directions is largest."""


def clustered_vectors_labeled(
    n: int, dim: int, rng: np.random.Generator, rank: int = 160, per_cluster: int = 5000,
    spread: float = 1.0, noise: float = 0.03,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n unit vectors: cluster centers in a rank-``rank`` subspace, members around them.

    The defaults were calibrated to be as hard as the low-rank data of STACK-NOTES:
    at 100k, recall@10 0.88 / 0.97 / 0.99 at expansion_search 64 / 128 / 256 (the
    notes: 0.868 at 64, 0.992 at 256). Easier settings (rank 48, 50 per cluster)
    give recall 1.0 at ef 64 and hide every difference.

    Returns:
        (vectors float32 (n, dim), cluster labels (n,), sub-cluster labels (n,) in
        [0, SUBTOPICS): the largest of the first SUBTOPICS latent offset components).
    """
    basis = rng.standard_normal((rank, dim)).astype(np.float32) / np.sqrt(rank)
    clusters = max(1, n // per_cluster)
    centers = rng.standard_normal((clusters, rank)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    all_labels = np.empty(n, dtype=np.int64)
    subs = np.empty(n, dtype=np.int64)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        labels = rng.integers(0, clusters, stop - start)
        offset = spread * rng.standard_normal((stop - start, rank), dtype=np.float32)
        latent = centers[labels] + offset
        block = latent @ basis + noise * rng.standard_normal((stop - start, dim),
                                                             dtype=np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
        all_labels[start:stop] = labels
        subs[start:stop] = np.argmax(offset[:, :SUBTOPICS], axis=1)
    return out, all_labels, subs


def clustered_vectors(n: int, dim: int, rng: np.random.Generator, rank: int = 160,
                      per_cluster: int = 5000, spread: float = 1.0,
                      noise: float = 0.03) -> np.ndarray:
    """The vectors of ``clustered_vectors_labeled`` (same draws, same output)."""
    return clustered_vectors_labeled(n, dim, rng, rank, per_cluster, spread, noise)[0]


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k row ids by cosine (rows are unit length), in data chunks."""
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best_sims = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(data), 100_000):
        sims = queries @ data[start:start + 100_000].T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best_ids = np.hstack([best_ids, part + start])
        best_sims = np.hstack([best_sims, np.take_along_axis(sims, part, axis=1)])
        keep = np.argsort(-best_sims, axis=1)[:, :k]
        best_ids = np.take_along_axis(best_ids, keep, axis=1)
        best_sims = np.take_along_axis(best_sims, keep, axis=1)
    return best_ids


def _pseudo_words(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct pronounceable words that stay distinct after stemming."""
    onsets = [*"bdfgklmnprstvz", "br", "ch", "dr", "gl", "kr", "pl", "sh", "st", "tr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
    codas = ["", "", "", "n", "r", "l", "k", "m", "x"]
    stemmer = Stemmer.Stemmer("english")
    words: list[str] = []
    seen = set(STOPWORDS)
    while len(words) < count:
        syllables = int(rng.integers(2, 4))
        word = "".join(onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))]
                       for _ in range(syllables)) + codas[rng.integers(len(codas))]
        stem = stemmer.stemWord(word)
        if word not in seen and stem not in seen:
            seen.update((word, stem))
            words.append(word)
    return words


class ZipfTexts:
    """Texts whose words follow a Zipf law, biased towards their vector's (sub)cluster.

    Each token is, with probability ``p_topic``, a word of the cluster's topic list
    (40 mid-frequency words, Zipf within the list), with ``p_sub`` a word of the
    sub-cluster's list (8 rarer words), else a word of the global Zipf vocabulary
    (the ~130 English stopwords, which BM25 drops, interleaved with pseudo-words at the
    top ranks, then pseudo-words).

    Args:
        clusters: number of clusters the labels come from.
        rng: randomness (vocabulary and topic lists are drawn once, here).
        vocabulary: pseudo-words in the global vocabulary.
        zipf_s: exponent of the global law (p(rank r) ~ 1 / (r + 2.7) ** s).
        mean_len: mean tokens per text (stopwords included).
    """

    def __init__(self, clusters: int, rng: np.random.Generator, vocabulary: int = 30_000,
                 zipf_s: float = 1.0, mean_len: float = 18.0, p_topic: float = 0.2,
                 p_sub: float = 0.12) -> None:
        stop = sorted(STOPWORDS, key=lambda w: (len(w), w))
        pseudo = _pseudo_words(vocabulary, rng)
        # ranks: 10 stopwords, then stopwords and content words alternating (as in English,
        # where "time", "know", "like" rank among the function words), then the tail
        order = stop[:10] + [w for pair in zip(stop[10:], pseudo, strict=False) for w in pair]
        order += pseudo[len(stop) - 10:]
        self.words = np.array(order)
        ranks = np.arange(len(self.words), dtype=np.float64)
        weights = 1.0 / (ranks + 2.7) ** zipf_s
        self.cdf = np.cumsum(weights / weights.sum())
        content = np.flatnonzero(~np.isin(self.words, stop))
        self.topic_words = rng.choice(content[200:8000], (clusters, 40))
        self.sub_words = rng.choice(content[2000:], (clusters, SUBTOPICS, 8))
        topic_w = 1.0 / (np.arange(40) + 1.0)
        self.topic_cdf = np.cumsum(topic_w / topic_w.sum())
        self.mean_len = mean_len
        self.p_topic, self.p_sub = p_topic, p_sub

    def texts(self, labels: np.ndarray, subs: np.ndarray, rng: np.random.Generator) -> list[str]:
        """One text per (cluster label, sub-cluster) pair."""
        n = len(labels)
        lengths = np.clip(rng.poisson(self.mean_len, n), 4, None)
        owner = np.repeat(np.arange(n), lengths)
        total = len(owner)
        draw = rng.random(total)
        tokens = np.searchsorted(self.cdf, rng.random(total)).clip(0, len(self.words) - 1)
        topic = draw < self.p_topic
        pick = np.searchsorted(self.topic_cdf, rng.random(total)).clip(0, 39)
        tokens[topic] = self.topic_words[labels[owner[topic]], pick[topic]]
        sub = (draw >= self.p_topic) & (draw < self.p_topic + self.p_sub)
        slot = rng.integers(0, 8, total)
        tokens[sub] = self.sub_words[labels[owner[sub]], subs[owner[sub]], slot[sub]]
        words = self.words[tokens]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        return [" ".join(words[bounds[i]:bounds[i + 1]]) for i in range(n)]


def rss_mb() -> float:
    """Current resident set size in MB (Linux), else peak RSS."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """A right-aligned Markdown table."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("| " + " | ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
