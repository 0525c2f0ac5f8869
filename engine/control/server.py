"""The daemon's control socket: a Unix socket in the data dir, owner-only.

The socket file is created under umask 0177 and chmod'ed 0600 before ``listen``;
every connection's peer uid (``SO_PEERCRED``) must equal ours, others get a
``permission_denied`` error and are hung up on. Requests run on a small worker
pool against a :class:`engine.backend.ConsoleBackend`; whatever a request does
wrong becomes an error reply, never a dead daemon.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import structlog

from engine import __version__
from engine.backend import ConsoleBackend
from engine.control.address import socket_address
from engine.control.connection import Connection
from engine.control.protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    ProtocolError,
    Request,
    error_frame,
    notice_frame,
    ok_frame,
)
from engine.errors import CephalonError
from engine.policy.runtime import DaemonSection
from engine.signals import SIGNAL_VERSION

log = structlog.get_logger("cephalon.control")

Handler = Callable[[dict[str, Any]], Any]
"""An op: validated args in, a JSON-safe result out (CephalonError -> a ``failed`` reply)."""

_UCRED = struct.Struct("3i")


def backend_ops(backend: ConsoleBackend) -> dict[str, Handler]:
    """The ops every :class:`ConsoleBackend` serves (``subscribe`` is the server's own)."""

    def search(args: dict[str, Any]) -> Any:
        if args["mode"] != "full":
            raise ProtocolError(ErrorCode.BAD_ARGS, f"memory_search: mode {args['mode']!r}")
        return backend.memory_search(args["query"], args["k"])

    return {
        "submit": lambda a: backend.submit(a["text"]),
        "pause": lambda a: backend.pause(),
        "resume": lambda a: backend.resume(),
        "unlock": lambda a: backend.unlock(a["minutes"]),
        "status": lambda a: backend.status(),
        "turns": lambda a: backend.turns(a["limit"]),
        "turn": lambda a: backend.turn(a["turn_id"]),
        "replay": lambda a: backend.replay(a["turn_id"], a["live"]),
        "memory_search": search,
        "memory_set_pinned": lambda a: backend.memory_set_pinned(a["memory_id"], a["pinned"]),
        "memory_forget": lambda a: backend.memory_forget(a["memory_id"]),
        "job_runs": lambda a: backend.job_runs(a["limit"]),
        "policy_view": lambda a: backend.policy_view(),
    }


class ControlServer:
    """Serves one backend on ``path`` until closed."""

    def __init__(
        self,
        path: Path,
        backend: ConsoleBackend,
        config: DaemonSection,
        *,
        extra_ops: Mapping[str, Handler] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        """Prepare a server (nothing is bound until :meth:`start`).

        Args:
            path: the socket file (``DataDir.socket_path``).
            backend: what requests act on.
            config: limits (frame size, queue, clients, workers).
            extra_ops: more ops, or replacements (``events_tail``, ``doctor``).
            info: facts ``hello`` returns besides the versions (home, pid, ...).
        """
        self.path = path
        self.backend = backend
        self.config = config
        self.ops: dict[str, Handler] = {**backend_ops(backend), **(extra_ops or {})}
        self.info = dict(info or {})
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(config.request_workers, "control-request")
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._numbers = 0
        self.refused = 0
        """Connections refused (wrong uid, too many clients)."""

    # ------------------------------------------------------------- lifecycle --
    def start(self) -> None:
        """Bind (mode 0600), listen and accept in a background thread.

        Raises:
            CephalonError: the socket cannot be created.
        """
        self.path.unlink(missing_ok=True)  # the pidfile lock says no live daemon owns it
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            with socket_address(self.path) as address:
                listener.bind(address)
            os.chmod(self.path, 0o600)
            listener.listen(socket.SOMAXCONN)  # admission (max_clients) is checked at accept
        except OSError as exc:
            listener.close()
            raise CephalonError(f"cannot create the control socket {self.path}: {exc}") from exc
        finally:
            os.umask(old_umask)
        self._listener = listener
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="control-accept", daemon=True
        )
        self._accept_thread.start()
        log.info("control.listening", path=str(self.path))

    def stop_accepting(self) -> None:
        """Take no new connections and remove the socket file (idempotent)."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        with contextlib.suppress(OSError):  # shutting down wakes accept()
            listener.shutdown(socket.SHUT_RDWR)
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        listener.close()
        self.path.unlink(missing_ok=True)

    def close(self, notice: str = "the daemon is stopping") -> None:
        """Stop accepting, tell every client ``notice``, hang up and finish the requests."""
        self.stop_accepting()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.send(notice_frame("shutdown", notice))
            connection.close_after_flush(timeout=2)
        for connection in connections:
            connection.join(5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def client_count(self) -> int:
        """Connections open now."""
        with self._lock:
            return len(self._connections)

    # ---------------------------------------------------------------- accept --
    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return  # stop_accepting shut the listener down
            try:
                self._admit(sock)
            except Exception:  # one bad client never stops the accept loop
                log.exception("control.accept_failed")
                sock.close()

    def _admit(self, sock: socket.socket) -> None:
        pid, uid, _gid = _UCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
        )
        refusal = None
        if uid != os.getuid():
            refusal = (ErrorCode.PERMISSION, "only the user who runs the daemon may connect")
            log.warning("control.refused_uid", peer_uid=uid, peer_pid=pid)
        elif self.client_count >= self.config.max_clients:
            refusal = (ErrorCode.BUSY, f"{self.config.max_clients} consoles are attached already")
        if refusal is not None:
            self.refused += 1
            try:
                sock.settimeout(1)
                sock.sendall(error_frame(None, *refusal))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            return
        with self._lock:
            self._numbers += 1
            connection = Connection(
                sock,
                self._numbers,
                max_request_bytes=self.config.max_request_bytes,
                subscriber_queue_frames=self.config.subscriber_queue_frames,
                in_flight=self.config.request_workers,
                dispatch=self._dispatch,
                on_closed=self._forget,
            )
            self._connections.add(connection)
        log.info("control.connected", connection=connection.number, peer_pid=pid)
        connection.start()

    def _forget(self, connection: Connection) -> None:
        with self._lock:
            self._connections.discard(connection)
        log.info(
            "control.disconnected",
            connection=connection.number,
            signals_sent=connection.signals_sent,
            signals_dropped=connection.signals_dropped,
        )

    # -------------------------------------------------------------- requests --
    def _dispatch(self, connection: Connection, request: Request) -> None:
        """Run a request: the quick connection-level ops inline, the rest on the pool."""
        if request.op in ("hello", "subscribe", "unsubscribe"):
            self._run(connection, request)
            return
        try:
            self._pool.submit(self._run, connection, request)
        except RuntimeError:  # the pool is shut down: the daemon is stopping
            connection.send(error_frame(request.id, ErrorCode.BUSY, "the daemon is stopping"))
            connection.request_done()

    def _run(self, connection: Connection, request: Request) -> None:
        try:
            frame = ok_frame(request.id, self._result(connection, request))
        except ProtocolError as exc:
            frame = error_frame(request.id, exc.code, exc.message)
        except CephalonError as exc:
            frame = error_frame(request.id, ErrorCode.FAILED, str(exc))
        except Exception as exc:
            log.exception("control.request_failed", op=request.op)
            frame = error_frame(request.id, ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}")
        finally:
            connection.request_done()
        connection.send(frame)

    def _result(self, connection: Connection, request: Request) -> Any:
        args = request.args
        if request.op == "hello":
            if PROTOCOL_VERSION not in args["versions"]:
                raise ProtocolError(
                    ErrorCode.VERSION,
                    f"this daemon speaks control protocol v{PROTOCOL_VERSION}; the client "
                    f"speaks {', '.join(f'v{v}' for v in args['versions']) or 'none'}",
                )
            return {
                "protocol": PROTOCOL_VERSION,
                "signal_version": SIGNAL_VERSION,
                "server": f"cephalon {__version__}",
                "pid": os.getpid(),
                **self.info,
            }
        if request.op == "subscribe":
            connection.subscribe(self.backend.subscribe)
            return {"subscribed": True}
        if request.op == "unsubscribe":
            connection.unsubscribe()
            return {"subscribed": False}
        handler = self.ops.get(request.op)
        if handler is None:
            raise ProtocolError(ErrorCode.UNKNOWN_OP, f"op {request.op!r} is not served here")
        return handler(args)
