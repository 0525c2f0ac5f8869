"""Reading newline-delimited JSON frames off a stream socket, with a size limit."""

from __future__ import annotations

import json
import socket
from typing import Any

import structlog

from engine.signals import signal_from_json

log = structlog.get_logger("cephalon.control")


class FrameTooLarge(Exception):
    """A line longer than the limit arrived (the rest of it was skipped)."""


class FrameReader:
    """Splits a stream socket into lines, never holding more than ``max_bytes`` of one."""

    def __init__(self, sock: socket.socket, max_bytes: int, chunk: int = 65536) -> None:
        """Read from a connected socket.

        Args:
            sock: the socket (blocking).
            max_bytes: longest line accepted, newline excluded.
            chunk: bytes per ``recv``.
        """
        self._sock = sock
        self._max = max_bytes
        self._chunk = chunk
        self._buffer = bytearray()
        self._skipping = False

    def read(self) -> bytes | None:
        """The next line (without ``\\n``), or None at end of stream.

        Returns:
            The line; a partial last line at end of stream is dropped.

        Raises:
            FrameTooLarge: a line went past ``max_bytes``; it is discarded up to its
                newline, and the next call reads the line after it.
            OSError: the socket failed.
        """
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                if self._skipping:
                    self._skipping = False
                    continue
                if len(line) > self._max:
                    raise FrameTooLarge(len(line))
                return line
            if len(self._buffer) > self._max:
                self._buffer.clear()
                if not self._skipping:
                    self._skipping = True
                    raise FrameTooLarge(self._max)
            data = self._sock.recv(self._chunk)
            if not data:
                return None
            self._buffer += data


def decode_daemon_frame(line: bytes) -> dict[str, Any]:
    """A frame from the daemon; a pushed signal is decoded (None when unknown here)."""
    frame = json.loads(line)
    if not isinstance(frame, dict):
        raise ValueError("a frame is a JSON object")
    if "signal" in frame:
        try:
            frame["signal"] = signal_from_json(frame["signal"])
        except ValueError:
            log.debug("control.unknown_signal", kind=(frame["signal"] or {}).get("kind"))
            frame["signal"] = None
    return frame
