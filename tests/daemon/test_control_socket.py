"""The control socket against a real daemon: bad frames, foreign users, limits."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.control import RemoteBackend
from engine.errors import CephalonError
from tests.daemon.conftest import Daemon


class RawClient:
    """A bare socket speaking lines, to send what no well-behaved client would."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.sock.settimeout(10)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "the daemon hung up"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        frame: dict[str, Any] = json.loads(line)
        return frame

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(shared_daemon: Daemon) -> Iterator[RawClient]:
    client = RawClient(shared_daemon.home / "control.sock")
    yield client
    client.close()


def _request(request_id: int, op: str, args: dict[str, Any] | None = None, v: int = 1) -> bytes:
    return json.dumps({"v": v, "id": request_id, "op": op, "args": args or {}}).encode() + b"\n"


@pytest.mark.parametrize(
    ("frame", "code", "request_id"),
    [
        (b"this is not json\n", "bad_json", None),
        (b"\xff\xfe\x00garbage\n", "bad_json", None),
        (b"[1, 2, 3]\n", "bad_frame", None),
        (b'{"v": 1, "op": "status"}\n', "bad_frame", None),
        (_request(3, "launch_missiles"), "unknown_op", 3),
        (_request(4, "status", v=2), "version_mismatch", 4),
        (_request(5, "turns", {"limit": "lots"}), "bad_args", 5),
        (_request(6, "submit", {"text": "hi", "extra": 1}), "bad_args", 6),
        (_request(7, "turn", {"turn_id": 999}), "failed", 7),
    ],
)
def test_bad_frames_get_an_error_reply_and_the_connection_goes_on(
    raw: RawClient, frame: bytes, code: str, request_id: int | None
) -> None:
    raw.send(frame)
    reply = raw.reply()
    assert reply["ok"] is False and reply["v"] == 1
    assert reply["error"]["code"] == code and reply["error"]["message"]
    assert reply["id"] == request_id
    raw.send(_request(100, "status"))  # the same connection still works
    after = raw.reply()
    assert after["id"] == 100 and after["ok"] is True and after["result"]["state"] == "running"


def test_an_oversized_frame_is_refused_and_skipped(raw: RawClient, shared_daemon: Daemon) -> None:
    big = b'{"v":1,"id":1,"op":"submit","args":{"text":"' + b"x" * (3 << 20) + b'"}}\n'
    raw.send(big + _request(2, "status"))
    first = raw.reply()
    assert first["ok"] is False and first["error"]["code"] == "too_large"
    second = raw.reply()
    assert second["id"] == 2 and second["ok"] is True
    assert shared_daemon.connect().turns() == []  # the oversized message was never queued


def test_hanging_up_mid_frame_and_floods_do_not_hurt_the_daemon(shared_daemon: Daemon) -> None:
    daemon = shared_daemon
    sock_path = daemon.home / "control.sock"
    for _ in range(20):
        client = RawClient(sock_path)
        client.send(b'{"v":1,"id":1,"op":"sta')  # half a frame, then gone
        client.close()
    flood = RawClient(sock_path)
    flood.send(b"".join(_request(i, "status") for i in range(1, 201)))
    ids = {flood.reply()["id"] for _ in range(200)}
    assert ids == set(range(1, 201))
    flood.close()
    assert daemon.proc.poll() is None
    assert daemon.connect().status()["state"] == "running"


def test_hello_checks_the_protocol_version(raw: RawClient) -> None:
    raw.send(_request(1, "hello", {"client": "future", "versions": [7, 8]}))
    reply = raw.reply()
    assert reply["error"]["code"] == "version_mismatch" and "v1" in reply["error"]["message"]
    raw.send(_request(2, "hello", {"client": "test", "versions": [1]}))
    ok = raw.reply()["result"]
    assert ok["protocol"] == 1 and ok["signal_version"] == 1


def _as_nobody(fn: Callable[[], str]) -> str:
    """Run ``fn`` in a forked child whose effective uid/gid are nobody's; its result."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.setegid(65534)
            os.seteuid(65534)
            result = fn()
        except BaseException as exc:
            result = f"raised {type(exc).__name__}: {exc}"
        os.write(write_end, result.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        out = pipe.read()
    os.waitpid(pid, 0)
    return out


@pytest.fixture
def public_home() -> Iterator[Path]:
    """A data dir that user nobody can reach (pytest's tmp dirs are root-only)."""
    root = Path(tempfile.mkdtemp(prefix="ceph-", dir="/tmp"))
    root.chmod(0o755)
    yield root / "home"
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_only_the_owning_user_can_connect(
    daemon_factory: Callable[..., Daemon], public_home: Path
) -> None:
    daemon = daemon_factory(home=public_home)
    sock = public_home / "control.sock"
    assert sock.stat().st_mode & 0o777 == 0o600

    def try_attach() -> str:
        try:
            RemoteBackend(sock, request_timeout_s=5).close()
        except CephalonError as exc:
            return f"refused: {exc}"
        return "connected"

    # 1) the file mode keeps other users out
    first = _as_nobody(try_attach)
    assert first.startswith("refused: permission denied"), first
    # 2) even if the mode is widened, the daemon checks the peer's uid (SO_PEERCRED)
    sock.chmod(0o666)
    second = _as_nobody(try_attach)
    assert second.startswith("refused: permission denied"), second
    assert "only the user who runs the daemon" in second
    assert daemon.proc.poll() is None
    assert daemon.connect().status()["state"] == "running"  # root (the owner) still can


def test_remote_backend_reports_a_missing_daemon_clearly(isolated_home: Path) -> None:
    with pytest.raises(CephalonError, match="no daemon answers"):
        RemoteBackend(isolated_home / "control.sock")


def test_interpreter_is_the_one_under_test() -> None:
    assert Path(sys.executable).exists()
