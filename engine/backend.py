"""What a console needs from an engine, in-process or across the control socket.

The TUI, ``cephalon chat`` and the read commands talk to a :class:`ConsoleBackend`.
:class:`engine.backend_local.LocalBackend` serves it from an :class:`Engine` in
this process; the control-socket client (``engine.control``) serves the same
protocol from a daemon, so a console never cares where the engine runs.
Every value crossing this boundary is JSON-safe (dicts, lists, str, numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from engine.signals import Signal

Observer = Callable[[Signal], None]


class ConsoleBackend(Protocol):
    """Steer and observe one engine."""

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Receive every signal the engine emits from now on.

        Args:
            observer: called on a background thread; must be quick and never block.

        Returns:
            A function that unsubscribes.
        """
        ...

    def submit(self, text: str) -> int:
        """Queue an operator message (durable before this returns).

        Args:
            text: the message.

        Returns:
            The candidate id it was queued as.

        Raises:
            CephalonError: empty text, or the engine is stopped.
        """
        ...

    def pause(self) -> None:
        """Stop taking new turns (the turn in flight finishes)."""
        ...

    def resume(self) -> None:
        """Take turns again."""
        ...

    def unlock(self, minutes: float | None = None) -> str:
        """Let write tools run for a while (recorded in ``safety_audit``).

        Args:
            minutes: how long; None means the policy's default.

        Returns:
            The expiry as an ISO-8601 UTC timestamp.
        """
        ...

    def status(self) -> dict[str, Any]:
        """The status bar's facts.

        Returns:
            ``{"state", "provider", "model", "queue_depth", "memory_count",
            "tokens_per_s", "cost_session_usd", "cost_24h_usd", "unlocked_until",
            "turns", "model_ready", "model_state"}`` (``model_state``: assembling,
            loading, ready or "failed: why", for a model that loads in the background).
        """
        ...

    def turns(self, limit: int = 50) -> list[dict[str, Any]]:
        """Recorded turns, newest first.

        Args:
            limit: at most this many.

        Returns:
            ``[{"id", "started_at", "status", "input", "output"}]``.
        """
        ...

    def turn(self, turn_id: int) -> dict[str, Any]:
        """One turn's full record (attention, context, LLM calls, tool calls, timings).

        Args:
            turn_id: the turn.

        Returns:
            The record, with ``id``, ``status``, ``input`` and ``output`` on top.

        Raises:
            CephalonError: no such turn.
        """
        ...

    def replay(self, turn_id: int, live: bool = False) -> dict[str, Any]:
        """Re-run a recorded turn without side effects.

        Args:
            turn_id: the turn.
            live: against the current provider and memory instead of the recording.

        Returns:
            ``{"turn_id", "match", "original", "replayed", "diff", "stages"}``.

        Raises:
            CephalonError: no such turn, or it has no record to replay.
        """
        ...

    def memory_search(self, query: str, k: int = 10) -> list[dict[str, Any]]:
        """Hybrid search with explanations.

        Args:
            query: the text.
            k: how many hits.

        Returns:
            ``[{"id", "kind", "content", "score", "pinned", "explain": {...}}]``.
        """
        ...

    def memory_set_pinned(self, memory_id: int, pinned: bool) -> None:
        """Pin or unpin a memory.

        Raises:
            CephalonError: no such memory.
        """
        ...

    def memory_forget(self, memory_id: int) -> None:
        """Delete a memory (and its vector).

        Raises:
            CephalonError: no such memory.
        """
        ...

    def job_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Recent job runs, newest first.

        Returns:
            ``[{"id", "job", "started_at", "finished_at", "status", "error", "detail"}]``.
        """
        ...

    def policy_view(self) -> list[dict[str, Any]]:
        """The effective policy, one row per key.

        Returns:
            ``[{"key", "value", "source"}]`` (source: the file that set it).
        """
        ...

    def close(self) -> None:
        """Let go of the engine (in-process: stop it; remote: disconnect)."""
        ...
