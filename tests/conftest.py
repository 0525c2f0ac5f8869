"""Shared fixtures. Every test gets its own data dir; no test touches a real home."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.clock import FrozenClock
from tests.fakes.llm_server import FakeLLMServer


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point CEPHALON_HOME at a fresh temp dir and drop any other CEPHALON_* settings."""
    for key in list(os.environ):
        if key.startswith("CEPHALON_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("CEPHALON_HOME", str(home))
    yield home


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    """A real HTTP server on 127.0.0.1 speaking the OpenAI and Ollama chat protocols."""
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2026-01-01 12:00 UTC."""
    return FrozenClock()


@pytest.fixture(scope="session")
def local_model(request: pytest.FixtureRequest) -> Iterator[object]:
    """The real embedded model, loaded once per test session (skips when not installed).

    The GGUF is assembled into the pytest cache dir, so later runs skip the assembly.
    """
    from engine.llm.local import LoadState, LocalProvider
    from engine.llm.local_load import xllamacpp_available
    from engine.llm.model_files import ensure_embedded_model, model_parts_status

    available, reason = xllamacpp_available()
    if not available:
        pytest.skip(reason)
    status = model_parts_status()
    if not status.installed:
        pytest.skip(status.reason)
    model_dir = Path(request.config.cache.mkdir("cephalon-embedded-model"))
    path = ensure_embedded_model(model_dir, verify_hash=False)
    provider = LocalProvider(path, n_threads=2, n_ctx=4096)
    state = provider.wait_ready(timeout_s=300)
    if state is not LoadState.READY:
        pytest.fail(f"embedded model did not load: {provider.status()}")
    yield provider
    provider.close()
