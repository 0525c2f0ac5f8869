"""``cephalon --daemon``: the engine headless, owning the data dir.

The daemon takes the pidfile lock (a second daemon on the same dir is refused),
logs only to ``<home>/logs/daemon.log`` (its stdout/stderr go to
``<home>/logs/daemon.stderr.log``, so nothing reaches a terminal), opens the full
engine, starts its always-on loop and serves the control socket. SIGTERM or
SIGINT: stop accepting consoles, let the turn in flight finish (or cancel and
checkpoint it after ``engine.daemon.drain_seconds``), tell the attached consoles,
close the engine, remove the socket and release the pidfile. SIGHUP (the
terminal that started it closed) is logged and ignored: the daemon outlives the
SSH session it was started from.
"""

from __future__ import annotations

import fcntl
import gc
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, Any

import structlog

from engine.clock import Clock, SystemClock
from engine.config import Settings, load_policy, resolve_policy_file
from engine.errors import DaemonAlreadyRunningError
from engine.llm.base import Provider
from engine.logs import configure_file_logging
from engine.models import EventType, NewEvent
from engine.store import EventLog

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
    *,
    provider: Provider | None = None,
    detach_stdio: bool = True,
) -> int:
    """Run headless until SIGTERM or SIGINT.

    Args:
        settings: where and how to run.
        clock: time source.
        on_ready: called once the engine runs and the control socket listens.
        provider: use this provider instead of the configured one (tests).
        detach_stdio: point fds 1 and 2 at ``logs/daemon.stderr.log`` (C libraries then
            cannot write to the terminal either); they stay there after a clean stop, so
            in-process callers (tests) pass False.

    Returns:
        The process exit code (0 on a clean stop).

    Raises:
        DaemonAlreadyRunningError: the data dir already has a daemon.
        CephalonError: the data dir, policy, database or socket is unusable.
    """
    from engine.backend_local import LocalBackend
    from engine.control.engine_ops import engine_ops
    from engine.control.server import ControlServer
    from engine.engine import Engine
    from engine.gc_tuning import freeze_startup_objects

    clock = clock or SystemClock()
    data_dir = settings.data_dir
    data_dir.ensure_writable()
    loaded = load_policy(resolve_policy_file(settings))
    config = loaded.policy.engine.daemon
    pidfile = PidFile(data_dir.pid_path)
    pidfile.acquire()
    received: list[signal.Signals] = []
    woken = threading.Event()

    def note(signum: int, _frame: FrameType | None) -> None:
        # no logging here: the handler may interrupt the main thread inside a log
        # write, and the file's buffer refuses the reentrant call (the line is lost)
        received.append(signal.Signals(signum))
        woken.set()

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # SIGHUP: outlive the terminal
    previous = {sig: signal.signal(sig, note) for sig in handled}
    try:
        with _stdio_to(data_dir.logs_dir / "daemon.stderr.log", detach_stdio):
            configure_file_logging(data_dir.logs_dir / "daemon.log", settings.log_level)
            log.info("daemon.opening", home=str(data_dir.root), pid=os.getpid())
            engine = Engine(
                settings, loaded.policy, provider=provider, clock=clock, progress=_ProgressLog()
            )
            try:
                _watch_model(engine)
                backend = LocalBackend(engine, loaded)
                started = clock.now()
                server: ControlServer | None = None

                def facts() -> dict[str, Any]:
                    return {
                        "running": True,
                        "pid": os.getpid(),
                        "socket": str(data_dir.socket_path),
                        "started_at": started.isoformat(),
                        "clients": server.client_count if server else 0,
                    }

                server = ControlServer(
                    data_dir.socket_path,
                    backend,
                    config,
                    extra_ops=engine_ops(engine, backend, facts),
                    info={"home": str(data_dir.root)},
                )
                _mark(engine, clock, "daemon.start", pid=os.getpid())
                engine.start()
                server.start()
                freeze_startup_objects()  # no full-GC pauses inside turns
                try:
                    log.info("daemon.ready", socket=str(data_dir.socket_path))
                    if on_ready is not None:
                        on_ready()
                    _wait_for_stop(received, woken)
                    log.info("daemon.stopping", drain_seconds=config.drain_seconds)
                    server.stop_accepting()
                    engine.stop(config.drain_seconds)  # finish or checkpoint the turn in flight
                    _mark(engine, clock, "daemon.stop")
                finally:
                    server.close()
            finally:
                engine.close()
                gc.unfreeze()
            log.info("daemon.stopped")
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        data_dir.socket_path.unlink(missing_ok=True)
        pidfile.release()
    return 0


def _wait_for_stop(received: list[signal.Signals], woken: threading.Event) -> None:
    """Block until SIGTERM or SIGINT arrives, logging each signal as it comes (SIGHUP
    is logged and ignored). The handler only records them: logging happens here."""
    while True:
        woken.wait()
        woken.clear()
        while received:
            sig = received.pop(0)
            if sig == signal.SIGHUP:
                log.info("daemon.hangup_ignored", hint="stop it with SIGTERM or SIGINT")
                continue
            log.info("daemon.signal", signal=sig.name)
            return


def _mark(engine: Any, clock: Clock, phase: str, **payload: Any) -> None:
    EventLog(engine.store).append(
        NewEvent(
            type=EventType.SYSTEM_TICK,
            source="daemon",
            ts=clock.now(),
            payload={"phase": phase, **payload},
        )
    )
    log.info(phase, **payload)


class _ProgressLog:
    """Engine start-up progress (index builds, model assembly) into the log, every 10 %."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        tenth = 10 if total <= 0 else min(10, done * 10 // total)
        if self._last.get(stage) == tenth:
            return
        self._last[stage] = tenth
        log.info("daemon.progress", stage=stage, done=done, total=total)


def _watch_model(engine: Any) -> None:
    """Log when an embedded model finishes loading (it loads in the background)."""
    from engine.llm.local import LocalProvider

    chain = getattr(engine.provider, "providers", [engine.provider])
    for provider in chain:
        if isinstance(provider, LocalProvider):

            def wait(local: LocalProvider = provider) -> None:
                state = local.wait_ready()
                log.info("daemon.model", **local.status().model_dump(mode="json"), final=state)

            threading.Thread(target=wait, name="daemon-model-watch", daemon=True).start()


@contextmanager
def _stdio_to(path: Path, enabled: bool) -> Iterator[None]:
    """Point fds 1 and 2 at ``path`` (appending).

    On an error they are restored, so the CLI can print it; after a clean stop they
    stay redirected: the process is about to exit, and whatever native libraries
    print while the interpreter shuts down belongs in the log, not on a terminal.
    """
    if not enabled:
        yield
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    saved = [os.dup(1), os.dup(2)]
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    except BaseException:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        raise
    finally:
        for handle in saved:
            os.close(handle)
