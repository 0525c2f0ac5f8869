"""The control socket's wire format: newline-delimited JSON, one object per line.

Requests:  ``{"v": 1, "id": 7, "op": "status", "args": {}}``
Replies:   ``{"v": 1, "id": 7, "ok": true, "result": ...}`` or
           ``{"v": 1, "id": 7, "ok": false, "error": {"code": "...", "message": "..."}}``
Signals:   ``{"v": 1, "signal": {...}}`` (:func:`engine.signals.signal_to_json`), pushed
           to connections that sent ``subscribe``.
Notices:   ``{"v": 1, "notice": {"code": "...", "message": "..."}}`` (e.g. a slow
           subscriber's signals were dropped).

A frame that is not JSON, too long, of another version or an unknown op is
answered with an error (``id`` is null when it could not be read) and the
connection goes on. Ops mirror :class:`engine.backend.ConsoleBackend`, plus
``hello`` (version check), ``subscribe``/``unsubscribe``, ``events_tail`` and
``doctor``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROTOCOL_VERSION = 1


class ErrorCode:
    """The ``error.code`` values a reply can carry."""

    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    TOO_LARGE = "too_large"
    VERSION = "version_mismatch"
    UNKNOWN_OP = "unknown_op"
    BAD_ARGS = "bad_args"
    FAILED = "failed"
    """The operation raised a user-facing error (e.g. no such turn)."""
    INTERNAL = "internal"
    BUSY = "busy"
    PERMISSION = "permission_denied"


class ProtocolError(Exception):
    """A request that cannot be served; becomes an error reply."""

    def __init__(self, code: str, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class NoArgs(_Args):
    pass


class HelloArgs(_Args):
    client: str = "unknown"
    versions: list[int] = Field(default_factory=lambda: [PROTOCOL_VERSION])


class SubmitArgs(_Args):
    text: str


class UnlockArgs(_Args):
    minutes: float | None = Field(default=None, gt=0, le=7 * 24 * 60)


class LimitArgs(_Args):
    limit: int = Field(default=50, ge=1, le=10_000)


class TurnArgs(_Args):
    turn_id: int


class ReplayArgs(_Args):
    turn_id: int
    live: bool = False


class SearchArgs(_Args):
    query: str
    k: int = Field(default=10, ge=1, le=200)
    mode: str = "full"


class PinArgs(_Args):
    memory_id: int
    pinned: bool


class MemoryArgs(_Args):
    memory_id: int


class EventsTailArgs(_Args):
    limit: int = Field(default=20, ge=1, le=10_000)
    after_id: int | None = None


OP_ARGS: dict[str, type[_Args]] = {
    "hello": HelloArgs,
    "subscribe": NoArgs,
    "unsubscribe": NoArgs,
    "submit": SubmitArgs,
    "pause": NoArgs,
    "resume": NoArgs,
    "unlock": UnlockArgs,
    "status": NoArgs,
    "turns": LimitArgs,
    "turn": TurnArgs,
    "replay": ReplayArgs,
    "memory_search": SearchArgs,
    "memory_set_pinned": PinArgs,
    "memory_forget": MemoryArgs,
    "job_runs": LimitArgs,
    "policy_view": NoArgs,
    "events_tail": EventsTailArgs,
    "doctor": NoArgs,
}
"""Every op and the arguments it takes."""


@dataclass(frozen=True)
class Request:
    """A parsed, validated request."""

    id: int
    op: str
    args: dict[str, Any]


def encode(frame: dict[str, Any]) -> bytes:
    """One frame as a line of compact JSON.

    Args:
        frame: a JSON-safe dict.

    Returns:
        UTF-8 bytes ending in ``\\n``.
    """
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def request_frame(request_id: int, op: str, args: dict[str, Any] | None = None) -> bytes:
    """Encode a request."""
    return encode({"v": PROTOCOL_VERSION, "id": request_id, "op": op, "args": args or {}})


def ok_frame(request_id: int, result: Any) -> bytes:
    """Encode a successful reply."""
    return encode({"v": PROTOCOL_VERSION, "id": request_id, "ok": True, "result": result})


def error_frame(request_id: int | None, code: str, message: str) -> bytes:
    """Encode an error reply (``request_id`` None when the request could not be read)."""
    return encode(
        {
            "v": PROTOCOL_VERSION,
            "id": request_id,
            "ok": False,
            "error": {"code": code, "message": message},
        }
    )


def signal_frame(signal_json: dict[str, Any]) -> bytes:
    """Encode a pushed signal."""
    return encode({"v": PROTOCOL_VERSION, "signal": signal_json})


def notice_frame(code: str, message: str) -> bytes:
    """Encode a notice (not a reply to any request)."""
    return encode({"v": PROTOCOL_VERSION, "notice": {"code": code, "message": message}})


def parse_request(line: bytes) -> Request:
    """Read and validate one request line.

    Args:
        line: the frame without its newline.

    Returns:
        The request with validated arguments (defaults filled in).

    Raises:
        ProtocolError: not JSON, not an object, wrong version, unknown op or bad args.
    """
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "a request is a JSON object")
    raw_id = data.get("id")
    request_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
    if request_id is None:
        raise ProtocolError(ErrorCode.BAD_FRAME, "a request needs an integer id")
    version = data.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.VERSION,
            f"this daemon speaks control protocol v{PROTOCOL_VERSION}, not v{version}",
            request_id,
        )
    op = data.get("op")
    if not isinstance(op, str) or op not in OP_ARGS:
        raise ProtocolError(ErrorCode.UNKNOWN_OP, f"unknown op {op!r}", request_id)
    args = data.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ProtocolError(ErrorCode.BAD_ARGS, f"{op}: args must be an object", request_id)
    try:
        parsed = OP_ARGS[op].model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors()
        )
        raise ProtocolError(ErrorCode.BAD_ARGS, f"{op}: {problems}", request_id) from None
    return Request(request_id, op, parsed.model_dump())
