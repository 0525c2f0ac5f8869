"""One client connection to a daemon's control socket.

:class:`ControlChannel` connects, checks the protocol version (``hello``), sends
requests and waits for their replies; one reader thread matches replies to
requests by id and hands pushed signals to the observers. When the daemon goes
away, waiting requests fail and observers get an ``engine.state`` signal with
state ``disconnected``.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypedDict

import structlog

from engine import __version__
from engine.backend import Observer
from engine.control.address import socket_address
from engine.control.framing import FrameReader, decode_daemon_frame
from engine.control.protocol import PROTOCOL_VERSION, ErrorCode, request_frame
from engine.errors import CephalonError
from engine.signals import EngineError, EngineState, Signal

log = structlog.get_logger("cephalon.control.client")


class DaemonError(CephalonError):
    """The daemon answered a request with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DaemonGoneError(CephalonError):
    """The connection to the daemon is lost."""


class ChannelOptions(TypedDict, total=False):
    """The keyword options of :class:`ControlChannel` (also taken by ``RemoteBackend``)."""

    max_reply_bytes: int
    max_request_bytes: int
    request_timeout_s: float
    client: str


class ControlChannel:
    """A connection to a daemon: requests, replies and pushed signals."""

    def __init__(
        self,
        path: Path,
        *,
        max_reply_bytes: int = 64 << 20,
        max_request_bytes: int = 1 << 20,
        request_timeout_s: float = 600.0,
        client: str = f"cephalon {__version__}",
    ) -> None:
        """Connect and check the protocol version.

        Args:
            path: the daemon's socket (``DataDir.socket_path``).
            max_reply_bytes: longest frame accepted from the daemon.
            max_request_bytes: longest request sent (the daemon's limit).
            request_timeout_s: give up on a reply after this long.
            client: how this client introduces itself.

        Raises:
            CephalonError: nothing listens there, permission is denied, or the daemon
                speaks another protocol version.
        """
        self.path = path
        self.request_timeout_s = request_timeout_s
        self.max_request_bytes = max_request_bytes
        self._gone_reason = "the daemon closed the connection"
        self._refusal: DaemonError | None = None
        """The daemon's reason for hanging up on us (wrong uid, too many consoles)."""
        self._sock = _connect(path)
        self._reader = FrameReader(self._sock, max_reply_bytes)
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[Any]] = {}
        self._observers: list[Observer] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._closed = False
        self._subscribed = False
        self.signals_received = 0
        self._thread = threading.Thread(target=self._read_loop, name="control-client", daemon=True)
        self._thread.start()
        try:
            self.server_info: dict[str, Any] = self.call(
                "hello", {"client": client, "versions": [PROTOCOL_VERSION]}
            )
        except DaemonError as exc:
            self.close()
            if exc.code == ErrorCode.PERMISSION:
                raise CephalonError(f"permission denied on {path}: {exc}") from None
            if exc.code == ErrorCode.VERSION:
                raise CephalonError(
                    f"the daemon on {path.parent} speaks another control protocol ({exc}); "
                    "restart it with this cephalon version"
                ) from None
            raise
        except BaseException:
            self.close()
            raise

    # -------------------------------------------------------------- requests --
    def call(
        self, op: str, args: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """Send a request and wait for its reply.

        Args:
            op: the op name.
            args: its arguments.
            timeout: seconds (default ``request_timeout_s``).

        Returns:
            The reply's result.

        Raises:
            DaemonError: the daemon answered with an error.
            DaemonGoneError: the connection is lost.
            CephalonError: no reply in time.
        """
        request_id = next(self._ids)
        frame = request_frame(request_id, op, args)
        if len(frame) > self.max_request_bytes:
            raise CephalonError(
                f"{op}: the request is {len(frame)} bytes, over the daemon's limit of "
                f"{self.max_request_bytes} (engine.daemon.max_request_bytes)"
            )
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise self._refusal or DaemonGoneError(
                    f"not connected to the daemon on {self.path.parent}"
                )
            self._pending[request_id] = future
        try:
            try:
                with self._send_lock:
                    self._sock.sendall(frame)
            except OSError:
                pass  # the reader resolves the future: with the daemon's last word, or gone
            return future.result(self.request_timeout_s if timeout is None else timeout)
        except FutureTimeout:
            raise CephalonError(f"the daemon did not answer {op} in time") from None
        finally:
            with self._lock:
                self._pending.pop(request_id, None)

    def _read_loop(self) -> None:
        reason = ""
        try:
            while True:
                line = self._reader.read()
                if line is None:
                    break
                self._handle(decode_daemon_frame(line))
        except OSError:
            pass
        except Exception as exc:  # a malformed frame from the daemon: hang up, say why
            log.exception("control.client_read_failed")
            reason = f"bad frame from the daemon: {exc}"
        with self._lock:
            was_closed, self._closed = self._closed, True
            pending, self._pending = self._pending, {}
            observers = list(self._observers)
        reason = reason or self._gone_reason
        for future in pending.values():
            if not future.done():  # a refusal may already have answered it
                future.set_exception(
                    self._refusal or DaemonGoneError(f"{reason} ({self.path.parent})")
                )
        if not was_closed:
            lost = EngineState(ts=_now(), state="disconnected", detail=reason)
            for observer in observers:
                _deliver(observer, lost)

    def _handle(self, frame: dict[str, Any]) -> None:
        if "signal" in frame:
            signal = frame["signal"]
            if signal is None:
                return  # a signal kind this client does not know
            self.signals_received += 1
            with self._lock:
                observers = list(self._observers)
            for observer in observers:
                _deliver(observer, signal)
            return
        if "notice" in frame:
            notice = frame["notice"]
            log.warning("control.notice", **notice)
            if notice.get("code") == "shutdown":
                self._gone_reason = str(notice.get("message", self._gone_reason))
            if notice.get("code") == "subscription_dropped":
                self._resubscribe(str(notice.get("message", "")))
            return
        error = frame.get("error") or {}
        with self._lock:
            if frame.get("id") is None:  # refused (uid, busy) or a frame it could not read
                targets = list(self._pending.values())
            else:
                found = self._pending.get(frame["id"])
                targets = [found] if found is not None else []
        if frame.get("id") is None:
            log.warning("control.error_without_id", error=error)
            if error.get("code") in (ErrorCode.PERMISSION, ErrorCode.BUSY):
                self._refusal = DaemonError(str(error["code"]), str(error.get("message")))
        for future in targets:
            if future.done():
                continue
            if frame.get("ok"):
                future.set_result(frame.get("result"))
            else:
                future.set_exception(
                    DaemonError(str(error.get("code")), str(error.get("message", "error")))
                )

    def _resubscribe(self, message: str) -> None:
        """Called on the reader thread: ask again from another thread (no deadlock)."""
        error = EngineError(ts=_now(), stage="control", error=message)
        with self._lock:
            observers = list(self._observers) if self._subscribed else []
        for observer in observers:
            _deliver(observer, error)
        if observers:
            threading.Thread(target=self._try_subscribe, daemon=True).start()

    def _try_subscribe(self) -> None:
        with contextlib.suppress(CephalonError):
            self.call("subscribe")

    def add_observer(self, observer: Observer) -> bool:
        """Deliver pushed signals to ``observer``; True when it is the first one."""
        with self._lock:
            self._observers.append(observer)
            first = not self._subscribed
            self._subscribed = True
        return first

    def remove_observer(self, observer: Observer) -> bool:
        """Stop delivering to ``observer``; True when no observer is left (and connected)."""
        with self._lock:
            if observer in self._observers:
                self._observers.remove(observer)
            last = self._subscribed and not self._observers and not self._closed
            if last:
                self._subscribed = False
        return last

    @property
    def connected(self) -> bool:
        """False once the connection is lost or closed."""
        return not self._closed

    def close(self) -> None:
        """Disconnect (the daemon keeps running)."""
        with self._lock:
            self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not threading.current_thread():
            self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> ControlChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _deliver(observer: Observer, signal: Signal) -> None:
    try:
        observer(signal)
    except Exception:
        log.exception("control.observer_failed", kind=signal.kind)


def _now() -> Any:
    from engine.clock import SystemClock

    return SystemClock().now()


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with socket_address(path) as address:
            sock.connect(address)
    except PermissionError:
        sock.close()
        raise CephalonError(
            f"permission denied on {path}: only the user who started the daemon may attach"
        ) from None
    except OSError as exc:
        sock.close()
        raise DaemonGoneError(f"no daemon answers on {path} ({exc.strerror or exc})") from None
    return sock
