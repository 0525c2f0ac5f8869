"""The retrieval evaluation harness: metric math, messy datasets, aggregation, report keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.config import load_policy
from engine.errors import CephalonError
from engine.memory.embed import HashingEmbedder
from engine.memory.eval_dataset import (
    load_dataset,
    parse_dataset,
    parse_session_date,
    split_evidence,
)
from engine.memory.eval_metrics import ModeScores, aggregate, percentiles, score_ranking
from engine.memory.evaluation import evaluate_retrieval


def _turn(dia_id: str, speaker: str, text: str) -> dict[str, str]:
    return {"speaker": speaker, "dia_id": dia_id, "text": text}


def tiny_dataset() -> list[dict[str, Any]]:
    """Two small conversations whose answers are known."""
    return [
        {
            "sample_id": "a",
            "conversation": {
                "speaker_a": "Ann",
                "speaker_b": "Bob",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    _turn("D1:1", "Ann", "I adopted a parrot and named him Kiwi."),
                    _turn("D1:2", "Bob", "Lovely! My sister just moved to Lisbon."),
                    _turn("D1:3", "Ann", "The weather is grey again today."),
                ],
                "session_2_date_time": "9:00 am on 20 May, 2023",
                "session_2": [
                    _turn("D2:1", "Bob", "I started cello lessons on Mondays."),
                    _turn("D2:2", "Ann", "Kiwi learned to whistle the cello tune."),
                ],
            },
            "qa": [
                {
                    "question": "Ann adopted a parrot named Kiwi",
                    "evidence": ["D1:1"],
                    "category": 4,
                },
                {
                    "question": "What did Bob start and where did his sister move?",
                    "evidence": ["D1:2; D2:1", "D9:9"],
                    "category": 1,
                },
                {"question": "What is the weather like?", "evidence": [], "category": 4},
                {"question": "Who is Carl?", "evidence": ["D7:7"], "category": 5},
            ],
        },
        {
            "sample_id": "b",
            "conversation": {
                "speaker_a": "Cy",
                "speaker_b": "Di",
                "session_1_date_time": "sometime last spring",
                "session_1": [
                    _turn("D1:1", "Cy", "My bakery opens at six every morning."),
                    _turn("D1:2", "Di", "I ran my first marathon in Chicago."),
                    {"speaker": "Di", "dia_id": "D1:3"},
                ],
            },
            "qa": [
                {"question": "Where did Di run a marathon?", "evidence": "D1:2", "category": 2},
            ],
        },
        {"sample_id": "empty", "conversation": {"speaker_a": "E", "speaker_b": "F"}, "qa": []},
    ]


def test_score_ranking_recall_and_hit() -> None:
    scores = score_ranking(["a", "b", "c", "d"], ["b", "d", "x"], [1, 2, 4])
    assert scores == {
        "recall@1": 0.0,
        "hit@1": 0.0,
        "recall@2": pytest.approx(1 / 3),
        "hit@2": 1.0,
        "recall@4": pytest.approx(2 / 3),
        "hit@4": 1.0,
    }
    assert score_ranking([], ["a"], [5]) == {"recall@5": 0.0, "hit@5": 0.0}
    with pytest.raises(ValueError):
        score_ranking(["a"], [], [5])


def test_aggregation_overall_and_by_category() -> None:
    scores = ModeScores()
    scores.add("4", score_ranking(["a", "b"], ["a"], [1, 2]))  # r@1 1, r@2 1
    scores.add("4", score_ranking(["a", "b"], ["b"], [1, 2]))  # r@1 0, r@2 1
    scores.add("1", score_ranking(["a", "b"], ["b", "c"], [1, 2]))  # r@1 0, r@2 0.5
    overall = scores.overall([1, 2])
    assert overall == {
        "n": 3,
        "recall@1": round(1 / 3, 4),
        "recall@2": round(2.5 / 3, 4),
        "hit@1": round(1 / 3, 4),
        "hit@2": 1.0,
    }
    by_category = scores.by_category([1, 2])
    assert list(by_category) == ["1", "4"]
    assert by_category["4"] == {
        "n": 2,
        "recall@1": 0.5,
        "recall@2": 1.0,
        "hit@1": 0.5,
        "hit@2": 1.0,
    }
    assert by_category["1"]["recall@2"] == 0.5 and by_category["1"]["hit@2"] == 1.0
    assert aggregate([], [5]) == {"n": 0, "recall@5": 0.0, "hit@5": 0.0}
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0}
    assert percentiles([1.0, 2.0, 3.0]) == {"p50": 2.0, "p95": 2.9}


def test_evidence_and_dates_are_read_leniently() -> None:
    assert split_evidence(["D1:3; D1:5", "D2:1 D2:2", "D1:3"]) == ["D1:3", "D1:5", "D2:1", "D2:2"]
    assert split_evidence("D1:1,D1:2") == ["D1:1", "D1:2"]
    assert split_evidence(None) == [] and split_evidence([3, None]) == []
    assert parse_session_date("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert parse_session_date("10:00 am on 15 October, 2023") == datetime(
        2023, 10, 15, 10, 0, tzinfo=UTC
    )
    assert parse_session_date("2023-05-08T13:56:00") == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert parse_session_date("May 8, 2023") == datetime(2023, 5, 8, tzinfo=UTC)
    assert parse_session_date("sometime last spring") is None
    assert parse_session_date(None) is None and parse_session_date(20230508) is None


def test_messy_dataset_is_parsed_and_skips_are_counted() -> None:
    dataset = parse_dataset(tiny_dataset())
    assert [s.sample_id for s in dataset.samples] == ["a", "b"]
    a, b = dataset.samples
    assert [t.dia_id for t in a.turns] == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    assert a.turns[0].content == "Ann: I adopted a parrot and named him Kiwi."
    assert a.turns[3].event_ts == datetime(2023, 5, 20, 9, 0, tzinfo=UTC)
    assert [q.evidence for q in a.qa] == [("D1:1",), ("D1:2", "D2:1")]
    assert [q.category for q in a.qa] == ["4", "1"]
    assert [t.event_ts for t in b.turns] == [None, None]  # unreadable date: kept, undated
    assert b.qa[0].evidence == ("D1:2",)
    assert dict(dataset.skipped) == {
        "evidence_id_unknown": 2,  # D9:9 next to real ids, and D7:7 alone
        "qa_no_evidence": 1,
        "qa_no_valid_evidence": 1,
        "session_date_unreadable": 1,
        "turn_malformed": 1,
        "sample_empty_conversation": 1,
    }


def test_odd_shapes() -> None:
    single = parse_dataset(tiny_dataset()[0])  # one sample object: a list of one
    assert len(single.samples) == 1
    odd = parse_dataset([5, {"conversation": []}, {"conversation": {"session_1": "x"}}])
    assert odd.samples == []
    assert dict(odd.skipped) == {
        "sample_malformed": 2,
        "session_not_a_list": 1,
        "sample_empty_conversation": 1,
    }
    duplicate = tiny_dataset()[0]
    duplicate["conversation"]["session_2"].append(_turn("D1:1", "Ann", "Again"))
    assert parse_dataset([duplicate]).skipped["turn_duplicate_id"] == 1
    for bad in ({"a": 1}, "text", 3, None):
        with pytest.raises(CephalonError, match="JSON array of samples"):
            parse_dataset(bad)


def test_load_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(CephalonError, match="does not exist"):
        load_dataset(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CephalonError, match="is not JSON"):
        load_dataset(bad)
    with pytest.raises(CephalonError, match="cannot read"):
        load_dataset(tmp_path)
    shape = tmp_path / "shape.json"
    shape.write_text('{"qa": []}')
    with pytest.raises(CephalonError, match="not a JSON object"):
        load_dataset(shape)


def test_harness_end_to_end_is_deterministic(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_dataset()))
    dataset = load_dataset(path)
    policy = load_policy().policy
    stages: dict[str, tuple[int, int]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        stages[stage] = (done, total)

    report = evaluate_retrieval(
        dataset, HashingEmbedder(), policy, ks=[1, 5], baselines=True, progress=progress
    )
    doc = report.to_json()
    assert set(doc) >= {"overall", "by_category", "latency_ms", "ingest_s", "skipped", "baselines"}
    assert stages == {"ingest": (7, 7), "query": (3, 3)}
    assert doc["memories"] == 7 and doc["samples"] == 2
    keys = {"n", "recall@1", "recall@5", "hit@1", "hit@5"}
    assert set(doc["overall"]) == keys and doc["overall"]["n"] == 3
    assert set(doc["baselines"]) == {"bm25", "dense", "rrf"}
    for scores in [doc["overall"], *doc["baselines"].values()]:
        assert set(scores) == keys
    # every sample has at most 5 turns: the top 5 holds every evidence turn
    assert doc["overall"]["recall@5"] == 1.0 and doc["overall"]["hit@5"] == 1.0
    assert doc["baselines"]["dense"]["recall@5"] == 1.0
    assert set(doc["by_category"]) == {"1", "2", "4"}
    assert doc["by_category"]["4"]["recall@1"] == 1.0  # the question is the turn's own words
    assert doc["by_category"]["1"]["recall@1"] <= 0.5  # two evidence turns, one slot
    assert doc["skipped"]["qa_no_evidence"] == 1
    assert set(doc["latency_ms"]) == {"p50", "p95"} and doc["ingest_s"] >= 0
    again = evaluate_retrieval(dataset, HashingEmbedder(), policy, ks=[1, 5], baselines=True)
    assert again.to_json()["overall"] == doc["overall"]
    assert again.to_json()["baselines"] == doc["baselines"]


def test_bad_cutoffs_are_rejected() -> None:
    dataset = parse_dataset(tiny_dataset())
    with pytest.raises(ValueError):
        evaluate_retrieval(dataset, HashingEmbedder(), load_policy().policy, ks=[0, 5])
