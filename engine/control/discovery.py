"""Finding the daemon that owns a data dir, and connecting to it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine.control.channel import DaemonGoneError
from engine.control.client import RemoteBackend
from engine.errors import CephalonError
from engine.paths import DataDir
from engine.policy.runtime import DaemonSection


def daemon_pid(data_dir: DataDir) -> int | None:
    """The pid in the data dir's pidfile when that process is alive, else None."""
    try:
        pid = int(data_dir.pid_path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, another user's
    try:  # a pid reused by an unrelated process after a crash is not a daemon
        if b"cephalon" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
    except OSError:
        pass
    return pid


def connect_if_daemon(
    data_dir: DataDir, config: DaemonSection | None = None
) -> RemoteBackend | None:
    """A client of the daemon that owns ``data_dir``, or None when no daemon runs.

    A daemon counts as running when its socket answers, or when its pidfile names
    a live process (then its socket is waited for, ``connect_wait_seconds`` at most:
    it may be starting). The pidfile's lock is never touched, so a probe cannot
    make a starting daemon fail.

    Args:
        data_dir: the data dir.
        config: the client's limits and waits (default: the default policy's).

    Returns:
        A connected client, or None.

    Raises:
        CephalonError: a daemon runs but cannot be used (permission denied, another
            protocol version, or it never opened its socket).
    """
    if config is None:
        from engine.config import load_policy

        config = load_policy().policy.engine.daemon
    deadline = time.monotonic() + config.connect_wait_seconds
    while True:
        try:
            return RemoteBackend(
                data_dir.socket_path,
                max_reply_bytes=config.max_reply_bytes,
                max_request_bytes=config.max_request_bytes,
                request_timeout_s=config.request_timeout_seconds,
            )
        except DaemonGoneError as exc:
            pid = daemon_pid(data_dir)
            if pid is None:
                return None
            if time.monotonic() >= deadline:
                raise CephalonError(
                    f"a daemon (pid {pid}) owns {data_dir.root} but its control socket does "
                    f"not answer ({exc}); see {data_dir.logs_dir / 'daemon.log'}"
                ) from None
            time.sleep(0.1)
