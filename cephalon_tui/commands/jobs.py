"""``cephalon jobs``: (being built in session 2)."""

from __future__ import annotations

import typer

from engine.errors import CephalonError

app = typer.Typer(help="jobs (being built).", no_args_is_help=True)


@app.command("placeholder", hidden=True)
def placeholder() -> None:
    """Not built yet."""
    raise CephalonError("cephalon jobs is not built yet")
