"""``cephalon attach``: the console against a running daemon, over its control socket.

Detaching (quitting the console) closes only the connection: the daemon, its
loop and any turn in flight go on. ``cephalon chat`` comes here too when a daemon
owns the data dir (:func:`chat_via_daemon`).
"""

from __future__ import annotations

import os
import queue
import sys
from typing import Any

import typer

from cephalon_tui.backend_access import offer_attach, require_daemon
from cephalon_tui.output import console, print_json
from cephalon_tui.state import CliState
from engine.control import RemoteBackend
from engine.errors import CephalonError
from engine.signals import EngineState, LlmDelta, Signal, TurnCommitted, TurnStarted


def open_console(backend: RemoteBackend, theme: str | None = None) -> None:
    """Run the Textual console on a connected daemon until the operator quits (detaches).

    Args:
        backend: the daemon's client (the caller closes it; the daemon keeps running).
        theme: a theme name (default: ``$CEPHALON_THEME``, else the default theme).
    """
    from cephalon_tui.app import CephalonApp

    CephalonApp(backend, theme=theme or os.environ.get("CEPHALON_THEME") or None).run()


def attach(
    ctx: typer.Context,
    plain: bool = typer.Option(False, "--plain", help="The plain chat REPL instead of the TUI."),
    theme: str | None = typer.Option(None, "--theme", help="A console theme name."),
) -> None:
    """Open the console on the daemon that owns the data dir (`cephalon --daemon`).

    Quitting the console (ctrl+q) detaches; the daemon keeps running. Without a
    terminal (piped input) the plain chat REPL is used.
    """
    state: CliState = ctx.obj
    backend = require_daemon(state)
    try:
        if plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
            from cephalon_tui.chat_repl import ChatRepl

            ChatRepl(backend).run()
        else:
            open_console(backend, theme)
    finally:
        backend.close()


def chat_via_daemon(state: CliState, once: str | None, as_json: bool) -> bool:
    """``cephalon chat`` when a daemon owns the data dir (its file is locked).

    With ``--once`` the message goes through the daemon and its reply is printed;
    otherwise, on a terminal, the user is offered to attach the chat to it.

    Args:
        state: the CLI state.
        once: the ``--once`` message, if any.
        as_json: print the turn as JSON (with ``--once``).

    Returns:
        True when a daemon handled it (the caller must not open the data dir).

    Raises:
        CephalonError: a daemon runs but cannot be used, the message is empty, or
            there is no terminal to ask on.
    """
    if once is None:
        from cephalon_tui.chat_repl import ChatRepl

        return offer_attach(state, lambda backend: ChatRepl(backend).run())
    if not once.strip():
        raise CephalonError("--once needs a non-empty message")
    from cephalon_tui.backend_access import daemon_backend

    backend = daemon_backend(state)
    if backend is None:
        return False
    try:
        send_once(backend, once, as_json, timeout_s=backend.channel.request_timeout_s)
    finally:
        backend.close()
    return True


def send_once(backend: RemoteBackend, text: str, as_json: bool, timeout_s: float) -> None:
    """Queue one message on the daemon and print its reply when the turn commits.

    Raises:
        CephalonError: the daemon went away, is paused, or no reply came in time.
        typer.Exit: with ``--json``, code 1 when the turn did not commit.
    """
    streaming = not as_json and sys.stdout.isatty()
    signals: queue.Queue[Signal] = queue.Queue()
    unsubscribe = backend.subscribe(signals.put)
    try:
        candidate = backend.submit(text)
        if backend.status().get("state") == "paused":
            raise CephalonError(
                f"the daemon is paused: message {candidate} is queued and will be answered "
                "on resume (`cephalon attach`, /resume)"
            )
        turn_id: int | None = None
        committed: TurnCommitted | None = None
        while committed is None:
            try:
                signal = signals.get(timeout=timeout_s)
            except queue.Empty:
                raise CephalonError(f"no reply within {timeout_s:.0f} s") from None
            if isinstance(signal, EngineState) and signal.state == "disconnected":
                raise CephalonError(f"the daemon went away before answering: {signal.detail}")
            if isinstance(signal, TurnStarted) and signal.candidate_id == candidate:
                turn_id = signal.turn_id
            elif streaming and isinstance(signal, LlmDelta) and signal.turn_id == turn_id:
                sys.stdout.write(signal.text)
                sys.stdout.flush()
            elif isinstance(signal, TurnCommitted) and turn_id and signal.turn_id == turn_id:
                committed = signal
    finally:
        unsubscribe()
    assert turn_id is not None
    try:
        record = backend.turn(turn_id)
    except CephalonError:  # e.g. the daemon stopped right after the commit
        record = {"id": turn_id}
    _show_committed(record, committed, as_json, streaming)


def _show_committed(
    record: dict[str, Any], done: TurnCommitted, as_json: bool, streamed: bool
) -> None:
    if as_json:
        results = record.get("llm_results") or [{}]
        print_json(
            {
                "turn_id": record["id"],
                "reply": done.output,
                "provider": results[-1].get("provider"),
                "model": results[-1].get("model"),
                "tokens_in": sum((r.get("usage") or {}).get("tokens_in", 0) for r in results),
                "tokens_out": sum((r.get("usage") or {}).get("tokens_out", 0) for r in results),
                "latency_ms": done.latency_ms,
                "status": done.status,
                "stop_reason": done.stop_reason,
                "error": record.get("error"),
                "context": record.get("context", []),
                "tool_calls": record.get("tool_calls", []),
                "via": "daemon",
            }
        )
        if done.status != "committed":
            raise typer.Exit(1)
        return
    if done.output is None:
        console.print(f"[yellow]no reply ({done.stop_reason}): {record.get('error')}[/]")
    elif streamed:
        sys.stdout.write("\n")
    else:
        console.print(done.output, markup=False)
