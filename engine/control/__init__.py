"""The daemon's control socket: protocol, server (daemon side), client (console side).

* :mod:`engine.control.protocol`: newline-delimited JSON frames, ops and error codes.
* :class:`engine.control.server.ControlServer`: serves a ConsoleBackend on
  ``<home>/control.sock`` (mode 0600, peer uid checked).
* :class:`engine.control.client.RemoteBackend`: a ConsoleBackend over the socket.
* :func:`engine.control.discovery.connect_if_daemon`: a client when a daemon owns
  the data dir, else None.
"""

from __future__ import annotations

from engine.control.client import DaemonError, DaemonGoneError, RemoteBackend
from engine.control.discovery import connect_if_daemon, daemon_pid
from engine.control.protocol import PROTOCOL_VERSION
from engine.control.server import ControlServer

__all__ = [
    "PROTOCOL_VERSION",
    "ControlServer",
    "DaemonError",
    "DaemonGoneError",
    "RemoteBackend",
    "connect_if_daemon",
    "daemon_pid",
]
