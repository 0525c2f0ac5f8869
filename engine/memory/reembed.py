"""Re-embedding after a change of embedding model, in the background.

Vectors are stored per (memory, model), and the ANN index of the current model
only ever holds that model's vectors. After a switch, memories embedded only
under the old model are still found by keyword search; this worker embeds them
with the new model in batches (each batch one transaction, then indexed), so
search becomes complete again without ever mixing two models' vectors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial

import duckdb
import numpy as np
import numpy.typing as npt
import structlog

from engine.memory.service import MemoryService

log = structlog.get_logger("cephalon.memory.reembed")
Progress = Callable[[str, int, int], None]


def _store_vectors(
    service: MemoryService,
    ids: list[int],
    vectors: npt.NDArray[np.float32],
    now: datetime,
    cur: duckdb.DuckDBPyConnection,
) -> None:
    service.repo.insert_vectors(cur, ids, service.embedder.name, vectors, now)


def pending_reembed(service: MemoryService) -> list[int]:
    """Live memories that were embedded before but have no vector under the current model."""
    return service.repo.ids_without_vectors(service.embedder.name)


def reembed(
    service: MemoryService,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Embed every pending memory with the current model.

    Args:
        service: the memory service (its embedder is the new model).
        progress: ``progress("re-embedding", done, total)`` after each batch.
        stop: set to stop after the current batch.

    Returns:
        How many memories were re-embedded.
    """
    pending = pending_reembed(service)
    batch = service.policy.embedding.reembed_batch
    done = 0
    for start in range(0, len(pending), batch):
        if stop is not None and stop.is_set():
            break
        memories = service.repo.get_many(pending[start : start + batch])
        live = [m for m in memories.values() if not m.deleted]
        if not live:
            continue
        vectors = service.embed_texts([service.embedding_text(m) for m in live])
        ids = [m.id for m in live]
        now = service.clock.now()
        service.store.write(partial(_store_vectors, service, ids, vectors, now))
        service.vectors.add(np.asarray(ids, dtype=np.int64), vectors)
        done += len(ids)
        if progress is not None:
            progress("re-embedding", done, len(pending))
    if done:
        service.save_index()
        log.info("re-embedded", count=done, model=service.embedder.name)
    return done


def start_background_reembed(service: MemoryService) -> threading.Event | None:
    """Start re-embedding in a daemon thread if anything is pending.

    Args:
        service: the memory service.

    Returns:
        An event that stops the worker after its current batch, or None when nothing
        was pending.
    """
    if not pending_reembed(service):
        return None
    stop = threading.Event()

    def work() -> None:
        try:
            reembed(service, stop=stop)
        except Exception:
            log.exception("background re-embedding failed")

    threading.Thread(target=work, name="cephalon-reembed", daemon=True).start()
    return stop
