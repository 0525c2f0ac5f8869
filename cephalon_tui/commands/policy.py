"""``cephalon policy``: show, check and import policies."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from cephalon_tui.output import console, print_json
from cephalon_tui.state import CliState
from engine.config import load_policy, policy_rows
from engine.errors import PolicyError
from engine.policy_edn import import_edn_policy

app = typer.Typer(help="Show, check and import policy files.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Print the effective policy: every value and the file it came from."""
    state: CliState = ctx.obj
    rows = policy_rows(state.policy)
    if as_json:
        print_json(rows)
        return
    table = Table("key", "value", "source")
    for row in rows:
        table.add_row(str(row["key"]), repr(row["value"]), Path(str(row["source"])).name)
    console.print(table)


@app.command("check")
def check(file: Path = typer.Argument(..., help="A policy TOML to validate.")) -> None:
    """Validate a policy file against the schema (merged over the defaults)."""
    load_policy(file)
    console.print(f"[green]ok[/] {file}")


@app.command("import")
def import_edn(
    file: Path = typer.Argument(..., help="A policy in EDN (e.g. cephalon.policy.edn)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Convert an EDN policy to TOML (validated; regex literals carry over)."""
    if out is not None and out.exists() and not force:
        raise PolicyError(f"{out} exists; pass --force to overwrite it")
    imported = import_edn_policy(file)
    for note in imported.notes:
        sys.stderr.write(f"note: {note}\n")
    if out is None:
        sys.stdout.write(imported.toml)
        return
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(imported.toml, encoding="utf-8")
    tmp.replace(out)
    console.print(f"[green]wrote[/] {out}")
