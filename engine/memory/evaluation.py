"""Retrieval evaluation on conversations in the LoCoMo layout: recall@k and hit@k.

For each sample every turn becomes a memory (``"<speaker>: <text>"``, kind
``message``, its session date as event time) in a fresh temporary store, never the
user's. Each question with evidence is then searched in that sample only
(``allowed=`` its memory ids) and scored against its evidence turns:

- recall@k: the share of the evidence turns among the top k;
- hit@k: 1 when at least one evidence turn is among the top k.

Both are averaged over questions, overall and per category. The full pipeline and the
baselines (``bm25``, ``dense``, ``rrf``) search the same stored memories. Retrieval is
read-only (``mutate=False``) and the activation noise comes from an RNG with a fixed
seed, so a run is deterministic. Questions are asked as of one day after a sample's
last session (:data:`QUESTION_DELAY`), as when a user comes back to an old chat.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.memory.embed import Embedder
from engine.memory.eval_dataset import Dataset, QAItem, Sample
from engine.memory.eval_metrics import ModeScores, percentiles, score_ranking
from engine.memory.records import NewMemory
from engine.memory.rerank import Reranker
from engine.memory.search import Mode
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import Store

BASELINES: tuple[Mode, ...] = ("bm25", "dense", "rrf")
"""Single-stage rankings the full pipeline is compared with."""
QUESTION_DELAY = timedelta(days=1)
"""Questions are asked this long after a sample's last session."""
UNDATED_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
"""The evaluation clock for a sample without any readable session date."""
INGEST_BATCH = 64
"""Turns stored (and embedded) per call."""
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; stages are ``ingest`` and ``query``."""


class EvalClock:
    """A clock the harness sets per sample (the time questions are asked)."""

    def __init__(self, start: datetime = UNDATED_NOW) -> None:
        self.current = start

    def now(self) -> datetime:
        """The time set last."""
        return self.current


@dataclass
class RetrievalReport:
    """What one evaluation run measured."""

    ks: tuple[int, ...]
    full: ModeScores = field(default_factory=ModeScores)
    baselines: dict[str, ModeScores] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    """Full-pipeline query latencies (query embedding included)."""
    ingest_s: float = 0.0
    """Wall time to store and embed every turn."""
    skipped: dict[str, int] = field(default_factory=dict)
    """What the dataset reader dropped, by reason."""
    samples: int = 0
    memories: int = 0
    seed: int = 0

    def latency(self) -> dict[str, float]:
        """p50 and p95 of the full pipeline's query latency (embedding included), ms."""
        return percentiles(self.latencies_ms)

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON object (``overall``, ``by_category``, ``latency_ms``,
        ``ingest_s``, ``skipped``, and ``baselines`` when they were run)."""
        out: dict[str, Any] = {
            "overall": self.full.overall(self.ks),
            "by_category": self.full.by_category(self.ks),
            "latency_ms": self.latency(),
            "ingest_s": round(self.ingest_s, 3),
            "skipped": dict(sorted(self.skipped.items())),
            "samples": self.samples,
            "memories": self.memories,
            "seed": self.seed,
        }
        if self.baselines:
            out["baselines"] = {m: s.overall(self.ks) for m, s in self.baselines.items()}
        return out


def _question_time(sample: Sample) -> datetime:
    dates = [t.event_ts for t in sample.turns if t.event_ts is not None]
    return max(dates) + QUESTION_DELAY if dates else UNDATED_NOW


def _memories(sample: Sample) -> list[NewMemory]:
    channel = f"bench:{sample.sample_id}"
    return [
        NewMemory(
            kind="message",
            content=turn.content,
            source="bench",
            channel_id=channel,
            author_id=turn.speaker,
            source_meta={"dia_id": turn.dia_id, "session": turn.session},
            event_ts=turn.event_ts,
        )
        for turn in sample.turns
    ]


def evaluate_retrieval(
    dataset: Dataset,
    embedder: Embedder,
    policy: Policy,
    *,
    ks: Sequence[int] = (5, 10, 20),
    baselines: bool = False,
    seed: int = 0,
    reranker: Reranker | None = None,
    progress: Progress | None = None,
) -> RetrievalReport:
    """Ingest every sample into a temporary store and score retrieval of its evidence.

    Args:
        dataset: parsed samples (see :mod:`engine.memory.eval_dataset`).
        embedder: the sentence embedder (the same for every mode).
        policy: the retrieval policy under test.
        ks: cut-offs (positive).
        baselines: also rank with ``bm25``, ``dense`` and ``rrf``.
        seed: seed of the activation-noise RNG.
        reranker: the cross-encoder the full pipeline may use (None: no rerank).
        progress: called as ``progress(stage, done, total)``.

    Returns:
        The scores, latencies, ingest time and skip counts.

    Raises:
        ValueError: ``ks`` is empty or holds a non-positive cut-off.
    """
    cutoffs = tuple(sorted(set(ks)))
    if not cutoffs or cutoffs[0] < 1:
        raise ValueError(f"cut-offs must be positive integers, not {list(ks)}")
    modes: list[Mode] = ["full", *(BASELINES if baselines else ())]
    report = RetrievalReport(
        cutoffs,
        baselines={m: ModeScores() for m in modes[1:]},
        skipped=dict(dataset.skipped),
        samples=len(dataset.samples),
        seed=seed,
    )
    clock = EvalClock()
    with (
        tempfile.TemporaryDirectory(prefix="cephalon-bench-") as tmp,
        Store(Path(tmp) / "bench.duckdb", clock=clock) as store,
    ):
        memory = MemoryService(
            store, embedder, policy, clock, Path(tmp) / "index", reranker=reranker, seed=seed
        )
        ids = _ingest(memory, clock, dataset.samples, report, progress)
        _query(memory, clock, dataset.samples, ids, modes, report, progress)
    return report


def _ingest(
    memory: MemoryService,
    clock: EvalClock,
    samples: Sequence[Sample],
    report: RetrievalReport,
    progress: Progress | None,
) -> list[dict[int, str]]:
    total = sum(len(s.turns) for s in samples)
    done = 0
    started = time.perf_counter()
    by_sample: list[dict[int, str]] = []
    for sample in samples:
        clock.current = _question_time(sample)
        items = _memories(sample)
        mapping: dict[int, str] = {}
        for start in range(0, len(items), INGEST_BATCH):
            batch = sample.turns[start : start + INGEST_BATCH]
            stored = memory.add(items[start : start + INGEST_BATCH])
            mapping.update(zip(stored, (t.dia_id for t in batch), strict=True))
            done += len(batch)
            if progress:
                progress("ingest", done, total)
        by_sample.append(mapping)
    report.ingest_s = time.perf_counter() - started
    report.memories = done
    return by_sample


def _query(
    memory: MemoryService,
    clock: EvalClock,
    samples: Sequence[Sample],
    ids: Sequence[dict[int, str]],
    modes: Sequence[Mode],
    report: RetrievalReport,
    progress: Progress | None,
) -> None:
    total = sum(len(s.qa) for s in samples)
    k = max(report.ks)
    done = 0
    for sample, mapping in zip(samples, ids, strict=True):
        clock.current = _question_time(sample)
        allowed = sorted(mapping)
        for item in sample.qa:
            for mode in modes:
                ranked, ms = _ranked(memory, item, k, mode, allowed, mapping)
                scores = score_ranking(ranked, item.evidence, report.ks)
                if mode == "full":
                    report.latencies_ms.append(ms)
                    report.full.add(item.category, scores)
                else:
                    report.baselines[mode].add(item.category, scores)
            done += 1
            if progress:
                progress("query", done, total)


def _ranked(
    memory: MemoryService,
    item: QAItem,
    k: int,
    mode: Mode,
    allowed: list[int],
    mapping: dict[int, str],
) -> tuple[list[str], float]:
    t0 = time.perf_counter()
    result = memory.search(item.question, k, mode=mode, allowed=allowed, mutate=False)
    ms = (time.perf_counter() - t0) * 1000
    return [mapping[h.id] for h in result.hits if h.id in mapping], ms
