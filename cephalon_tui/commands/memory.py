"""``cephalon memory``: add, search (explained), show, pin, forget, import."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
import typer
from rich.table import Table

from cephalon_tui.backend_access import read_backend
from cephalon_tui.engine_access import open_memory, progress_bar
from cephalon_tui.output import console, print_json
from cephalon_tui.state import CliState
from engine.errors import CephalonError
from engine.memory.explain import Explanation, SearchHit
from engine.memory.records import NewMemory
from engine.memory.search import SearchResult

app = typer.Typer(
    help="Long-term memory: add, search, show, pin, forget, import.", no_args_is_help=True
)
MODES = ("full", "bm25", "dense", "rrf")
log = structlog.get_logger("cephalon.memory.import")


def _explain_json(hit: SearchHit) -> dict[str, Any]:
    e = hit.explain
    return {
        "bm25_rank": e.bm25_rank,
        "bm25_score": e.bm25_score,
        "ann_rank": e.ann_rank,
        "ann_similarity": e.ann_similarity,
        "rrf": round(e.rrf, 6),
        "rerank": e.rerank,
        "activation": e.activation,
        "weight_mean": e.weight_mean,
        "weight_variance": e.weight_variance,
        "weight_contested": e.weight_contested,
        "recency": e.recency,
        "co_access": e.co_access,
        "source_factor": e.source_factor,
        "final": e.final,
        "cut": e.cut,
    }


@app.command("add")
def add(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="What to remember."),
    kind: str = typer.Option("fact", "--kind", help="fact, preference, episodic, procedure..."),
    pin: bool = typer.Option(False, "--pin", help="Pin it (never compacted)."),
) -> None:
    """Store a memory (embedded and indexed at once)."""
    if not text.strip():
        raise CephalonError("memory text is empty")
    with open_memory(ctx.obj) as memory:
        (memory_id,) = memory.add([NewMemory(kind=kind, content=text, pinned=pin, source="cli")])
    console.print(f"memory {memory_id} stored")


@app.command("search")
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=200, help="How many results."),
    explain: bool = typer.Option(False, "--explain", help="Show every signal behind each hit."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    mode: str = typer.Option("full", "--mode", help="full, or a baseline: bm25, dense, rrf."),
) -> None:
    """Hybrid search (keyword + meaning + memory dynamics); read-only."""
    if mode not in MODES:
        raise CephalonError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    with read_backend(ctx.obj) as daemon:
        if daemon is not None:  # the daemon holds the file lock: ask it
            result = _hits_from_daemon(query, mode, daemon.memory_search(query, k, mode=mode))
    if daemon is None:
        with open_memory(ctx.obj, read_only=True) as memory:
            result = memory.search(query, k, mode=mode, mutate=False)  # type: ignore[arg-type]
    if as_json:
        print_json(
            {
                "query": query,
                "results": [
                    {
                        "id": h.id,
                        "kind": h.kind,
                        "content": h.content,
                        "score": h.score,
                        "explain": _explain_json(h),
                    }
                    for h in result.hits
                ],
            }
        )
        return
    if not result.hits:
        console.print("no memories matched")
        return
    for hit in result.hits:
        console.print(
            f"[bold]{hit.rank:>2}.[/] [cyan]#{hit.id}[/] [dim]{hit.kind}[/] "
            f"score {hit.score:.4f}  {hit.content}"
        )
        if explain:
            e = hit.explain
            act = e.activation
            sim = e.ann_similarity if e.ann_similarity is not None else "-"
            console.print(
                f"     bm25 rank {e.bm25_rank or '-'} score {e.bm25_score or '-'} | ann rank "
                f"{e.ann_rank or '-'} sim {sim}"
                f" | rrf {e.rrf:.4f} | rerank {e.rerank}\n"
                f"     activation {act.get('total', 0):.3f} (base {act.get('base_level', 0):.3f}"
                f", spread {act.get('spreading', 0):.3f}, noise {act.get('noise', 0):.3f})"
                f" | weight mean {e.weight_mean:.3f} var {e.weight_variance:.4f}"
                f" | recency {e.recency:.3f} | co-access {e.co_access:.4f}"
                f" | contiguity {e.contiguity:.4f}"
                f" | source x{e.source_factor} | final {e.final:.4f}",
                style="dim",
            )
    if explain:
        timings = json.dumps({name: round(ms, 2) for name, ms in result.timings_ms.items()})
        console.print(f"[dim]timings ms: {timings}; rerank {result.rerank_status}[/]")


def _hits_from_daemon(query: str, mode: str, rows: list[dict[str, Any]]) -> SearchResult:
    """The daemon's search rows as a result the renderers below understand."""
    hits = [
        SearchHit(
            id=row["id"],
            kind=row["kind"],
            content=row["content"],
            score=row["score"],
            rank=row.get("rank", index),
            explain=Explanation.model_validate(row.get("explain") or {}),
        )
        for index, row in enumerate(rows, start=1)
    ]
    return SearchResult(query, mode, hits, [], rerank_status="(searched by the daemon)")  # type: ignore[arg-type]


@app.command("show")
def show(
    ctx: typer.Context,
    memory_id: int = typer.Argument(..., help="The memory's id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print one memory with all its fields."""
    with open_memory(ctx.obj, read_only=True) as memory:
        found = memory.get(memory_id)
    if found is None:
        raise CephalonError(f"no memory with id {memory_id}")
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    table = Table("field", "value", show_header=False)
    for key, value in found.model_dump(mode="json").items():
        table.add_row(key, str(value))
    console.print(table)


def _set_pin(state: CliState, memory_id: int, pinned: bool) -> None:
    with open_memory(state) as memory:
        if not memory.pin(memory_id, pinned):
            raise CephalonError(f"no live memory with id {memory_id}")
    console.print(f"memory {memory_id} {'pinned' if pinned else 'unpinned'}")


@app.command("pin")
def pin(ctx: typer.Context, memory_id: int = typer.Argument(...)) -> None:
    """Pin a memory (never compacted or forgotten by GC)."""
    _set_pin(ctx.obj, memory_id, True)


@app.command("unpin")
def unpin(ctx: typer.Context, memory_id: int = typer.Argument(...)) -> None:
    """Unpin a memory."""
    _set_pin(ctx.obj, memory_id, False)


@app.command("forget")
def forget(ctx: typer.Context, memory_id: int = typer.Argument(...)) -> None:
    """Forget a memory: tombstoned, its vector removed, never found again."""
    with open_memory(ctx.obj) as memory:
        if not memory.forget([memory_id]):
            raise CephalonError(f"no live memory with id {memory_id}")
    console.print(f"memory {memory_id} forgotten")


@app.command("reembed")
def reembed_command(ctx: typer.Context) -> None:
    """Embed memories that have no vector under the current embedding model (after a switch)."""
    from engine.memory.reembed import pending_reembed, reembed

    with open_memory(ctx.obj) as memory:
        total = len(pending_reembed(memory))
        if not total:
            console.print(f"nothing to re-embed: all memories have {memory.embedder.name} vectors")
            return
        with progress_bar() as bar:
            task = bar.add_task("re-embedding", total=total)
            done = reembed(memory, progress=lambda _s, n, _t: bar.update(task, completed=n))
    console.print(f"re-embedded {done} memories with {memory.embedder.name}")


def _parse_line(number: int, line: str) -> NewMemory:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {number}: not JSON ({exc.msg})") from None
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("text"), str)
        or not item["text"].strip()
    ):
        raise ValueError(f"line {number}: needs a non-empty string 'text'")
    ts = item.get("ts")
    event_ts = None
    if ts is not None:
        try:
            event_ts = (
                datetime.fromtimestamp(ts, UTC)
                if isinstance(ts, int | float)
                else datetime.fromisoformat(str(ts))
            )
        except (ValueError, OSError, OverflowError):
            raise ValueError(f"line {number}: bad ts {ts!r}") from None
        if event_ts.tzinfo is None:
            event_ts = event_ts.replace(tzinfo=UTC)
    return NewMemory(
        kind=str(item.get("kind") or "fact"),
        content=item["text"],
        source=str(item.get("source") or "import"),
        event_ts=event_ts,
    )


@app.command("import")
def import_jsonl(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="JSONL: one {text, kind?, ts?, source?} per line."),
    batch: int = typer.Option(256, "--batch", min=1, max=10000, help="Memories per commit."),
) -> None:
    """Import memories from JSONL; each batch commits as one transaction."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CephalonError(f"cannot read {file}: {exc}") from None
    items: list[NewMemory] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                items.append(_parse_line(number, line))
            except ValueError as exc:
                problems.append(str(exc))
    imported = 0
    with open_memory(ctx.obj) as memory, progress_bar() as bar:
        task = bar.add_task("importing", total=len(items))
        for start in range(0, len(items), batch):
            memory.add(items[start : start + batch])
            imported += len(items[start : start + batch])
            log.info("import batch committed", imported=imported, total=len(items))
            bar.update(task, completed=imported)
        memory.save_index()
    console.print(f"imported {imported} memories from {file}")
    if problems:
        console.print(
            f"[yellow]skipped {len(problems)} bad lines[/]: "
            + "; ".join(problems[:5])
            + (" ..." if len(problems) > 5 else "")
        )
