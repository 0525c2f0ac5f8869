"""The console side of the control socket: :class:`RemoteBackend`.

It serves :class:`engine.backend.ConsoleBackend` from a running daemon, so the
TUI, ``cephalon chat`` and the read commands work the same against a daemon as
against an in-process engine. Observers are called on the connection's reader
thread; when the daemon goes away they get an ``engine.state`` signal with state
``disconnected``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Unpack

from engine.backend import Observer
from engine.control.channel import ChannelOptions, ControlChannel, DaemonError, DaemonGoneError
from engine.errors import CephalonError

__all__ = ["DaemonError", "DaemonGoneError", "RemoteBackend"]


class RemoteBackend:
    """:class:`engine.backend.ConsoleBackend` served by a daemon over its control socket."""

    def __init__(self, path: Path, **options: Unpack[ChannelOptions]) -> None:
        """Connect and check the protocol version.

        Args:
            path: the daemon's socket (``DataDir.socket_path``).
            **options: the :class:`ControlChannel` options (frame limits, the reply
                timeout, how this client introduces itself).

        Raises:
            DaemonGoneError: nothing answers on ``path``.
            CephalonError: permission denied, or the daemon speaks another protocol version.
        """
        self.channel = ControlChannel(path, **options)
        self.path = path
        self.server_info = self.channel.server_info
        """What the daemon said in ``hello``: protocol, signal_version, server, pid, home."""

    def call(self, op: str, args: dict[str, Any] | None = None) -> Any:
        """Send any op and wait for its result (see :mod:`engine.control.protocol`)."""
        return self.channel.call(op, args)

    # ------------------------------------------------------- ConsoleBackend --
    def subscribe(self, observer: Observer) -> Callable[[], None]:
        if self.channel.add_observer(observer):
            self.call("subscribe")

        def unsubscribe() -> None:
            if self.channel.remove_observer(observer):
                with contextlib.suppress(CephalonError):
                    self.call("unsubscribe")

        return unsubscribe

    def submit(self, text: str) -> int:
        return int(self.call("submit", {"text": text}))

    def pause(self) -> None:
        self.call("pause")

    def resume(self) -> None:
        self.call("resume")

    def unlock(self, minutes: float | None = None) -> str:
        return str(self.call("unlock", {"minutes": minutes}))

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("status")
        return result

    def turns(self, limit: int = 50) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("turns", {"limit": limit})
        return result

    def turn(self, turn_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.call("turn", {"turn_id": turn_id})
        return result

    def replay(self, turn_id: int, live: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = self.call("replay", {"turn_id": turn_id, "live": live})
        return result

    def memory_search(self, query: str, k: int = 10, mode: str = "full") -> list[dict[str, Any]]:
        """Hybrid search with explanations (``mode``: full, or a baseline bm25/dense/rrf)."""
        result: list[dict[str, Any]] = self.call(
            "memory_search", {"query": query, "k": k, "mode": mode}
        )
        return result

    def memory_set_pinned(self, memory_id: int, pinned: bool) -> None:
        self.call("memory_set_pinned", {"memory_id": memory_id, "pinned": pinned})

    def memory_forget(self, memory_id: int) -> None:
        self.call("memory_forget", {"memory_id": memory_id})

    def job_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("job_runs", {"limit": limit})
        return result

    def policy_view(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("policy_view")
        return result

    # ---------------------------------------------------- beyond the protocol --
    def events_tail(self, limit: int = 20, after_id: int | None = None) -> list[dict[str, Any]]:
        """The event log, oldest first (``after_id``: only newer events)."""
        result: list[dict[str, Any]] = self.call(
            "events_tail", {"limit": limit, "after_id": after_id}
        )
        return result

    def doctor(self) -> dict[str, Any]:
        """The daemon's doctor report (its database, providers and status)."""
        result: dict[str, Any] = self.call("doctor")
        return result

    @property
    def connected(self) -> bool:
        """False once the connection is lost or closed."""
        return self.channel.connected

    @property
    def signals_received(self) -> int:
        """Signals pushed by the daemon so far."""
        return self.channel.signals_received

    def close(self) -> None:
        """Disconnect (the daemon keeps running)."""
        self.channel.close()

    def __enter__(self) -> RemoteBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
