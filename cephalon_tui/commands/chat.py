"""``cephalon chat``: talk to the agent in a plain terminal (or once, for scripts)."""

from __future__ import annotations

import sys

import typer

from cephalon_tui.chat_repl import ChatRepl
from cephalon_tui.commands.attach import chat_via_daemon
from cephalon_tui.engine_access import configure_cli_logging, progress_bar, stage_reporter
from cephalon_tui.output import console, print_json
from cephalon_tui.state import CliState
from engine.backend_local import LocalBackend
from engine.engine import Engine
from engine.errors import CephalonError
from engine.gc_tuning import freeze_startup_objects
from engine.pipeline.turn import TurnOutcome
from engine.signals import LlmDelta, Signal

PROVIDERS = ("local", "ollama", "openai")


def _outcome_json(outcome: TurnOutcome) -> dict[str, object]:
    return {
        "turn_id": outcome.turn_id,
        "reply": outcome.reply,
        "provider": outcome.provider,
        "model": outcome.model,
        "tokens_in": outcome.tokens_in,
        "tokens_out": outcome.tokens_out,
        "latency_ms": outcome.latency_ms,
        "status": outcome.status,
        "stop_reason": outcome.stop_reason,
        "error": outcome.error,
        "attention": outcome.attention,
        "context": outcome.context,
        "gut": outcome.gut,
        "tool_calls": outcome.tool_calls,
        "timings_ms": outcome.timings_ms,
    }


def chat(
    ctx: typer.Context,
    once: str | None = typer.Option(None, "--once", help="Send one message, print the reply."),
    as_json: bool = typer.Option(False, "--json", help="With --once: print the turn as JSON."),
    provider: str | None = typer.Option(None, "--provider", help="local, ollama or openai."),
    base_url: str | None = typer.Option(None, "--base-url", help="Server for ollama/openai."),
    model: str | None = typer.Option(None, "--model", help="Model name (or a .gguf path)."),
) -> None:
    """Chat with the agent in a plain terminal: one turn per line, or --once TEXT.

    In the chat: /state, /cost, /why (the last context's memories), /pause, /resume,
    /unlock [MINUTES], /quit.
    """
    state: CliState = ctx.obj
    if chat_via_daemon(state, once, as_json):  # a daemon owns the data dir: go through it
        return
    updates: dict[str, object] = {}
    if provider is not None:
        if provider not in PROVIDERS:
            raise CephalonError(f"--provider must be one of {', '.join(PROVIDERS)}")
        updates["provider"] = provider
    if base_url is not None:
        updates["base_url"] = base_url
    if model is not None:
        updates["model"] = model
    settings = state.settings.model_copy(update=updates)
    if once is not None and not once.strip():
        raise CephalonError("--once needs a non-empty message")
    settings.data_dir.ensure_writable()
    configure_cli_logging(settings)
    with progress_bar() as bar:
        engine = Engine(settings, state.policy.policy, progress=stage_reporter(bar, "preparing"))
    if once is not None:
        with engine:
            streaming = not as_json and sys.stdout.isatty()

            def echo(signal: Signal) -> None:
                if streaming and isinstance(signal, LlmDelta):
                    sys.stdout.write(signal.text)
                    sys.stdout.flush()

            engine.bus.subscribe(echo)
            _show(engine.run_turn(once), as_json, streaming)
        return
    backend = LocalBackend(engine, state.policy)
    try:
        engine.start()
        freeze_startup_objects()  # no full-GC pauses inside the conversation's turns
        ChatRepl(backend).run()
    finally:
        backend.close()


def _show(outcome: TurnOutcome, as_json: bool, streamed: bool) -> None:
    if as_json:
        print_json(_outcome_json(outcome))
    elif outcome.reply is not None:
        if streamed:
            sys.stdout.write("\n")
        else:
            console.print(outcome.reply, markup=False)
    else:
        console.print(f"[yellow]no reply ({outcome.stop_reason}): {outcome.error}[/]")
    if outcome.status != "committed" and as_json:
        raise typer.Exit(1)
