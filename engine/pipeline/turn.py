"""One turn, end to end: attend -> context -> generate/act (the gut alongside) -> gates
-> commit.

``step`` weighs every pending candidate (attention), takes the winner's turn id and
runs the stages; the transaction that opens the turn and records the decision runs
beside the model call (:mod:`engine.pipeline.turn_open`). Each stage
is timed; a stage that raises fails the turn (recorded, ``engine.error`` signal),
never the loop. The gut is measured on a stage thread while the model generates, so
it adds nothing to a turn's latency unless it outlasts the model; its failure is
recorded and the turn goes on without a reading. The commit is one transaction
(:mod:`engine.pipeline.turn_commit`); vectors and the ``turn.committed`` signal
follow it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import structlog

from engine.clock import Clock
from engine.llm.base import ChatMessage, TextDelta
from engine.memory.service import MemoryService
from engine.mind.attention import Attention, AttentionDecision
from engine.mind.candidate_queue import CandidateQueue
from engine.mind.gate_effects import after_reinforce
from engine.mind.gates import EntryGate, ExitGate
from engine.mind.gut import Gut, GutReading
from engine.mind.salience import ExitJudge, SalienceInputs
from engine.mind.scratch import ScratchBuffer
from engine.pipeline.act import ActLoop, ActResult
from engine.pipeline.context import AssembledContext, ContextAssembler, inclusions_signal
from engine.pipeline.transcript import TranscriptCache
from engine.pipeline.turn_commit import ActProducts, EarlyPart, TurnCommitter, TurnProducts
from engine.pipeline.turn_gates import gate_turn
from engine.pipeline.turn_open import TurnIds, TurnOpening
from engine.pipeline.turn_record import TurnOutcome, build_outcome, build_record
from engine.policy import Policy
from engine.signals import (
    CognitiveState,
    EngineError,
    LlmDelta,
    SignalBus,
    TurnCommitted,
    TurnStarted,
)
from engine.store import Store
from engine.tools.registry import SourceTag

__all__ = ["MindParts", "TurnOutcome", "TurnRunner"]

log = structlog.get_logger("cephalon.turn")

PROMPTS = Path(__file__).resolve().parents[2] / "data" / "prompts"

T = TypeVar("T")

Speaker = Callable[[str, str, int], None]
"""``speak(channel_id, text, turn_id)``: deliver a reply to the channel an input came from."""


@dataclass
class MindParts:
    """The cognition a turn runs through (built by the engine)."""

    queue: CandidateQueue
    assembler: ContextAssembler
    entry_gate: EntryGate
    exit_gate: ExitGate
    scratch: ScratchBuffer | None
    gut: Gut | None
    committer: TurnCommitter
    max_context_tokens: int


class TurnRunner:
    """Runs turns for queued candidates."""

    def __init__(
        self,
        store: Store,
        memory: MemoryService | None,
        act: ActLoop,
        mind: MindParts,
        policy: Policy,
        clock: Clock,
        bus: SignalBus,
    ) -> None:
        self.store = store
        self.memory = memory
        self.act = act
        self.mind = mind
        self.policy = policy
        self.clock = clock
        self.bus = bus
        self.speak: Speaker | None = None
        """Set by the engine when channels can carry replies (Discord...)."""
        self.on_gut: Callable[[GutReading, int], None] | None = None
        """Set by the engine: called with a charged reading (it may queue a gut candidate)."""
        self.exchanges = 0
        self.transcripts = TranscriptCache(store)
        """The working transcripts, kept up to date as turns commit."""
        self._turn_ids = TurnIds(store)
        self._opening_failed = False
        """The last turn's opening failed: the next one waits for its own before the
        model call (a broken store must not cost a model call per retry)."""
        self._stages = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cephalon-stage")
        self.system_prompt = (PROMPTS / "system.md").read_text(encoding="utf-8").strip()

    def has_pending(self) -> bool:
        """True when an input waits for its turn."""
        return self.mind.queue.depth() > 0

    def salience_inputs(self, transcript: list[ChatMessage]) -> SalienceInputs:
        """Novelty, relevance and charge for this turn."""
        return SalienceInputs(self.memory, self.mind.gut, transcript, self.policy.attention)

    def step(self, cancel: threading.Event | None = None) -> TurnOutcome | None:
        """Weigh the pending candidates and run the winner's turn.

        Args:
            cancel: set to stop the turn early (it is committed as cancelled).

        Returns:
            The outcome, or None when nothing was pending (or everything was dropped).
        """
        t0 = time.perf_counter()
        pending = self.mind.queue.pending()
        if not pending:
            return None
        turns = self.policy.context.transcript_turns
        console = self.transcripts.get(turns)  # the operator's recent messages are goals
        inputs = self.salience_inputs(console)
        attention = Attention(self.policy, inputs.novelty, inputs.relevance, inputs.charge)
        decision = attention.decide(pending)
        now = self.clock.now()
        if decision.winner is None:  # nothing to run: record the decision (drops) now
            TurnOpening(self.store, self.mind.queue, self.bus, decision, None, now).wait()
            self.bus.emit(attention.signal(decision, now, None))
            return None
        turn_id = self._turn_ids.take()
        opening = TurnOpening(
            self.store,
            self.mind.queue,
            self.bus,
            decision,
            turn_id,
            now,
            self._turn_ids,
            run_later=self._stages.submit,
        )
        transcript = console
        channel = decision.winner.candidate.channel_id
        if channel is not None:  # a channel's turn continues that channel's exchanges
            transcript = self.transcripts.get(turns, channel)
        context = self._start_context(decision, transcript)
        budget = self._submit(self.act.runtime.budgets.tokens_exhausted)  # its own SQL
        opening.emit(attention.signal(decision, now, turn_id))
        return self.run(
            decision,
            opening,
            inputs,
            transcript,
            cancel,
            attention_ms=_ms(t0),
            context=context,
            budget=budget,
        )

    def _start_context(
        self, decision: AttentionDecision, transcript: list[ChatMessage]
    ) -> _StageJob[AssembledContext]:
        assert decision.winner is not None
        text = decision.winner.candidate.text
        return self._submit(
            lambda: self.mind.assembler.assemble(
                text, transcript, self.system_prompt, decision.report, self.mind.max_context_tokens
            )
        )

    def run(
        self,
        decision: AttentionDecision,
        opening: TurnOpening,
        inputs: SalienceInputs,
        transcript: list[ChatMessage],
        cancel: threading.Event | None = None,
        *,
        attention_ms: float | None = None,
        context: _StageJob[AssembledContext] | None = None,
        budget: _StageJob[str | None] | None = None,
    ) -> TurnOutcome:
        """Run the stages of an opened turn and commit it.

        Args:
            decision: attention's decision (its winner is this turn's input).
            opening: the turn's opening (its id taken, its transaction not yet
                started: it is started once the context is built and waited for
                before any tool runs and before the commit).
            inputs: this turn's salience inputs (the exit gate uses them too).
            transcript: the working transcript before the input, oldest first.
            cancel: set to stop early.
            attention_ms: how long weighing the candidates took.
            context: the context stage, already started (default: started here).
            budget: the first model call's token-budget check, already started
                (default: the act loop makes it).

        Returns:
            The outcome (the turn is committed, whatever its status), with per-stage
            timings including the commit's.

        Raises:
            Exception: the opening transaction failed (the turn has no row to commit
                to; its input stays pending).
        """
        assert decision.winner is not None and opening.turn_id is not None
        turn_id = opening.turn_id
        candidate = decision.winner.candidate
        text, source = candidate.text, SourceTag(candidate.source_tag)
        started = time.perf_counter()
        opening.emit(
            TurnStarted(
                ts=self.clock.now(),
                turn_id=turn_id,
                input=text,
                source=candidate.source,
                channel_id=candidate.channel_id,
                candidate_id=candidate.id,
            )
        )
        timings: dict[str, float] = {} if attention_ms is None else {"attention": attention_ms}
        assembled: AssembledContext | None = None
        reading: GutReading | None = None
        act = ActResult(output=None, stop_reason="error")
        stage = "context"
        gut_error: str | None = None
        early: EarlyPart | None = None
        context_at = None

        def forward(delta: TextDelta) -> None:
            opening.emit(
                LlmDelta(
                    ts=self.clock.now(), turn_id=turn_id, text=delta.text, provider=delta.provider
                )
            )

        try:
            if context is None:
                context = self._start_context(decision, transcript)
            built, timings["context"] = self._await(stage, context)
            assembled = built
            report = _report_seen(assembled, decision.report)
            opening.emit(CognitiveState(ts=self.clock.now(), turn_id=turn_id, report=report))
            opening.emit(inclusions_signal(assembled.inclusions, text, self.clock.now(), turn_id))
            context_at = self.clock.now()
            opening.start()  # beside the model call, not the context
            if self._opening_failed:
                stage = "open"
                opening.wait()
            if self.policy.engine.commit_overlap_seconds > 0:  # the context's effects too
                early = self.mind.committer.begin(turn_id, assembled, context_at)
            gut_job = self._start_gut(assembled, transcript, text, opening)
            stage, t0 = "act", time.perf_counter()
            first_check = None if budget is None else lambda: self._await("budget", budget)[0]
            act = self.act.run(
                assembled.messages,
                turn_id=turn_id,
                source=source,
                on_delta=forward,
                cancel=cancel,
                first_budget_check=first_check,
                before_tool=opening.wait,
            )
            timings["act"] = _ms(t0)
            stage, t0 = "gut", time.perf_counter()
            reading, gut_error = self._finish_gut(gut_job, opening, timings)
            timings["gut_wait"] = _ms(t0)
        except Exception as exc:  # a stage failure fails the turn, never the loop
            log.exception("turn.stage_failed", stage=stage, turn=turn_id)
            error = f"{stage}: {type(exc).__name__}: {exc}"
            opening.emit(
                EngineError(ts=self.clock.now(), turn_id=turn_id, stage=stage, error=error)
            )
            act = ActResult(output=None, stop_reason="error", error=error)
        except BaseException:  # interrupted: the writer must not go on holding the part
            if early is not None:
                early.abandon()
            raise

        def gate() -> TurnProducts:  # runs while the writer stores what the act produced
            t0 = time.perf_counter()
            products = gate_turn(
                self.memory, self.mind, self.policy, decision, turn_id, act, inputs
            )
            timings["gates"] = _ms(t0)
            record = build_record(decision, act, assembled, reading, timings, _ms(started))
            products.record.update(record)
            if gut_error is not None:
                products.record["gut_error"] = gut_error
            return products

        try:
            opening.wait()
        except Exception as exc:
            self._opening_failed = True
            if early is not None:
                early.abandon()
            error = f"open: {type(exc).__name__}: {exc}"
            self.bus.emit(
                EngineError(ts=self.clock.now(), turn_id=turn_id, stage="open", error=error)
            )
            raise
        self._opening_failed = False
        done = ActProducts.of(turn_id, act, candidate.channel_id, assembled, reading, context_at)
        t0 = time.perf_counter()
        products, memory_ids = self.mind.committer.commit(
            done, gate, self.clock.now(), self.policy.engine.commit_overlap_seconds, early
        )
        commit_started = t0 + timings["gates"] / 1000  # the commit's own wait: after the gates
        if self.memory is not None:
            if products.prepared is not None:
                self.memory.index_prepared(memory_ids, products.prepared)
            after_reinforce(self.memory, products.reinforce)
        commit_ms = _ms(commit_started)
        if products.status == "committed":
            self.transcripts.committed(candidate.channel_id, text, act.output)
        self.exchanges += 1
        self.bus.emit(
            TurnCommitted(
                ts=self.clock.now(),
                turn_id=turn_id,
                status=products.status,
                output=act.output,
                stop_reason=act.stop_reason,
                latency_ms=products.record["latency_ms"],
            )
        )
        if act.output and candidate.channel_id and self.speak is not None:
            self._speak(candidate.channel_id, act.output, turn_id)
        if (
            reading is not None
            and self.on_gut is not None
            and candidate.source != "gut"  # a feeling about a feeling would never end
            and reading.charge >= self.policy.gut.signal_min_charge
        ):
            self.on_gut(reading, turn_id)
        self._maybe_flush(inputs)  # housekeeping, after the reply is out
        outcome = build_outcome(turn_id, candidate.id, products, self.act.provider)
        outcome.timings_ms = {**timings, "commit": commit_ms}
        return outcome

    def _start_gut(
        self,
        assembled: AssembledContext,
        transcript: list[ChatMessage],
        text: str,
        opening: TurnOpening,
    ) -> _StageJob[GutReading] | None:
        """Measure the gut on a stage thread while the model generates (it needs only
        the context, and the exit gate reads it after the act)."""
        gut = self.mind.gut
        if gut is None:
            return None
        included = assembled.inclusions

        def measure() -> GutReading:
            stored = gut.memory_vectors([i.memory_id for i in included])
            seen: list[Any] = [
                v if v is not None else i.content for i, v in zip(included, stored, strict=True)
            ]
            seen += [m.content for m in transcript]
            reading = gut.measure([*seen, text])
            opening.emit(Gut.signal(reading, self.clock.now(), opening.turn_id))
            return reading

        return self._submit(measure)

    def _finish_gut(
        self, job: _StageJob[GutReading] | None, opening: TurnOpening, timings: dict[str, float]
    ) -> tuple[GutReading | None, str | None]:
        """The gut's reading (or its error) once the act is done, within the stage
        timeout counted from the gut's start. A failed or late gut is recorded (an
        ``engine.error`` signal, the record's ``gut_error``) and the turn goes on
        without a reading: the act has happened, the gut only colours what is kept."""
        if job is None:
            return None, None
        try:
            reading, took = self._await("gut", job)
        except Exception as exc:
            error = f"gut: {type(exc).__name__}: {exc}"
            log.warning("turn.gut_failed", turn=opening.turn_id, error=error)
            opening.emit(
                EngineError(ts=self.clock.now(), turn_id=opening.turn_id, stage="gut", error=error)
            )
            return None, error
        timings["gut"] = took
        return reading, None

    def _maybe_flush(self, inputs: SalienceInputs) -> None:
        scratch = self.mind.scratch
        if scratch is None or not scratch.due(self.exchanges):
            return
        try:
            scratch.flush(ExitJudge(self.mind.exit_gate, inputs, self.policy))
        except Exception as exc:
            log.exception("scratch.flush_failed")
            self.bus.emit(EngineError(ts=self.clock.now(), stage="scratch", error=f"{exc}"))

    def flush_scratch(self) -> None:
        """Run the scratch buffer through the exit gate now (shutdown, start-up)."""
        scratch = self.mind.scratch
        if scratch is None:
            return
        transcript = self.transcripts.get(self.policy.context.transcript_turns)
        scratch.flush(ExitJudge(self.mind.exit_gate, self.salience_inputs(transcript), self.policy))

    def _submit(self, work: Callable[[], T]) -> _StageJob[T]:
        """Start a stage on a stage thread (timed there)."""

        def timed() -> tuple[T, float]:
            t0 = time.perf_counter()
            return work(), _ms(t0)

        return _StageJob(self._stages.submit(timed), time.perf_counter())

    def _await(self, stage: str, job: _StageJob[T]) -> tuple[T, float]:
        """A started stage's result and its own duration (ms), within the policy's stage
        timeout counted from its start (the loop never wedges on it).

        A stage past its deadline fails the turn, also one that finished late before
        the waiter woke; its thread is left to finish on its own (Python cannot kill
        a thread), and its result is discarded.

        Raises:
            StageTimeout: the stage ran past ``engine.stage_timeout_seconds``.
            Exception: whatever the stage raised.
        """
        timeout = self.policy.engine.stage_timeout_seconds
        late = StageTimeout(f"{stage} took longer than {timeout:g}s")
        remaining = timeout - (time.perf_counter() - job.started)
        try:
            result, took = job.future.result(max(0.0, remaining))
        except FutureTimeout:
            raise late from None
        if took / 1000 > timeout:  # done, but past the deadline
            raise late
        return result, took

    def close(self) -> None:
        """Let go of the stage threads (a stage still running finishes in the background)."""
        self._stages.shutdown(wait=False, cancel_futures=True)

    def _speak(self, channel_id: str, text: str, turn_id: int) -> None:
        assert self.speak is not None
        try:
            self.speak(channel_id, text, turn_id)
        except Exception as exc:  # a channel failure never fails the committed turn
            log.exception("speak.failed", channel=channel_id)
            self.bus.emit(EngineError(ts=self.clock.now(), stage="speak", error=f"{exc}"))


@dataclass
class _StageJob(Generic[T]):
    """A stage running on a stage thread: its result with its duration, and its start."""

    future: Future[tuple[T, float]]
    started: float


class StageTimeout(Exception):
    """A stage ran past ``engine.stage_timeout_seconds``."""


def _report_seen(assembled: AssembledContext, report: str) -> str:
    """The state report as the model sees it (the budget may have trimmed its lines)."""
    head = report.splitlines()[0] if report else ""
    for message in assembled.messages:
        if head and message.role == "system" and message.content.startswith(head):
            return message.content
    return ""


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
