"""Opening engine parts for one CLI command, with progress bars for long work."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from cephalon_tui.state import CliState
from engine.config import Settings
from engine.logs import configure_file_logging

if TYPE_CHECKING:  # the console's start imports this module: keep the memory stack lazy
    from engine.memory.service import MemoryService


def configure_cli_logging(settings: Settings) -> None:
    """Send engine logs to ``<home>/logs/cephalon.log`` (never to the terminal)."""
    logs = settings.data_dir.logs_dir
    if logs.is_dir() and os.access(logs, os.W_OK):
        configure_file_logging(logs / "cephalon.log", settings.log_level)
    else:
        configure_file_logging(Path(os.devnull), settings.log_level)


def progress_bar() -> Progress:
    """A progress bar on stderr (stdout stays clean for --json)."""
    from rich.console import Console

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def stage_reporter(bar: Progress, verb: str) -> Callable[[str, int, int], None]:
    """A ``progress(stage, done, total)`` callback showing one bar per stage.

    Args:
        bar: the progress display.
        verb: what is being done ("building", "preparing").

    Returns:
        The callback.
    """
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(f"{verb} {stage}", total=total)
        bar.update(tasks[stage], completed=done)

    return report


@contextmanager
def open_memory(state: CliState, *, read_only: bool = False) -> Iterator[MemoryService]:
    """Open the store and the memory service; save the index on the way out.

    Args:
        state: the CLI state.
        read_only: open the database read-only (several readers may run at once).

    Yields:
        The opened memory service.
    """
    from engine.factory import build_memory
    from engine.store import Store

    settings = state.settings
    if read_only:
        settings.data_dir.ensure_readable()
    else:
        settings.data_dir.ensure_writable()
    configure_cli_logging(settings)
    policy = state.policy.policy
    with Store(settings.data_dir.db_path, read_only=read_only) as store:
        memory = build_memory(settings, policy, store)
        with progress_bar() as bar:
            memory.open(stage_reporter(bar, "building"))
        try:
            yield memory
        finally:
            memory.close()
