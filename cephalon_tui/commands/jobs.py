"""``cephalon jobs``: list the heartbeat jobs, run one now, pause and resume them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cephalon_tui.engine_access import configure_cli_logging, open_memory
from cephalon_tui.output import console, print_json
from cephalon_tui.state import CliState
from engine.clock import SystemClock
from engine.config import Settings
from engine.jobs.base import Job, JobContext
from engine.jobs.registry import builtin_jobs
from engine.jobs.scheduler import Scheduler, UnknownJobError
from engine.llm.base import ChatRequest, ChatResult, DeltaCallback, Provider
from engine.policy import Policy
from engine.recovery import recover
from engine.signals import SignalBus
from engine.store import Store

app = typer.Typer(
    help="Heartbeat jobs (janitor, channel summaries): list, run now, pause, resume.",
    no_args_is_help=True,
)


class LazyProvider:
    """The configured provider, built on the first call (so a run that needs no
    model never loads one)."""

    def __init__(self, settings: Settings, policy: Policy) -> None:
        self._settings = settings
        self._policy = policy
        self._provider: Provider | None = None
        self._lock = threading.Lock()

    def _get(self) -> Provider:
        with self._lock:
            if self._provider is None:
                from engine.factory import build_provider

                self._provider = build_provider(self._settings, self._policy)
            return self._provider

    @property
    def name(self) -> str:
        """The provider kind."""
        return self._provider.name if self._provider else self._settings.provider

    @property
    def model(self) -> str:
        """The model name."""
        return self._provider.model if self._provider else (self._settings.model or "default")

    def chat(
        self,
        request: ChatRequest,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ChatResult:
        """Build the provider if needed and ask it."""
        return self._get().chat(request, on_delta, cancel)

    def close(self) -> None:
        """Close the provider if it was built."""
        if self._provider is not None:
            self._provider.close()


def _jobs(name: str | None = None) -> list[Job]:
    jobs = builtin_jobs()
    if name is not None and name not in {job.name for job in jobs}:
        known = ", ".join(job.name for job in jobs) or "none"
        raise UnknownJobError(f"no job named {name!r} (jobs: {known})")
    return jobs


@contextmanager
def _scheduler(state: CliState, jobs: list[Job]) -> Iterator[Scheduler]:
    """A scheduler over the data dir's store (no memory, no provider)."""
    settings = state.settings
    settings.data_dir.ensure_writable()
    configure_cli_logging(settings)
    with Store(settings.data_dir.db_path) as store:
        ctx = JobContext(
            store=store, policy=state.policy.policy, clock=SystemClock(), bus=SignalBus()
        )
        yield Scheduler(ctx, jobs, seed=settings.seed)


def _ago(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every job: interval, paused, last run (status, time, error) and next due time."""
    with _scheduler(ctx.obj, _jobs()) as scheduler:
        statuses = scheduler.status()
    if as_json:
        print_json({"jobs": [s.to_json() for s in statuses]})
        return
    table = Table("job", "every", "paused", "last run", "next due")
    for s in statuses:
        last = s.last_run
        if last is None:
            last_text = "never"
        else:
            last_text = f"#{last.id} {last.status} {_ago(last.started_at)}"
            if last.error:
                last_text += f" ({last.error})"
        table.add_row(
            s.name,
            f"{s.interval_seconds / 60:g} min",
            "yes" if s.paused else "no",
            last_text,
            _ago(s.next_due_at),
        )
    console.print(table)


@app.command("run")
def run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The job (see `cephalon jobs list`)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON."),
) -> None:
    """Run one job now in this process (even when paused) and print how it went.

    The janitor always reports on a manual run; with no usable model its GC
    summaries are aborted cleanly and the report says so. Exits 1 when the job failed.
    """
    state: CliState = ctx.obj
    jobs = _jobs(name)
    settings, policy = state.settings, state.policy.policy
    provider = LazyProvider(settings, policy)
    clock = SystemClock()
    try:
        with open_memory(state) as memory:
            recover(memory.store, clock)  # we hold the data dir: nothing else is running
            job_ctx = JobContext(
                store=memory.store,
                policy=policy,
                clock=clock,
                bus=SignalBus(),
                memory=memory,
                provider=provider,
            )
            with Console(stderr=True).status(f"running {name}..."):
                outcome = Scheduler(job_ctx, jobs, seed=settings.seed).run_now(name)
    finally:
        provider.close()
    result: dict[str, Any] = {
        "run_id": outcome.run_id,
        "job": outcome.job,
        "status": outcome.status,
        "error": outcome.error,
        "detail": outcome.detail,
    }
    if as_json:
        print_json(result)
    else:
        _print_run(result)
    if outcome.status == "failed":
        raise typer.Exit(1)


def _print_run(result: dict[str, Any]) -> None:
    detail = result["detail"]
    line = f"{result['job']} run {result['run_id']}: {result['status']}"
    console.print(line + (f" ({result['error']})" if result["error"] else ""))
    report = detail.get("report")
    if isinstance(report, dict) and report.get("text"):
        console.print(report["text"], markup=False, soft_wrap=True)
        if not report.get("sent"):
            console.print(f"[dim](not posted: {report.get('not_sent', '?')})[/]")
    elif detail.get("states"):
        console.print(f"[dim]states: {' -> '.join(detail['states'])}[/]")


def _set_paused(state: CliState, name: str, paused: bool) -> None:
    with _scheduler(state, _jobs(name)) as scheduler:
        if paused:
            scheduler.pause(name)
        else:
            scheduler.resume(name)
    console.print(f"{name} {'paused' if paused else 'resumed'}")


@app.command("pause")
def pause(ctx: typer.Context, name: str = typer.Argument(..., help="The job to pause.")) -> None:
    """Stop the heartbeat from running a job (kept across restarts)."""
    _set_paused(ctx.obj, name, True)


@app.command("resume")
def resume(ctx: typer.Context, name: str = typer.Argument(..., help="The job to resume.")) -> None:
    """Let the heartbeat run a paused job again."""
    _set_paused(ctx.obj, name, False)
