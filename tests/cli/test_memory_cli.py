"""``cephalon memory`` as a user runs it, including a kill -9 during an import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.clock import SystemClock
from engine.config import load_policy
from engine.memory.embed_onnx import OnnxMiniLMEmbedder
from engine.memory.service import MemoryService
from engine.store import Store
from tests.helpers import REPO, run_cli


def test_add_search_explain_show_pin_forget(isolated_home: Path) -> None:
    for text, kind in [
        ("My cat is called Biscuit", "fact"),
        ("The operator likes short answers", "preference"),
        ("Paris is the capital of France", "fact"),
    ]:
        assert run_cli("memory", "add", text, "--kind", kind).code == 0
    explained = run_cli("memory", "search", "what is my pet called", "--explain")
    assert explained.code == 0, explained.stderr
    first = explained.stdout.splitlines()[0]
    assert "#1" in first and "Biscuit" in first
    for field in (
        "bm25 rank",
        "ann rank",
        "rrf",
        "rerank",
        "activation",
        "weight mean",
        "recency",
        "final",
    ):
        assert field in explained.stdout

    payload = json.loads(run_cli("memory", "search", "capital of France", "--json").stdout)
    assert payload["query"] == "capital of France"
    top = payload["results"][0]
    assert top["id"] == 3 and top["kind"] == "fact" and "Paris" in top["content"]
    keys = set(top["explain"])
    assert {
        "bm25_rank",
        "bm25_score",
        "ann_rank",
        "ann_similarity",
        "rrf",
        "rerank",
        "activation",
        "weight_mean",
        "weight_variance",
        "recency",
    } <= keys

    shown = json.loads(run_cli("memory", "show", "2", "--json").stdout)
    assert shown["kind"] == "preference" and shown["pinned"] is False
    assert run_cli("memory", "pin", "2").code == 0
    assert json.loads(run_cli("memory", "show", "2", "--json").stdout)["pinned"] is True
    assert run_cli("memory", "forget", "1").code == 0
    after = json.loads(run_cli("memory", "search", "cat Biscuit", "--json").stdout)
    assert 1 not in [r["id"] for r in after["results"]]
    missing = run_cli("memory", "forget", "1")
    assert missing.code == 2 and "no live memory with id 1" in missing.stderr
    bad = run_cli("memory", "search", "x", "--mode", "magic")
    assert bad.code == 2 and "--mode" in bad.stderr


def test_import_reports_bad_lines(isolated_home: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"text": "first memory", "kind": "episodic", "ts": "2025-03-01T10:00:00"}\n'
        "not json\n"
        '{"kind": "fact"}\n'
        '{"text": "second memory", "ts": 1700000000, "source": "notes"}\n'
    )
    result = run_cli("memory", "import", str(source))
    assert result.code == 0, result.stderr
    assert "imported 2 memories" in result.stdout
    assert "skipped 2 bad lines" in result.stdout and "line 2" in result.stdout
    shown = json.loads(run_cli("memory", "show", "1", "--json").stdout)
    assert shown["kind"] == "episodic" and shown["event_ts"].startswith("2025-03-01T10:00")


def test_kill_9_during_import_loses_nothing_committed(isolated_home: Path, tmp_path: Path) -> None:
    lines = [
        f"note {i}: the {['red', 'green', 'blue'][i % 3]} box number {i} holds item {i * 7 % 101}"
        for i in range(3000)
    ]
    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in lines))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cephalon_tui", "memory", "import", str(source), "--batch", "100"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = isolated_home / "logs" / "cephalon.log"
    reported = 0
    deadline = time.monotonic() + 120
    while reported < 300:
        assert time.monotonic() < deadline and proc.poll() is None, "import ended too early"
        if log.exists():
            counts = [
                json.loads(x)["imported"]
                for x in log.read_text().splitlines()
                if "import batch committed" in x
            ]
            reported = max(counts, default=0)
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    clock = SystemClock()
    with Store(isolated_home / "cephalon.duckdb", clock=clock) as store:
        svc = MemoryService(
            store,
            OnnxMiniLMEmbedder(intra_op_threads=1),
            load_policy().policy,
            clock,
            isolated_home / "index",
        )
        report = svc.open()
        rows = store.reader().execute("SELECT id, content FROM memories ORDER BY id").fetchall()
        count = len(rows)
        assert count >= reported and count % 100 == 0 and count < len(lines)
        assert [r[1] for r in rows] == lines[:count]  # every committed batch, no partial one
        assert report.rebuilt  # the index on disk (if any) predates the last batches
        assert report.vectors == count == svc.repo.count_vectors(svc.embedder.name)
        for memory_id, text in rows[:: max(1, count // 25)]:
            assert svc.search(text, 5, mutate=False, noise=False).hits[0].id == memory_id
