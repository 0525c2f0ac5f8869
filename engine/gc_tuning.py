"""Keep Python's cyclic garbage collector out of a long-running process's turns.

A full collection walks every tracked object. With the engine's indexes and caches
in-process (the keyword index alone holds millions of small objects at 100k
memories) one took 80-140 ms here: a pause inside whatever turn or keypress it
lands on. Each entry point (TUI, daemon, ``chat``) calls
:func:`freeze_startup_objects` once the engine is up.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Move everything alive after start-up out of the collector's way.

    Frozen objects are never scanned again (they are still freed by refcount).
    Young collections are made rarer too (every 10,000 net allocations instead of
    700): under a stream of signals that cut the collections ~3x and the time in
    them ~45% (bench/bench_tui.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)
