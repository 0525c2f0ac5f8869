"""One client connection of the control socket: a reader, a writer and an outbox.

The reader thread parses request lines and hands them to the server's worker pool
(at most ``request_workers`` in flight per connection: a flooding client is
slowed down by the socket, never buffered without bound). The writer thread
drains the outbox. Signals from the engine are appended to the outbox by the
engine's own thread and encoded by the writer; when a client falls
``subscriber_queue_frames`` signals behind, its subscription is dropped with a
notice so the engine never waits for a console.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
from collections.abc import Callable

import structlog

from engine.control.framing import FrameReader, FrameTooLarge
from engine.control.protocol import (
    ErrorCode,
    ProtocolError,
    Request,
    error_frame,
    notice_frame,
    parse_request,
    signal_frame,
)
from engine.signals import Signal, signal_to_json

log = structlog.get_logger("cephalon.control")

Dispatch = Callable[["Connection", Request], None]
Subscribe = Callable[[Callable[[Signal], None]], Callable[[], None]]


class Connection:
    """Serves one connected client until it hangs up or the server closes it."""

    def __init__(
        self,
        sock: socket.socket,
        number: int,
        *,
        max_request_bytes: int,
        subscriber_queue_frames: int,
        in_flight: int,
        dispatch: Dispatch,
        on_closed: Callable[[Connection], None],
    ) -> None:
        self.sock = sock
        self.number = number
        self._reader = FrameReader(sock, max_request_bytes)
        self._signal_limit = subscriber_queue_frames
        self._outbox_limit = 2 * subscriber_queue_frames + in_flight
        self._dispatch = dispatch
        self._on_closed = on_closed
        self._slots = threading.BoundedSemaphore(in_flight)
        self._outbox: collections.deque[bytes | Signal] = collections.deque()
        self._queued_signals = 0
        self._cond = threading.Condition()
        self._closed = False
        self._draining = False
        self._unsubscribe: Callable[[], None] | None = None
        self.signals_sent = 0
        self.signals_dropped = 0
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"control-read-{number}", daemon=True),
            threading.Thread(target=self._write_loop, name=f"control-write-{number}", daemon=True),
        ]

    def start(self) -> None:
        """Start reading and writing."""
        for thread in self._threads:
            thread.start()

    # ---------------------------------------------------------------- outbox --
    def send(self, frame: bytes) -> None:
        """Queue a reply or notice (a client that reads nothing at all is closed)."""
        with self._cond:
            if self._closed:
                return
            overflow = len(self._outbox) >= self._outbox_limit
            if not overflow:
                self._outbox.append(frame)
                self._cond.notify_all()
        if overflow:
            log.warning("control.client_not_reading", connection=self.number)
            self.close()

    def subscribe(self, subscribe: Subscribe) -> None:
        """Start streaming the engine's signals to this client (idempotent)."""
        with self._cond:
            if self._unsubscribe is not None or self._closed:
                return
        unsubscribe = subscribe(self._on_signal)
        with self._cond:
            if self._unsubscribe is None and not self._closed:
                self._unsubscribe = unsubscribe
                return
        unsubscribe()

    def unsubscribe(self) -> None:
        """Stop streaming signals to this client."""
        with self._cond:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    def _on_signal(self, signal: Signal) -> None:
        """Called on the engine's thread: never blocks, never encodes."""
        with self._cond:
            if self._closed or self._unsubscribe is None:
                return
            drop = self._queued_signals >= self._signal_limit
            if drop:
                self.signals_dropped += 1
            else:
                self._outbox.append(signal)
                self._queued_signals += 1
                self._cond.notify_all()
        if drop:
            self.unsubscribe()
            log.warning("control.subscriber_dropped", connection=self.number)
            self.send(
                notice_frame(
                    "subscription_dropped",
                    f"this console fell {self._signal_limit} signals behind; "
                    "its subscription was dropped (subscribe again)",
                )
            )

    def _write_loop(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._outbox and not (self._closed or self._draining):
                        self._cond.wait()
                    if self._closed or not self._outbox:
                        return
                    item = self._outbox.popleft()
                    if isinstance(item, Signal):
                        self._queued_signals -= 1
                if isinstance(item, Signal):
                    data = signal_frame(signal_to_json(item))
                    self.signals_sent += 1
                else:
                    data = item
                self.sock.sendall(data)
        except OSError:
            pass
        finally:
            self.close()

    # ---------------------------------------------------------------- reader --
    def _read_loop(self) -> None:
        try:
            while True:
                try:
                    line = self._reader.read()
                except FrameTooLarge:
                    self.send(error_frame(None, ErrorCode.TOO_LARGE, "frame longer than the limit"))
                    continue
                if line is None:
                    return
                if not line.strip():
                    continue
                try:
                    request = parse_request(line)
                except ProtocolError as exc:
                    self.send(error_frame(exc.request_id, exc.code, exc.message))
                    continue
                self._slots.acquire()
                try:
                    self._dispatch(self, request)
                except BaseException:
                    self._slots.release()
                    raise
        except OSError:
            pass
        except Exception:  # a bug here must not take the daemon down
            log.exception("control.reader_failed", connection=self.number)
        finally:
            self.close()
            self._threads[1].join()  # the writer has stopped using the socket
            self.sock.close()

    def request_done(self) -> None:
        """A dispatched request has been answered (frees an in-flight slot)."""
        self._slots.release()

    # ----------------------------------------------------------------- close --
    @property
    def closed(self) -> bool:
        """True once the connection is closed."""
        return self._closed

    def close(self) -> None:
        """Hang up (idempotent): unsubscribe, wake both threads, tell the server."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        with contextlib.suppress(OSError):  # shutting down wakes the reader's recv
            self.sock.shutdown(socket.SHUT_RDWR)
        self._on_closed(self)

    def close_after_flush(self, timeout: float) -> None:
        """Send what is queued (waiting up to ``timeout`` s), then hang up."""
        self.unsubscribe()
        with self._cond:
            self._draining = True
            self._cond.notify_all()
        self._threads[1].join(timeout)
        self.close()

    def join(self, timeout: float) -> None:
        """Wait for both threads to end."""
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
