"""``cephalon ingest``: import other systems' histories into the event log, offline."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from cephalon_tui.engine_access import configure_cli_logging, open_memory, progress_bar
from cephalon_tui.output import console, print_json
from cephalon_tui.state import CliState
from engine.ingest import DiscordExport, IngestReport, ingest_export, load_export
from engine.janitor import AggregateReport, Aggregator
from engine.store import Store

app = typer.Typer(
    help="Import histories (DiscordChatExporter JSON) as events, offline.", no_args_is_help=True
)


def _import(export: DiscordExport, batch: int, store: Store) -> IngestReport:
    with progress_bar() as bar:
        task = bar.add_task(f"importing #{export.channel_name or export.channel_id}", total=None)
        return ingest_export(
            store,
            export,
            batch=batch,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )


def _aggregate(aggregator: Aggregator) -> AggregateReport:
    with progress_bar() as bar:
        task = bar.add_task("aggregating bot spam", total=None)
        return aggregator.process_pending(
            progress=lambda done, total: bar.update(task, completed=done, total=total)
        )


@app.command("discord-export")
def discord_export(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A DiscordChatExporter JSON export (one channel)."),
    aggregate: bool = typer.Option(
        False,
        "--aggregate",
        help="Then fingerprint the new messages and collapse bot spam into aggregate memories.",
    ),
    batch: int = typer.Option(2000, "--batch", min=1, max=100_000, help="Messages per commit."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Import a DiscordChatExporter JSON export as discord.message.created events.

    Idempotent: messages already in the log (same channel and message id) are
    skipped, so importing the same file twice adds nothing.
    """
    state: CliState = ctx.obj
    export = load_export(file.expanduser())  # a bad file fails before the data dir is touched
    state.settings.data_dir.ensure_writable()
    configure_cli_logging(state.settings)
    result: dict[str, Any] = {}
    if aggregate:
        with open_memory(state) as memory:
            report = _import(export, batch, memory.store)
            aggregator = Aggregator(memory.store, memory, state.policy.policy, memory.clock)
            result["aggregate"] = asdict(_aggregate(aggregator))
    else:
        with Store(state.settings.data_dir.db_path) as store:
            report = _import(export, batch, store)
    result["import"] = asdict(report)
    if as_json:
        print_json(result)
        return
    where = f"#{report.channel_name}" if report.channel_name else f"channel {report.channel_id}"
    guild = f" ({report.guild_name})" if report.guild_name else ""
    console.print(
        f"imported {report.added} new messages from {where}{guild}; "
        f"{report.already_present} already present, {report.messages} in the file"
    )
    if aggregate:
        agg = result["aggregate"]
        console.print(
            f"aggregated {agg['events_seen']} messages ({agg['bot_events']} from bots): "
            f"{agg['duplicates_collapsed']} duplicates in {agg['families_touched']} spam "
            f"families; aggregates {agg['aggregates_created']} created, "
            f"{agg['aggregates_updated']} updated"
        )
