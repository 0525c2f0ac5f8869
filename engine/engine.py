"""The engine: owns the store, memory, providers and tool runtime; runs turns.

This is the assembly point every front end uses (CLI chat, TUI, daemon):
``submit`` queues an input durably, the always-on loop (``start``) or ``step``
runs the most salient pending input's turn, ``pause``/``resume``/``stop`` steer it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import structlog

from engine.channels.discord_channel import DiscordChannel
from engine.channels.discord_setup import intake_handler, open_discord
from engine.clock import Clock, SystemClock, from_naive_utc
from engine.config import Settings
from engine.costs import CostLedger
from engine.errors import CephalonError
from engine.factory import build_memory, build_mind, build_provider, build_tool_registry
from engine.jobs.base import JobContext
from engine.jobs.registry import builtin_jobs
from engine.jobs.scheduler import Scheduler
from engine.llm.base import Provider
from engine.logs import configure_file_logging
from engine.loop import MindLoop
from engine.memory.reembed import start_background_reembed
from engine.memory.service import MemoryService, OpenReport
from engine.mind.dmn import DefaultModeNetwork
from engine.mind.gut import GutReading
from engine.pipeline.act import ActLoop
from engine.pipeline.intake import Intake
from engine.pipeline.turn import TurnOutcome, TurnRunner
from engine.policy import Policy
from engine.recovery import recover
from engine.signals import SignalBus
from engine.store import Store
from engine.store.sql import scalar
from engine.tools import ToolRuntime
from engine.tools.registry import Scope, SourceTag

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
        self.store = Store(settings.data_dir.db_path, clock=self.clock, threads=settings.db_threads)
        try:
            self.recovery = recover(self.store, self.clock)
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
            self.registry = build_tool_registry(policy)
            self.runtime = ToolRuntime(
                self.registry,
                self.store,
                self.clock,
                policy.tools,
                self.bus,
                services={"memory": self.memory, "status": self.status, "provider": self.provider}
                if self.memory
                else {"status": self.status, "provider": self.provider},
            )
            self.ledger = CostLedger(self.store, self.clock, policy.llm)
            self.turns = TurnRunner(
                self.store,
                self.memory,
                ActLoop(self.provider, self.runtime, policy),
                build_mind(settings, policy, self.store, self.memory, self.clock, self.ledger),
                policy,
                self.clock,
                self.bus,
            )
            self.intake = Intake(
                self.store,
                policy,
                self.clock,
                self.memory.prefetch_embeddings if self.memory is not None else None,
                queue=self.turns.mind.queue,
            )
            self.started_at = self.clock.now()
            self.dmn = DefaultModeNetwork(
                self.store, policy.dmn, np.random.default_rng([settings.seed, 0xD3])
            )
            self.turns.on_gut = self._gut_feeling
            self.discord: DiscordChannel | None = None
            self._stopped = False
            self.jobs = Scheduler(
                JobContext(
                    store=self.store,
                    policy=policy,
                    clock=self.clock,
                    bus=self.bus,
                    memory=self.memory,
                    provider=self.provider,
                    runtime=self.runtime,
                ),
                builtin_jobs(),
                seed=settings.seed,
            )
            self._flush_scratch("start")  # what the last run left buffered
            self._step_lock = threading.RLock()
            self.loop = MindLoop(
                step=lambda cancel: self.step(cancel) is not None,
                has_work=self.turns.has_pending,
                tick=self._tick,
                tick_seconds=policy.engine.tick_seconds,
                bus=self.bus,
                clock=self.clock,
                busy=self._step_lock,
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

    def _gut_feeling(self, reading: GutReading, turn_id: int) -> None:
        """A strongly charged gut reading becomes a candidate (one waits at a time)."""
        waiting = self.turns.mind.queue.count("gut")
        if waiting or not reading.toward:
            return
        toward = "; ".join(str(t["content"])[:80] for t in reading.toward[:2])
        self.intake.submit(
            f"(gut feeling after turn {turn_id}, charge {reading.charge:.2f}) "
            f"Attention has drifted from what you usually hold; it points toward: {toward}",
            source="gut",
        )

    def _flush_scratch(self, when: str) -> None:
        try:
            self.turns.flush_scratch()
        except Exception:  # a failed flush keeps the items buffered for the next one
            structlog.get_logger("cephalon.engine").exception("scratch.flush_failed", when=when)

    # ------------------------------------------------------------ the loop ---
    def _tick(self) -> None:
        """Once per loop tick: an idle thought when nothing came in for a while, and the
        heartbeat jobs that are due (they run on the scheduler's workers)."""
        last = scalar(self.store.reader(), "SELECT max(created_at) FROM candidates")
        last_input = max(from_naive_utc(last), self.started_at) if last else self.started_at
        thought = self.dmn.propose(self.clock.now(), last_input)
        if thought is not None:
            self.intake.submit(thought, source="dmn")
        self.jobs.tick()

    @property
    def state(self) -> str:
        """``running``, ``paused``, ``stopping`` or ``stopped`` (the loop's state)."""
        return self.loop.state.value

    def start(self) -> None:
        """Start the always-on loop (turns for queued inputs, heartbeat jobs) and, when a
        bot token is configured, the Discord channel.

        Raises:
            CephalonError: the Discord token is rejected or Discord cannot be reached.
        """
        if self.discord is None:
            self.discord = open_discord(
                self.settings.data_dir.root,
                self.policy,
                self.store,
                self.clock,
                intake_handler(self.intake, self.loop.wake),
            )
            if self.discord is not None:
                self.runtime.services["discord"] = self.discord
                self.jobs.context.channels["discord"] = self.discord
                self.turns.speak = self._speak_discord
        self.loop.start()

    def _speak_discord(self, channel_id: str, text: str, turn_id: int) -> None:
        """A reply to a Discord input goes back through the tool runtime (budgets,
        rate limits and the external-scope permission hold)."""
        outcome = self.runtime.call(
            "discord.send",
            {"channel_id": channel_id, "content": text},
            turn_id=turn_id,
            source=SourceTag.CHANNEL,
            confidence=1.0,
        )
        if not outcome.ok:
            raise CephalonError(f"reply not sent to {channel_id}: {outcome.error}")

    def pause(self) -> None:
        """Take no new turns; the turn in flight finishes."""
        self.loop.pause()

    def resume(self) -> None:
        """Take turns again."""
        self.loop.resume()

    def stop(self, drain_seconds: float | None = None) -> None:
        """Stop the loop: the turn in flight finishes, or is cancelled and checkpointed
        after ``drain_seconds`` (default: the policy's stage timeout); job runs in flight
        get as long, then are left to end with the process."""
        drain = self.policy.engine.stage_timeout_seconds if drain_seconds is None else drain_seconds
        self.loop.stop(drain)
        self.jobs.close(drain)
        self._stopped = True

    def submit(
        self,
        text: str,
        *,
        source: str = "operator",
        channel_id: str | None = None,
        author_id: str | None = None,
        author_is_bot: bool = False,
    ) -> int:
        """Queue an input (durable when this returns) and wake the loop.

        Args:
            text: the input.
            source: ``operator``, ``channel``, ``gut``, ``job`` or ``dmn``.
            channel_id: where it came from.
            author_id: who wrote it.
            author_is_bot: written by a bot.

        Returns:
            The candidate id.

        Raises:
            CephalonError: empty text or unknown source.
        """
        submitted = self.intake.submit(
            text,
            source=source,
            channel_id=channel_id,
            author_id=author_id,
            author_is_bot=author_is_bot,
        )
        self.loop.wake()
        return submitted.candidate_id

    def step(self, cancel: threading.Event | None = None) -> TurnOutcome | None:
        """Run the turn of the most salient pending input, if any.

        Args:
            cancel: set to stop the turn early (it is committed as cancelled).

        Returns:
            The outcome, or None when nothing was pending.
        """
        with self._step_lock:
            return self.turns.step(cancel)

    def run_turn(self, text: str, source: str = "operator") -> TurnOutcome:
        """Queue an input and run turns until its own turn has run (chat --once, tests).

        Args:
            text: the input.
            source: where it came from.

        Returns:
            The outcome of the input's turn.
        """
        candidate_id = self.submit(text, source=source)
        while True:
            outcome = self.step()
            if outcome is None:
                raise CephalonError(f"input {candidate_id} was dropped before its turn ran")
            if outcome.candidate_id == candidate_id:
                return outcome

    def unlock(self, minutes: float | None = None) -> datetime:
        """Let write, external and admin tools run for a while (audited).

        Args:
            minutes: how long; None = the policy's default.

        Returns:
            When the unlock expires.
        """
        return self.runtime.permissions.unlock([Scope.WRITE, Scope.EXTERNAL, Scope.ADMIN], minutes)

    def close(self) -> None:
        """Stop the loop, save the index, stop tool workers and the provider, close the store."""
        try:
            if self.discord is not None:
                self.discord.stop()
            if not self._stopped:
                self.stop()
            self._flush_scratch("stop")
            self.turns.close()
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
