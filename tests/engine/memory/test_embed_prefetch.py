"""Inputs are embedded ahead of their turn, once, and a turn waits rather than redo it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.clock import FrozenClock
from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider
from engine.memory.embed import HashingEmbedder
from engine.memory.embed_prefetch import EmbeddingPrefetch
from engine.memory.service import MemoryService
from engine.store import Store


class GatedEmbedder(HashingEmbedder):
    """The hashing embedder, held at a gate and counting what it embeds (a test adapter)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.texts: list[str] = []
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.entered.set()
        assert self.gate.wait(10)
        with self._lock:
            self.texts.extend(texts)
        return super().embed(texts)


def _service(tmp_path: Path, embedder: GatedEmbedder, store: Store) -> MemoryService:
    svc = MemoryService(store, embedder, load_policy().policy, FrozenClock(), tmp_path / "ix")
    svc.open()
    return svc


def test_a_text_in_flight_is_waited_for_not_embedded_twice(tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    with Store(tmp_path / "db.duckdb") as store:
        svc = _service(tmp_path, embedder, store)
        embedder.gate.clear()
        svc.prefetch_embeddings(["what colour is the boat?"])
        assert embedder.entered.wait(5) and svc.prefetch.pending() == 1
        got: list[npt.NDArray[np.float32]] = []
        asker = threading.Thread(
            target=lambda: got.append(svc.embed_texts(["what colour is the boat?", "other"]))
        )
        asker.start()
        asker.join(0.3)
        assert asker.is_alive()  # it waits for the prefetch instead of embedding again
        embedder.gate.set()
        asker.join(5)
        expected = HashingEmbedder().embed(["what colour is the boat?", "other"])
        np.testing.assert_allclose(got[0], expected, atol=1e-6)
        assert sorted(embedder.texts) == ["other", "what colour is the boat?"]
        assert svc.prefetch.pending() == 0
        svc.prefetch_embeddings(["what colour is the boat?"])  # cached now: no new job
        assert svc.prefetch.pending() == 0 and len(embedder.texts) == 2
        svc.close()


def test_prefetch_is_bounded_and_a_failed_job_is_redone_by_the_caller() -> None:
    calls: list[list[str]] = []
    gate = threading.Event()

    def compute(texts: list[str]) -> None:
        calls.append(texts)
        gate.wait(5)
        raise RuntimeError("embedder down")

    prefetch = EmbeddingPrefetch(compute, max_pending=2)
    assert prefetch.start(["a", "b", "c"])  # only two fit
    assert prefetch.pending() == 2
    assert not prefetch.start(["a", "b"])  # already in flight
    assert not prefetch.start(["d"])  # full
    gate.set()
    assert prefetch.wait(["a"], timeout=5)  # the failure is swallowed: the caller embeds
    assert prefetch.pending() == 0 and calls == [["a", "b"]]
    assert not prefetch.wait(["a"])
    prefetch.close()
    assert not prefetch.start(["e"])  # closed


def test_intake_starts_embedding_the_input_and_its_turn_reuses_it(isolated_home: Path) -> None:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    provider = ScriptedProvider([{"type": "message", "content": "Blue."}])
    with Engine(settings, load_policy().policy, provider=provider) as engine:
        memory = engine.memory
        assert memory is not None
        model = memory.embedder.name
        question = "what colour is the boat in the harbour?"
        engine.submit(question)
        memory.prefetch.wait([question], timeout=5)
        early = memory.embed_cache.get(model, question)
        assert early is not None  # embedded before any turn ran
        outcome = engine.step()
        assert outcome is not None and outcome.status == "committed"
        assert memory.embed_cache.get(model, question) is early  # the turn reused it
