"""``cephalon turns list``, ``cephalon replay TURN_ID`` and ``cephalon reconstitute``."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cephalon_tui.backend_access import read_backend
from cephalon_tui.engine_access import configure_cli_logging, progress_bar, stage_reporter
from cephalon_tui.output import console, print_json
from cephalon_tui.state import CliState
from engine.factory import build_tool_registry
from engine.replay import ReplayDeps, replay_turn
from engine.store import Store
from engine.turns_query import get_turn, list_turns

app = typer.Typer(help="Recorded turns: list them (replay one with `cephalon replay`).")


@app.command("list")
def list_command(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Show at most N turns."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """Recorded turns, newest first: id, start time, status, input and output."""
    state: CliState = ctx.obj
    with read_backend(state) as remote:
        if remote is not None:
            rows = remote.turns(limit)
        else:
            state.settings.data_dir.ensure_readable()
            with Store(state.settings.data_dir.db_path, read_only=True) as store:
                rows = list_turns(store.reader(), limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("[dim]no turns yet: `cephalon chat` starts one[/]")
        return
    table = Table("id", "started", "status", "input", "output")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["started_at"])[:19],
            str(row["status"]),
            _short(row["input"]),
            _short(row["output"]),
        )
    console.print(table)


def _short(text: object, width: int = 48) -> str:
    value = "" if text is None else " ".join(str(text).split())
    return value if len(value) <= width else value[: width - 1] + "…"


def replay(
    ctx: typer.Context,
    turn_id: int = typer.Argument(..., help="The turn to replay (see `cephalon turns list`)."),
    live: bool = typer.Option(
        False, "--live", help="Re-run against the current provider and memory (what-if)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Re-run a recorded turn with no side effects and say whether the output matches.

    By default the turn's recorded model replies and tool results are replayed, so
    the output must match exactly; --live asks the current model instead.
    """
    state: CliState = ctx.obj
    with read_backend(state) as remote:
        if remote is not None:
            result = remote.replay(turn_id, live)
        elif live:
            result = _replay_live(state, turn_id)
        else:
            result = _replay_recorded(state, turn_id)
    if as_json:
        print_json(
            {k: result[k] for k in ("turn_id", "match", "original", "replayed", "diff")}
            | {"mode": result["mode"], "stages": result["stages"]}
        )
    else:
        _print_replay(result)
    if not result["match"] and not live:
        raise typer.Exit(1)


def _replay_recorded(state: CliState, turn_id: int) -> dict[str, Any]:
    state.settings.data_dir.ensure_readable()
    with Store(state.settings.data_dir.db_path, read_only=True) as store:
        record = get_turn(store.reader(), turn_id)
        registry = build_tool_registry(state.policy.policy)
        deps = ReplayDeps(store, registry, state.policy.policy, store.clock)
        return replay_turn(deps, record)


def _replay_live(state: CliState, turn_id: int) -> dict[str, Any]:
    from engine.backend_local import LocalBackend
    from engine.engine import Engine

    state.settings.data_dir.ensure_writable()
    configure_cli_logging(state.settings)
    with progress_bar() as bar:
        engine = Engine(
            state.settings, state.policy.policy, progress=stage_reporter(bar, "preparing")
        )
    backend = LocalBackend(engine, state.policy)
    try:
        return backend.replay(turn_id, live=True)
    finally:
        backend.close()


def _print_replay(result: dict[str, Any]) -> None:
    verdict = "[green]match[/]" if result["match"] else "[red]differs[/]"
    console.print(f"turn {result['turn_id']} ({result['mode']} replay): {verdict}")
    table = Table("stage", "match", "original", "replayed")
    for stage in result["stages"]:
        table.add_row(
            stage["stage"],
            "✓" if stage["match"] else "✗",
            _short(stage["original"], 40),
            _short(stage["replayed"], 40),
        )
    console.print(table)
    if result["diff"]:
        console.print(result["diff"], markup=False, highlight=False)


def reconstitute(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Rebuild everything derived from the database (vector index, caches, missing
    vectors), close out what a crash left in flight, and report what was off."""
    from engine.factory import build_memory
    from engine.reconstitute import reconstitute as run

    state: CliState = ctx.obj
    settings = state.settings
    settings.data_dir.ensure_writable()
    configure_cli_logging(settings)
    with Store(settings.data_dir.db_path) as store:
        memory = build_memory(settings, state.policy.policy, store)
        try:
            with progress_bar() as bar:
                report = run(store, memory, store.clock, stage_reporter(bar, "rebuilding"))
        finally:
            memory.close()
    data = report.as_dict()
    if as_json:
        print_json(data)
        return
    table = Table("check", "found")
    for key, value in data.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)
