"""``cephalon ingest``: (being built in session 2)."""

from __future__ import annotations

import typer

from engine.errors import CephalonError

app = typer.Typer(help="ingest (being built).", no_args_is_help=True)


@app.command("placeholder", hidden=True)
def placeholder() -> None:
    """Not built yet."""
    raise CephalonError("cephalon ingest is not built yet")
