"""``cephalon turns``, ``replay`` and ``reconstitute`` (being built in session 2)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Recorded turns.", no_args_is_help=True)
