"""The engine: owns the store, memory, providers and tool runtime; runs turns.

This is the assembly point every front end uses (CLI chat, TUI, daemon). The
always-on loop (ticks, attention over queued inputs, pause/resume) builds on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.costs import CostLedger
from engine.factory import build_memory, build_provider
from engine.llm.base import Provider
from engine.logs import configure_file_logging
from engine.memory.reembed import start_background_reembed
from engine.memory.service import MemoryService, OpenReport
from engine.pipeline.act import ActLoop
from engine.pipeline.turn import TurnOutcome, TurnRunner
from engine.policy import Policy
from engine.signals import SignalBus
from engine.store import Store
from engine.tools import SourceTag, ToolRegistry, ToolRuntime, register_builtin_tools

Progress = Callable[[str, int, int], None]


class Engine:
    """Everything a turn needs, opened together and closed together."""

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        *,
        provider: Provider | None = None,
        clock: Clock | None = None,
        with_memory: bool = True,
        progress: Progress | None = None,
    ) -> None:
        """Open the data dir's store, memory, provider and tools.

        Args:
            settings: where and how to run.
            policy: how the mind behaves.
            provider: use this provider (tests, replay) instead of the configured one.
            clock: time source.
            with_memory: open the memory (embedder + indexes); False for tool-only use.
            progress: ``(stage, done, total)`` for index builds and model assembly.

        Raises:
            CephalonError: the data dir, database or configuration is unusable.
        """
        self.settings = settings
        self.policy = policy
        self.clock = clock or SystemClock()
        self.bus = SignalBus()
        settings.data_dir.ensure_writable()
        if not structlog.is_configured():  # never log to the terminal a UI may own
            configure_file_logging(settings.data_dir.logs_dir / "engine.log", settings.log_level)
        self.store = Store(settings.data_dir.db_path, clock=self.clock)
        try:
            self.memory: MemoryService | None = None
            self.memory_report: OpenReport | None = None
            self._reembed_stop: threading.Event | None = None
            if with_memory:
                self.memory = build_memory(settings, policy, self.store, self.clock)
                self.memory_report = self.memory.open(progress)
                # after a change of embedding model: catch up in the background
                self._reembed_stop = start_background_reembed(self.memory)
            self._owns_provider = provider is None
            self.provider = provider or build_provider(
                settings,
                policy,
                on_progress=(lambda done, total: progress("model", done, total))
                if progress
                else None,
            )
            self.registry = ToolRegistry()
            register_builtin_tools(self.registry)
            self.runtime = ToolRuntime(
                self.registry,
                self.store,
                self.clock,
                policy.tools,
                self.bus,
                services={"memory": self.memory, "status": self.status}
                if self.memory
                else {"status": self.status},
            )
            self.ledger = CostLedger(self.store, self.clock, policy.llm)
            self.turns = TurnRunner(
                self.store,
                self.memory,
                ActLoop(self.provider, self.runtime, policy),
                self.ledger,
                policy,
                self.clock,
                self.bus,
            )
        except BaseException:
            self.store.close()
            raise

    def status(self) -> dict[str, Any]:
        """Provider, model and costs (the ``system.status`` tool adds counts)."""
        return {
            "provider": self.provider.name,
            "model": self.provider.model,
            "costs": self.ledger.summary(),
        }

    def run_turn(self, text: str, source: SourceTag = SourceTag.OPERATOR) -> TurnOutcome:
        """Run and commit one turn for an input."""
        return self.turns.run(text, source=source)

    def close(self) -> None:
        """Save the index, stop tool workers and the provider, close the store."""
        try:
            if self._reembed_stop is not None:
                self._reembed_stop.set()
            if self.memory is not None:
                self.memory.close()
            self.runtime.close()
            if self._owns_provider:  # a provider handed in belongs to the caller
                self.provider.close()
        finally:
            self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
