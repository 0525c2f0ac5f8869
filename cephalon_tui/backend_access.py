"""Reaching the engine through a running daemon's control socket.

A running daemon holds DuckDB's file lock: no other process can open the
database, not even read-only. Commands ask here first; when a daemon owns the
data dir they talk to it over ``<home>/control.sock``, otherwise they open the
file themselves (read-only commands with ``read_only=True``, so several can run
at once).

Usage in a read command::

    with read_backend(ctx.obj) as backend:
        if backend is not None:
            rows = backend.turns(limit)        # through the daemon
            return render(rows)
    ...open the database read-only as before...
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
import typer

from cephalon_tui.engine_access import configure_cli_logging
from cephalon_tui.output import console
from cephalon_tui.state import CliState
from engine.control import RemoteBackend, connect_if_daemon
from engine.errors import CephalonError, PolicyError
from engine.policy.runtime import DaemonSection


def _client_config(state: CliState) -> DaemonSection | None:
    try:
        return state.policy.policy.engine.daemon
    except PolicyError:  # a broken user policy must not keep us from the daemon
        return None


def daemon_backend(state: CliState) -> RemoteBackend | None:
    """A connected client of the daemon that owns the data dir, or None when none runs.

    Args:
        state: the CLI state (``--home``, the policy's ``engine.daemon`` limits).

    Returns:
        The client (close it when done), or None.

    Raises:
        CephalonError: a daemon runs but cannot be used (permission denied, another
            protocol version, its socket never answered).
    """
    data_dir = state.settings.data_dir
    if not data_dir.daemon_may_run:
        return None
    if not structlog.is_configured():  # the client logs; never onto the terminal
        configure_cli_logging(state.settings)
    return connect_if_daemon(data_dir, _client_config(state))


@contextmanager
def read_backend(state: CliState) -> Iterator[RemoteBackend | None]:
    """:func:`daemon_backend` as a context manager that disconnects on exit.

    Args:
        state: the CLI state.

    Yields:
        The daemon's backend, or None when no daemon runs (open the file yourself).

    Raises:
        CephalonError: as :func:`daemon_backend`.
    """
    backend = daemon_backend(state)
    try:
        yield backend
    finally:
        if backend is not None:
            backend.close()


def require_daemon(state: CliState) -> RemoteBackend:
    """The daemon's backend, or a one-line error saying how to start one.

    Raises:
        CephalonError: no daemon runs on the data dir (or it cannot be used).
    """
    backend = daemon_backend(state)
    if backend is None:
        raise CephalonError(
            f"no daemon runs on {state.settings.data_dir.root}; start one with `cephalon --daemon`"
        )
    return backend


def offer_attach(state: CliState, run: Callable[[RemoteBackend], None]) -> bool:
    """When a daemon owns the data dir: say so and, on a terminal, offer to attach.

    Args:
        state: the CLI state.
        run: what attaching means (the TUI, the chat REPL); called with the client.

    Returns:
        False when no daemon runs (go on and open the data dir); True when one does
        (attached and detached again, or the user said no).

    Raises:
        CephalonError: a daemon runs and there is no terminal to ask on.
    """
    backend = daemon_backend(state)
    if backend is None:
        return False
    try:
        pid = backend.server_info.get("pid", "?")
        root = state.settings.data_dir.root
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise CephalonError(
                f"a daemon (pid {pid}) owns {root}; use `cephalon attach` "
                "(or `cephalon chat --once TEXT`)"
            )
        console.print(f"a daemon (pid {pid}) owns {root}: its database is locked while it runs.")
        if typer.confirm("Attach to it?", default=False):
            run(backend)
        else:
            console.print("not attached; `cephalon attach` connects later")
        return True
    finally:
        backend.close()
