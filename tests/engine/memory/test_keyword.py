"""BM25 keyword index: analysis, scoring, incremental add/remove, filters."""

from __future__ import annotations

import math

from engine.memory.keyword import KeywordIndex, analyze


def test_analyze_lowercases_stems_and_drops_stopwords() -> None:
    assert analyze("The cats were Running to the memories!") == ["cat", "run", "memori"]
    assert analyze("") == []
    assert analyze("v2.5 build_42") == ["v2", "5", "build", "42"]


def test_bm25_scores_match_the_formula() -> None:
    index = KeywordIndex(k1=1.2, b=0.75)
    docs = {1: "apple banana", 2: "apple apple cherry", 3: "durian"}
    for memory_id, text in docs.items():
        index.add(memory_id, text)
    hits = index.search("apple", k=10)
    assert [h.memory_id for h in hits] == [2, 1]
    n, df, avg = 3, 2, (2 + 3 + 1) / 3
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))

    def bm25(tf: int, length: int) -> float:
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * length / avg))

    assert math.isclose(hits[0].score, bm25(2, 3), rel_tol=1e-5)
    assert math.isclose(hits[1].score, bm25(1, 2), rel_tol=1e-5)
    assert [h.rank for h in hits] == [1, 2]


def test_new_memory_is_found_at_once_and_removal_hides_it() -> None:
    index = KeywordIndex()
    for i in range(1, 200):
        index.add(i, f"filler text number {i}")
    assert index.search("zeppelin", k=5) == []
    index.add(500, "a zeppelin over the harbour")
    assert [h.memory_id for h in index.search("zeppelins", k=5)] == [500]
    index.remove(500)
    assert index.search("zeppelin", k=5) == []
    assert 500 not in index and len(index) == 199


def test_readding_replaces_text() -> None:
    index = KeywordIndex()
    index.add(1, "old words here")
    index.add(1, "new content")
    assert index.search("old", k=5) == []
    assert [h.memory_id for h in index.search("content", k=5)] == [1]
    assert len(index) == 1


def test_allowed_restricts_results() -> None:
    index = KeywordIndex()
    for i in range(1, 11):
        index.add(i, "shared topic words")
    hits = index.search("topic", k=10, allowed=[3, 7, 99])
    assert sorted(h.memory_id for h in hits) == [3, 7]


def test_ties_are_broken_by_id_for_determinism() -> None:
    index = KeywordIndex()
    for i in (5, 3, 9):
        index.add(i, "identical text")
    assert [h.memory_id for h in index.search("identical", k=3)] == [3, 5, 9]
