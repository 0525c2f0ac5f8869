"""``cephalon attach``: the console against a running daemon (being built in session 2)."""

from __future__ import annotations

import typer

from engine.errors import CephalonError


def attach(ctx: typer.Context) -> None:
    """Open the console on the daemon that owns the data dir."""
    raise CephalonError("cephalon attach is not built yet")
