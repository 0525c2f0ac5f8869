"""HTTP embedders against real HTTP servers on 127.0.0.1 (no mocks of httpx)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from engine.memory.embed import (
    Embedder,
    EmbedderUnavailableError,
    EmbeddingHTTPError,
    EmbeddingResponseError,
)
from engine.memory.embed_http import OllamaEmbedder, OpenAICompatibleEmbedder

Reply = tuple[int, Any]
"""(HTTP status, JSON body or raw str)."""


class FakeServer:
    """Records requests; answers with ``reply(path, body)``."""

    def __init__(self, reply: Callable[[str, dict[str, Any]], Reply]) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append((self.path, body, dict(self.headers)))
                status, payload = reply(self.path, body)
                data = (
                    payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[str, dict[str, Any]], Reply]], FakeServer]]:
    servers: list[FakeServer] = []

    def start(reply: Callable[[str, dict[str, Any]], Reply]) -> FakeServer:
        server = FakeServer(reply)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _vector(text: str) -> list[float]:
    """A deterministic non-normalized 3-d vector per text."""
    return [float(len(text)), 2.0, 1.0]


def ollama_reply(path: str, body: dict[str, Any]) -> Reply:
    if path != "/api/embed":
        return 404, {"error": "not found"}
    if body["model"] != "nomic-embed-text":
        return 404, {"error": f'model "{body["model"]}" not found, try pulling it first'}
    return 200, {"model": body["model"], "embeddings": [_vector(t) for t in body["input"]]}


def openai_reply(path: str, body: dict[str, Any]) -> Reply:
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(t)}
        for i, t in enumerate(body["input"])
    ]
    return 200, {"object": "list", "data": list(reversed(data)), "model": body["model"]}


def test_ollama_batches_normalizes_and_names(serve: Any) -> None:
    server = serve(ollama_reply)
    with OllamaEmbedder(model="nomic-embed-text", base_url=server.url, batch_size=2) as model:
        _typed: Embedder = model  # static conformance (mypy)
        vectors = model.embed(["a", "bbb", "cc"])
        assert model.name == "ollama:nomic-embed-text"
        assert model.dim == 3
    assert vectors.shape == (3, 3) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(vectors[1], np.array([3, 2, 1]) / np.sqrt(14), rtol=1e-6)
    assert [body["input"] for _, body, _ in server.requests] == [["a", "bbb"], ["cc"]]


def test_unknown_dim_is_probed_once(serve: Any) -> None:
    server = serve(ollama_reply)
    model = OllamaEmbedder(model="nomic-embed-text", base_url=server.url)
    assert model.dim == 3
    assert model.dim == 3
    assert len(server.requests) == 1


def test_openai_compatible_orders_by_index_and_sends_the_key(serve: Any) -> None:
    server = serve(openai_reply)
    model = OpenAICompatibleEmbedder(
        model="text-embedding-3-small", base_url=server.url + "/v1/", api_key="sk-test"
    )
    vectors = model.embed(["a", "bbbb"])
    np.testing.assert_allclose(vectors[1], np.array([4, 2, 1]) / np.sqrt(21), rtol=1e-6)
    path, body, headers = server.requests[0]
    assert path == "/v1/embeddings"
    assert body == {"model": "text-embedding-3-small", "input": ["a", "bbbb"]}
    assert headers["Authorization"] == "Bearer sk-test"
    assert model.name == "openai-compatible:text-embedding-3-small"


def test_http_error_carries_status_and_server_message(serve: Any) -> None:
    server = serve(ollama_reply)
    model = OllamaEmbedder(model="missing-model", base_url=server.url)
    with pytest.raises(EmbeddingHTTPError, match="try pulling it first") as info:
        model.embed(["x"])
    assert info.value.status_code == 404


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OllamaEmbedder(model="m", base_url=f"http://127.0.0.1:{port}", timeout_s=2.0)
    with pytest.raises(EmbedderUnavailableError, match="cannot reach"):
        model.embed(["x"])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not json", "invalid JSON"),
        ({"nothing": []}, "no 'embeddings'"),
        ({"embeddings": [[1.0, 0.0]]}, "asked for 2 vectors, got 1"),
        ({"embeddings": [[0.0, 0.0], [1.0, 0.0]]}, "zero length"),
        ({"embeddings": [[1.0, 0.0], [1.0]]}, "unusable vectors"),
    ],
)
def test_malformed_answers_are_response_errors(serve: Any, payload: Any, message: str) -> None:
    server = serve(lambda path, body: (200, payload))
    model = OllamaEmbedder(model="m", base_url=server.url)
    with pytest.raises(EmbeddingResponseError, match=message):
        model.embed(["x", "y"])


def test_dimension_change_is_detected(serve: Any) -> None:
    server = serve(ollama_reply)
    model = OllamaEmbedder(model="nomic-embed-text", base_url=server.url, dim=768)
    with pytest.raises(EmbeddingResponseError, match="3-d vectors, expected 768"):
        model.embed(["x"])


def test_token_estimate_covers_words_and_unbroken_strings() -> None:
    model = OllamaEmbedder(model="m")
    assert model.count_tokens("one two three four five six seven eight nine ten") == 13
    assert model.count_tokens("x" * 400) == 100
