"""``cephalon bench retrieval`` as a user runs it, on the bundled dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli

DATASET = REPO / "tests" / "data" / "locomo_mini.json"
KS = (5, 10, 20)


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    """One full run with baselines (the slow part, shared by the assertions below)."""
    result = run_cli(
        "bench", "retrieval", "--dataset", str(DATASET), "--json", "--baselines", timeout=600
    )
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)  # stdout holds one JSON document, nothing else
    assert isinstance(doc, dict)
    return doc


def _check_scores(scores: object) -> None:
    assert isinstance(scores, dict)
    keys = {"n", *(f"{m}@{k}" for m in ("recall", "hit") for k in KS)}
    assert set(scores) == keys
    assert isinstance(scores["n"], int) and scores["n"] > 0
    for key in keys - {"n"}:
        assert isinstance(scores[key], float) and 0.0 <= scores[key] <= 1.0


def test_json_report_keys_and_types(report: dict[str, object]) -> None:
    assert {"overall", "by_category", "latency_ms", "ingest_s", "skipped", "baselines"} <= set(
        report
    )
    _check_scores(report["overall"])
    by_category = report["by_category"]
    assert isinstance(by_category, dict) and set(by_category) == {"1", "2", "3", "4", "5"}
    for scores in by_category.values():
        _check_scores(scores)
    assert sum(s["n"] for s in by_category.values()) == report["overall"]["n"]  # type: ignore[index]
    latency = report["latency_ms"]
    assert isinstance(latency, dict) and set(latency) == {"p50", "p95"}
    assert 0 < latency["p50"] <= latency["p95"]
    assert isinstance(report["ingest_s"], float) and report["ingest_s"] > 0
    # the dataset carries messy evidence on purpose
    assert report["skipped"] == {"evidence_id_unknown": 2, "qa_no_evidence": 1}


def test_full_pipeline_beats_every_baseline_at_recall_10(report: dict[str, object]) -> None:
    baselines = report["baselines"]
    assert isinstance(baselines, dict) and set(baselines) == {"bm25", "dense", "rrf"}
    full = report["overall"]["recall@10"]  # type: ignore[index]
    for mode, scores in baselines.items():
        _check_scores(scores)
        assert scores["n"] == report["overall"]["n"]  # type: ignore[index]
        assert full > scores["recall@10"], f"full {full} <= {mode} {scores['recall@10']}"


def test_table_output_and_home_untouched(tmp_path: Path, isolated_home: Path) -> None:
    tiny = tmp_path / "tiny.json"
    data = json.loads(DATASET.read_text())[:1]
    tiny.write_text(json.dumps(data))
    result = run_cli("bench", "retrieval", "--dataset", str(tiny), "--k", "3,10", timeout=300)
    assert result.code == 0, result.stderr
    for text in ("recall@3", "recall@10", "hit@10", "full", "latency", "skipped"):
        assert text in result.stdout
    assert "bm25" not in result.stdout  # no baselines unless asked
    assert not isolated_home.exists() or not any(isolated_home.rglob("*.duckdb"))


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, (), "does not exist"),
        ("{not json", (), "is not JSON"),
        ('{"samples": []}', (), "must be a JSON array of samples"),
        ("[]", ("--k", "5,ten"), "--k must be comma-separated integers"),
    ],
)
def test_bad_input_is_one_error_line(
    tmp_path: Path, content: str | None, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "dataset.json"
    if content is not None:
        path.write_text(content)
    result = run_cli("bench", "retrieval", "--dataset", str(path), *args)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cephalon: error:") and message in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
