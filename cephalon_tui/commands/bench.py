"""``cephalon bench``: measure Cephalon's own parts (retrieval quality for now)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import TaskID
from rich.table import Table

from cephalon_tui.engine_access import configure_cli_logging, progress_bar
from cephalon_tui.output import console, print_json
from engine.errors import CephalonError
from engine.factory import build_embedder
from engine.memory.eval_dataset import CATEGORY_NAMES, load_dataset
from engine.memory.evaluation import RetrievalReport, evaluate_retrieval
from engine.memory.rerank import Reranker

app = typer.Typer(
    help="Benchmarks: retrieval quality on a conversation dataset.", no_args_is_help=True
)
MAX_K = 200


def parse_ks(text: str) -> list[int]:
    """Read ``--k``: comma-separated positive cut-offs.

    Args:
        text: e.g. ``"5,10,20"``.

    Returns:
        The cut-offs, sorted, without duplicates.

    Raises:
        CephalonError: a part is not an integer in 1..200, or there is none.
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(p.isdigit() and 1 <= int(p) <= MAX_K for p in parts):
        raise CephalonError(
            f"--k must be comma-separated integers from 1 to {MAX_K}, like 5,10,20 (not {text!r})"
        )
    return sorted({int(p) for p in parts})


RETRIEVAL_HELP = (
    "Recall@k and hit@k of memory search on conversations with known evidence.\n\n"
    'Each sample\'s turns are stored as memories, text "<speaker>: <text>" with the '
    "session date as event time, in a fresh temporary store (your data dir is never "
    "touched). Every question with evidence is searched within its own sample, as of one "
    "day after the sample's last session, and scored against its evidence turns: recall@k "
    "is the share of them in the top k, hit@k whether any is.\n\n"
    "Retrieval is read-only (mutate=False) and the activation noise uses a fixed seed "
    "(--seed), so a run is deterministic. Baselines search the very same stored memories. "
    "Unusable entries (unknown evidence ids, questions without evidence, empty "
    "conversations, unreadable dates) are skipped and counted by reason."
)


@app.command("retrieval", help=RETRIEVAL_HELP)
def retrieval(
    ctx: typer.Context,
    dataset: Path = typer.Option(
        ..., "--dataset", help="JSON in the LoCoMo layout (a list of {conversation, qa})."
    ),
    k: str = typer.Option("5,10,20", "--k", help="Cut-offs for recall@k and hit@k."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    baselines: bool = typer.Option(
        False, "--baselines", help="Also rank by BM25, dense and RRF(BM25, dense) alone."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the activation-noise RNG."),
) -> None:
    """Recall@k and hit@k of memory search (see ``RETRIEVAL_HELP``)."""
    ks = parse_ks(k)
    data = load_dataset(dataset)
    state = ctx.obj
    settings = state.settings
    policy = state.policy.policy
    configure_cli_logging(settings)
    embedder = build_embedder(settings, policy)
    with progress_bar() as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = "ingesting turns" if stage == "ingest" else "querying"
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done)

        result = evaluate_retrieval(
            data,
            embedder,
            policy,
            ks=ks,
            baselines=baselines,
            seed=seed,
            reranker=Reranker(settings.reranker_dir),
            progress=report,
        )
    if as_json:
        print_json(result.to_json())
        return
    _print_tables(dataset, result)


def _row(label: str, scores: dict[str, Any], ks: tuple[int, ...]) -> list[str]:
    values = [f"{scores[f'recall@{k}']:.3f}" for k in ks] + [
        f"{scores[f'hit@{k}']:.3f}" for k in ks
    ]
    return [label, str(scores["n"]), *values]


def _print_tables(path: Path, result: RetrievalReport) -> None:
    ks = result.ks
    doc = result.to_json()
    headers = ["mode", "n", *(f"recall@{k}" for k in ks), *(f"hit@{k}" for k in ks)]
    console.print(
        f"[bold]retrieval[/] on {path}: {result.samples} samples, {result.memories} memories"
    )
    table = Table(*headers)
    table.add_row(*_row("full", doc["overall"], ks), style="bold")
    for mode, scores in doc.get("baselines", {}).items():
        table.add_row(*_row(mode, scores, ks))
    console.print(table)
    by_cat = Table("category", *headers[1:], title="full pipeline by category")
    for category, scores in doc["by_category"].items():
        name = CATEGORY_NAMES.get(category)
        by_cat.add_row(*_row(f"{category} {name}" if name else category, scores, ks))
    console.print(by_cat)
    latency = doc["latency_ms"]
    console.print(
        f"ingest {doc['ingest_s']:.2f} s; query latency p50 {latency['p50']:.1f} ms, "
        f"p95 {latency['p95']:.1f} ms (full pipeline, query embedding included)"
    )
    skipped = doc["skipped"]
    if skipped:
        console.print(
            "[yellow]skipped[/]: " + ", ".join(f"{reason} {n}" for reason, n in skipped.items())
        )
