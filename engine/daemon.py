"""``cephalon --daemon``: the engine headless, owning the data dir."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO

import structlog

from engine.clock import Clock, SystemClock
from engine.config import Settings, load_policy, resolve_policy_file
from engine.errors import DaemonAlreadyRunningError
from engine.logs import configure_file_logging
from engine.models import EventType, NewEvent
from engine.store import EventLog, Store

log = structlog.get_logger("cephalon.daemon")


class PidFile:
    """An exclusive, advisory lock on ``<home>/daemon.pid`` holding the owner's pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock and write our pid.

        Raises:
            DaemonAlreadyRunningError: another live process holds the lock.
        """
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open on purpose
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise DaemonAlreadyRunningError(
                f"a cephalon daemon (pid {owner}) already runs on {self.path.parent}; "
                "use `cephalon attach`, or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Remove the pidfile and drop the lock."""
        if self._handle is None:
            return
        self.path.unlink(missing_ok=True)
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None


def run_daemon(
    settings: Settings,
    clock: Clock | None = None,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """Run headless until SIGTERM or SIGINT.

    Args:
        settings: where and how to run.
        clock: time source.
        on_ready: called once the store is open and signals are handled.

    Returns:
        The process exit code (0 on a clean stop).

    Raises:
        DaemonAlreadyRunningError: the data dir already has a daemon.
        CephalonError: the data dir, policy or database is unusable.
    """
    clock = clock or SystemClock()
    data_dir = settings.data_dir
    data_dir.ensure_writable()
    loaded = load_policy(resolve_policy_file(settings))
    pidfile = PidFile(data_dir.pid_path)
    pidfile.acquire()
    configure_file_logging(data_dir.logs_dir / "daemon.log", settings.log_level)
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("signal", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with Store(data_dir.db_path, clock=clock) as store:
            events = EventLog(store)
            events.append(
                NewEvent(
                    type=EventType.SYSTEM_TICK,
                    source="daemon",
                    ts=clock.now(),
                    payload={"phase": "daemon.start", "pid": os.getpid()},
                )
            )
            log.info("daemon.start", home=str(data_dir.root), pid=os.getpid())
            if on_ready is not None:
                on_ready()
            while not stop.wait(loaded.policy.engine.tick_seconds):
                log.debug("daemon.tick")
            events.append(
                NewEvent(
                    type=EventType.SYSTEM_TICK,
                    source="daemon",
                    ts=clock.now(),
                    payload={"phase": "daemon.stop"},
                )
            )
            log.info("daemon.stop")
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        pidfile.release()
    return 0
