"""Embedding ahead of need: an input is embedded while it is being stored.

Every input the engine queues is embedded by its turn (attention's novelty and
relevance, then the context search). Intake starts that embedding on one
background thread before it writes the input, so the model call (~7 ms with the
embedded MiniLM) overlaps the intake transaction and the wait for the loop's next
tick. A text asked for while still in flight is waited for, never embedded twice;
the result lands in the :class:`~engine.memory.embed_cache.EmbeddingCache`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor


class EmbeddingPrefetch:
    """Texts being embedded on a background thread; thread-safe."""

    def __init__(self, compute: Callable[[list[str]], object], max_pending: int) -> None:
        """Create the prefetcher (its thread starts with the first text).

        Args:
            compute: embeds texts and caches the vectors (its return value is ignored).
            max_pending: texts in flight at most; past it a text is left to its turn
                (a flood of channel messages does not queue unbounded work).
        """
        self._compute = compute
        self._max_pending = max_pending
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cephalon-embed")
        self._pending: dict[str, Future[object]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def start(self, texts: Sequence[str]) -> bool:
        """Start embedding texts not already in flight.

        Args:
            texts: the texts (blank ones are skipped).

        Returns:
            True if a job was started.
        """
        with self._lock:
            room = self._max_pending - len(self._pending)
            new = [t for t in dict.fromkeys(texts) if t.strip() and t not in self._pending]
            new = new[: max(0, room)]
            if self._closed or not new:
                return False
            future = self._executor.submit(self._compute, new)
            for text in new:
                self._pending[text] = future
        future.add_done_callback(lambda _: self._forget(new, future))
        return True

    def wait(self, texts: Sequence[str], timeout: float | None = None) -> bool:
        """Wait for those of ``texts`` that are in flight.

        Args:
            texts: the texts about to be embedded.
            timeout: seconds to wait at most.

        Returns:
            True if any was in flight (its vector is cached now, unless its job failed:
            the caller embeds what the cache still lacks).
        """
        with self._lock:
            futures = {f for t in texts if (f := self._pending.get(t)) is not None}
        for future in futures:
            with contextlib.suppress(Exception):  # a failed prefetch is redone by the caller
                future.result(timeout)
        return bool(futures)

    def pending(self) -> int:
        """Texts in flight."""
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        """Drop queued jobs and wait for the running one."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._pending.clear()

    def _forget(self, texts: list[str], future: Future[object]) -> None:
        with self._lock:
            for text in texts:
                if self._pending.get(text) is future:
                    del self._pending[text]
