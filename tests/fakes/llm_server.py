"""A real HTTP server on 127.0.0.1 that speaks OpenAI and Ollama chat, driven by a script.

Usage::

    with FakeLLMServer() as server:
        server.script(Reply("Hello"), Status(429, retry_after=2), Reply(tool=("clock__now", {})))
        provider = OpenAICompatProvider(server.url, "m")

Each request takes the next action from the queue (or the default when the
queue is empty: a 500 saying the script ran out). Protocol is chosen by path:
``/v1/chat/completions`` (SSE when ``"stream": true``, JSON otherwise) and
``/api/chat`` (NDJSON unless ``"stream": false``). Every request is recorded
(path, headers, JSON body) so tests can check what the client sent.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """Answer with text and/or one native tool call.

    Attributes:
        text: the content (streamed word by word).
        tool: ``(name, args)`` for a native tool call (name as sent on the wire).
        delay_s: sleep this long before the response headers.
        chunk_delay_s: sleep between streamed chunks.
        usage: ``(prompt_tokens, completion_tokens)``; None sends no usage.
        malformed_after: send a broken JSON chunk after this many chunks.
        drop_after: close the connection after this many chunks (no final chunk).
        arguments_text: send tool arguments as this raw string instead of JSON of ``args``.
    """

    text: str = ""
    tool: tuple[str, dict[str, Any]] | None = None
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    usage: tuple[int, int] | None = (12, 5)
    malformed_after: int | None = None
    drop_after: int | None = None
    arguments_text: str | None = None


@dataclass(frozen=True)
class Status:
    """Answer with an error status.

    Attributes:
        code: the HTTP status.
        body: the JSON error body (default: an OpenAI-style error object).
        retry_after: the Retry-After header value, if any.
        delay_s: sleep before answering.
    """

    code: int
    body: dict[str, Any] | None = None
    retry_after: str | float | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Drop:
    """Close the connection without any response."""


Action = Reply | Status | Drop


@dataclass
class RecordedRequest:
    """What the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)


class FakeLLMServer:
    """A scripted OpenAI + Ollama chat server in a background thread."""

    def __init__(self) -> None:
        self._actions: collections.deque[Action] = collections.deque()
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:43123``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeLLMServer:
        """Start serving (returns self)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *actions: Action) -> None:
        """Queue actions, one per coming request."""
        with self._lock:
            self._actions.extend(actions)

    def next_action(self) -> Action:
        """The action for the request being served."""
        with self._lock:
            if self._actions:
                return self._actions.popleft()
        return Status(500, {"error": {"message": "fake server: script exhausted"}})

    def record(self, request: RecordedRequest) -> None:
        """Keep a received request."""
        with self._lock:
            self.requests.append(request)


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (timeouts, cancel) are expected: no tracebacks."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def free_port() -> int:
    """A TCP port nothing listens on right now (for "connection refused" tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_handler(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            server.record(RecordedRequest("POST", self.path, dict(self.headers.items()), body))
            action = server.next_action()
            if isinstance(action, Drop):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            time.sleep(action.delay_s)
            if isinstance(action, Status):
                self._send_status(action)
            elif self.path.rstrip("/").endswith("/api/chat"):
                self._ollama(action, body)
            elif self.path.rstrip("/").endswith("/chat/completions"):
                self._openai(action, body)
            else:
                self._send_status(Status(404, {"error": {"message": f"no route {self.path}"}}))

        def _send_status(self, status: Status) -> None:
            payload = json.dumps(status.body or {"error": {"message": f"status {status.code}"}})
            self.send_response(status.code)
            self.send_header("Content-Type", "application/json")
            if status.retry_after is not None:
                self.send_header("Retry-After", str(status.retry_after))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

        def _openai(self, reply: Reply, body: dict[str, Any]) -> None:
            if not body.get("stream"):
                self._send_json(_openai_full(reply, body))
                return
            chunks = [json.dumps(chunk) for chunk in _openai_chunks(reply, body)]
            self._stream(
                "text/event-stream",
                [f"data: {c}\n\n" for c in chunks],
                reply,
                "data: {not json\n\n",
                "data: [DONE]\n\n",
            )

        def _ollama(self, reply: Reply, body: dict[str, Any]) -> None:
            lines = [json.dumps(line) + "\n" for line in _ollama_lines(reply, body)]
            if body.get("stream") is False:
                merged = _ollama_lines(reply, body)[-1]
                merged["message"]["content"] = reply.text
                self._send_json(merged)
                return
            self._stream("application/x-ndjson", lines, reply, "{not json\n", None)

        def _send_json(self, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(
            self, content_type: str, parts: list[str], reply: Reply, bad: str, tail: str | None
        ) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for index, part in enumerate(parts):
                if reply.malformed_after is not None and index == reply.malformed_after:
                    self._chunk(bad)
                if reply.drop_after is not None and index == reply.drop_after:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._chunk(part)
                time.sleep(reply.chunk_delay_s)
            if tail:
                self._chunk(tail)
            self.wfile.write(b"0\r\n\r\n")

        def _chunk(self, text: str) -> None:
            data = text.encode()
            try:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            except OSError:
                self.close_connection = True

    return Handler


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [word + (" " if index < len(words) - 1 else "") for index, word in enumerate(words)]


def _openai_chunks(reply: Reply, body: dict[str, Any]) -> list[dict[str, Any]]:
    model = body.get("model", "fake")
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    for word in _words(reply.text) if reply.text else []:
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": word}}]})
    if reply.tool is not None:
        name, args = reply.tool
        arguments = reply.arguments_text if reply.arguments_text is not None else json.dumps(args)
        half = len(arguments) // 2
        first = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": name, "arguments": arguments[:half]},
        }
        second = {"index": 0, "function": {"arguments": arguments[half:]}}
        for call in (first, second):
            chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    finish = "tool_calls" if reply.tool else "stop"
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if reply.usage is not None and (body.get("stream_options") or {}).get("include_usage"):
        prompt, completion = reply.usage
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks


def _openai_full(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool is not None:
        name, args = reply.tool
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
        ]
    response: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    if reply.usage is not None:
        response["usage"] = {"prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1]}
    return response


def _ollama_lines(reply: Reply, body: dict[str, Any]) -> list[dict[str, Any]]:
    model = body.get("model", "fake")
    lines: list[dict[str, Any]] = []
    for word in _words(reply.text) if reply.text else []:
        lines.append(
            {"model": model, "message": {"role": "assistant", "content": word}, "done": False}
        )
    if reply.tool is not None:
        name, args = reply.tool
        call = {"function": {"name": name, "arguments": args}}
        lines.append(
            {
                "model": model,
                "done": False,
                "message": {"role": "assistant", "content": "", "tool_calls": [call]},
            }
        )
    final: dict[str, Any] = {
        "model": model,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 2_000_000,
    }
    if reply.usage is not None:
        final.update(
            prompt_eval_count=reply.usage[0],
            prompt_eval_duration=500_000_000,
            eval_count=reply.usage[1],
            eval_duration=250_000_000,
        )
    lines.append(final)
    return lines
