"""The wire format: request parsing, framing with a size limit, signal round trips."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime

import pytest

from engine.control.framing import FrameReader, FrameTooLarge, decode_daemon_frame
from engine.control.protocol import (
    OP_ARGS,
    ErrorCode,
    ProtocolError,
    error_frame,
    ok_frame,
    parse_request,
    request_frame,
    signal_frame,
)
from engine.signals import GutDelta, TurnCommitted, signal_to_json


def test_a_request_round_trips_with_defaults_filled_in() -> None:
    request = parse_request(request_frame(9, "turns")[:-1])
    assert (request.id, request.op, request.args) == (9, "turns", {"limit": 50})
    search = parse_request(request_frame(1, "memory_search", {"query": "q"}))
    assert search.args == {"query": "q", "k": 10, "mode": "full"}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{", ErrorCode.BAD_JSON),
        (b'"just a string"', ErrorCode.BAD_FRAME),
        (b'{"v":1,"id":true,"op":"status"}', ErrorCode.BAD_FRAME),
        (b'{"v":1,"id":"7","op":"status"}', ErrorCode.BAD_FRAME),
        (b'{"id":1,"op":"status"}', ErrorCode.VERSION),
        (b'{"v":1,"id":1,"op":5}', ErrorCode.UNKNOWN_OP),
        (b'{"v":1,"id":1,"op":"turn","args":[]}', ErrorCode.BAD_ARGS),
        (b'{"v":1,"id":1,"op":"turn","args":{}}', ErrorCode.BAD_ARGS),
        (b'{"v":1,"id":1,"op":"unlock","args":{"minutes":-5}}', ErrorCode.BAD_ARGS),
        (b'{"v":1,"id":1,"op":"turns","args":{"limit":100000}}', ErrorCode.BAD_ARGS),
    ],
)
def test_bad_requests_raise_a_protocol_error_with_a_code(line: bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_request(line)
    assert caught.value.code == code and caught.value.message


def test_every_console_backend_method_has_an_op() -> None:
    from engine.backend import ConsoleBackend

    methods = {
        name
        for name in vars(ConsoleBackend)
        if not name.startswith("_") and callable(getattr(ConsoleBackend, name))
    }
    assert methods - {"close"} <= set(OP_ARGS)
    assert {"hello", "events_tail", "doctor", "unsubscribe"} <= set(OP_ARGS)


def test_frames_are_one_line_each() -> None:
    for frame in (
        ok_frame(1, {"text": "two\nlines"}),
        error_frame(None, "bad_json", "x"),
        request_frame(2, "submit", {"text": "a\nb"}),
    ):
        assert frame.endswith(b"\n") and frame.count(b"\n") == 1
        json.loads(frame)


def test_signals_round_trip_through_a_frame() -> None:
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    for signal in (
        TurnCommitted(
            ts=ts, turn_id=3, status="committed", output="hi", stop_reason="message", latency_ms=1.5
        ),
        GutDelta(ts=ts, turn_id=3, intensity=0.4, charge=-0.2, toward=[{"id": 1}]),
    ):
        frame = decode_daemon_frame(signal_frame(signal_to_json(signal))[:-1])
        assert frame["signal"] == signal
    unknown = decode_daemon_frame(b'{"v":1,"signal":{"v":1,"kind":"from.the.future","ts":"x"}}')
    assert unknown["signal"] is None


def test_the_frame_reader_skips_an_oversized_line_and_reads_on() -> None:
    left, right = socket.socketpair()
    reader = FrameReader(right, max_bytes=100, chunk=16)

    def feed() -> None:
        left.sendall(b"short\n" + b"y" * 1000 + b"\n" + b"after\n" + b"z" * 101 + b"\n")
        left.sendall(b"x" * 100 + b"\npartial")
        left.close()

    threading.Thread(target=feed).start()
    assert reader.read() == b"short"
    with pytest.raises(FrameTooLarge):
        reader.read()
    assert reader.read() == b"after"
    with pytest.raises(FrameTooLarge):
        reader.read()
    assert reader.read() == b"x" * 100  # exactly the limit is fine
    assert reader.read() is None  # a partial last line is dropped
    right.close()
