"""Start an in-process engine for the console, off the UI thread, with progress.

``cephalon`` shows its first frame before the engine exists: the app calls the
``connect`` function returned here on a worker thread, and shows each progress
step (index build, embedded-model assembly) as it comes. The engine modules are
imported inside ``connect`` so their import time is not spent before the first
frame either.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.backend import ConsoleBackend
from engine.config import LoadedPolicy, Settings

BootProgress = Callable[[str, float | None], None]
"""``(stage, fraction done or None)``: called from the worker thread."""

Connect = Callable[[BootProgress], ConsoleBackend]
"""Builds (and starts) a backend; blocking; may raise ``CephalonError``."""


def local_connect(settings: Settings, loaded: LoadedPolicy) -> Connect:
    """A ``connect`` that opens an :class:`engine.engine.Engine` here and starts its loop.

    Args:
        settings: where and how to run.
        loaded: the policy (with its sources, for the policy screen).

    Returns:
        The connect function (call it on a worker thread).
    """

    def connect(progress: BootProgress) -> ConsoleBackend:
        from engine.backend_local import LocalBackend
        from engine.engine import Engine

        def report(stage: str, done: int, total: int) -> None:
            progress(stage, done / total if total else None)

        progress("opening the data dir", None)
        engine = Engine(settings, loaded.policy, progress=report)
        engine.start()
        return LocalBackend(engine, loaded)

    return connect
