"""The tool runtime: every call validated, permitted, budgeted, bounded, recorded, signalled.

Order of a call: look up -> validate args -> permission -> rate limit and budget ->
circuit breaker -> idempotency -> record as running -> run with timeout (retry with
backoff for network tools) -> record the result -> signal. Every refusal is recorded
with its reason; nothing is ever run twice for the same (turn, tool, args).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError

from engine.clock import Clock
from engine.llm.breaker import CircuitBreaker
from engine.policy.runtime import ToolsSection
from engine.signals import SignalBus, ToolCallDenied, ToolCallFinished, ToolCallStarted
from engine.store import Store
from engine.tools.budgets import BudgetLedger
from engine.tools.calls import CallRecord, ToolCallLog, canonical_json, idempotency_key
from engine.tools.permissions import PermissionGate
from engine.tools.registry import Scope, SourceTag, ToolContext, ToolRegistry, ToolSpec

log = structlog.get_logger("cephalon.tools")


@dataclass(frozen=True)
class ToolOutcome:
    """What a call came to.

    ``status`` is one of: ``ok``, ``error``, ``timeout``, ``denied``, ``invalid``,
    ``cached`` (an earlier identical call's result), ``skipped`` (an earlier identical
    call of a non-idempotent tool may have had its effect; not repeated).
    """

    call_id: int
    tool: str
    status: str
    result: Any = None
    error: str | None = None
    attempts: int = 0
    duration_ms: float = 0.0
    idempotency_key: str = ""

    @property
    def ok(self) -> bool:
        """The tool ran (now or earlier) and returned a result."""
        return self.status in ("ok", "cached")

    def for_model(self) -> str:
        """The outcome as the model sees it in the next prompt."""
        if self.ok:
            return canonical_json(self.result)
        return json.dumps({"status": self.status, "error": self.error})


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return json.loads(canonical_json(value))


class ToolRuntime:
    """Runs tool calls for the engine."""

    def __init__(
        self,
        registry: ToolRegistry,
        store: Store,
        clock: Clock,
        policy: ToolsSection,
        bus: SignalBus | None = None,
        services: dict[str, Any] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock
        self.policy = policy
        self.bus = bus or SignalBus()
        self.services = services or {}
        self.permissions = PermissionGate(store, clock, policy)
        self.budgets = BudgetLedger(store, clock, policy.budget)
        self.log = ToolCallLog(store)
        self._monotonic = monotonic
        self._sleep = sleep
        self._breakers: dict[str, CircuitBreaker] = {}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cephalon-tool")

    def offered_tools(self, source: SourceTag) -> list[str]:
        """The tools a turn from ``source`` is offered now (see :meth:`ToolRegistry.offered`)."""
        return self.registry.offered(source, self.services)

    def breaker(self, tool: str) -> CircuitBreaker:
        """The circuit breaker of one tool."""
        if tool not in self._breakers:
            self._breakers[tool] = CircuitBreaker(
                self.policy.breaker.failure_threshold,
                self.policy.breaker.cooldown_seconds,
                monotonic=self._monotonic,
            )
        return self._breakers[tool]

    def close(self) -> None:
        """Stop the worker threads (calls still running are abandoned)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def call(
        self,
        name: str,
        args: dict[str, Any],
        *,
        turn_id: int | None,
        source: SourceTag,
        confidence: float | None = None,
    ) -> ToolOutcome:
        """Run one tool call through every check.

        Args:
            name: the tool's name.
            args: its arguments as the model gave them.
            turn_id: the turn it belongs to (part of the idempotency key).
            source: who ultimately asked (operator, channel, dmn, job...).
            confidence: the caller's confidence, needed for self-initiated effects.

        Returns:
            The outcome; refusals and failures are outcomes too, never exceptions.
        """
        spec = self.registry.get(name)
        key = idempotency_key(turn_id, name, args)
        record = CallRecord(
            turn_id=turn_id,
            tool=name,
            scope=spec.scope.value if spec else "unknown",
            args=args,
            idempotency_key=key,
            source_tag=source.value,
            confidence=confidence,
            counts_as_message=bool(spec and spec.counts_as_message),
            started_at=self.clock.now(),
        )
        if spec is None:
            known = ", ".join(self.registry.names())
            return self._refuse(record, "invalid", f"unknown tool {name!r}; known: {known}")
        try:
            parsed = spec.args_model.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors()
            )
            return self._refuse(record, "invalid", f"invalid args for {name}: {problems}")
        reason = self.permissions.check(spec, source, confidence)
        reason = reason or self.budgets.check(spec)
        breaker = self.breaker(name)
        if reason is None and not breaker.allow():
            wait = breaker.seconds_until_trial()
            reason = f"circuit open: {name} failed repeatedly; next try in {wait:.0f}s"
        if reason is not None:
            return self._refuse(record, "denied", reason)
        earlier = self.log.previous(key)
        if earlier is not None:
            cached = self._from_earlier(record, spec, earlier)
            if cached is not None:
                return cached
        return self._run(record, spec, parsed, breaker)

    def _refuse(self, record: CallRecord, status: str, reason: str) -> ToolOutcome:
        final = {"denied_reason": reason} if status == "denied" else {"error": reason}
        call_id = self.log.start(record, status, finished_at=record.started_at, **final)
        self.bus.emit(
            ToolCallDenied(
                ts=record.started_at,
                turn_id=record.turn_id,
                call_id=call_id,
                tool=record.tool,
                scope=record.scope,
                reason=reason,
            )
        )
        return ToolOutcome(
            call_id, record.tool, status, error=reason, idempotency_key=record.idempotency_key
        )

    def _from_earlier(
        self, record: CallRecord, spec: ToolSpec, earlier: tuple[int, str, Any]
    ) -> ToolOutcome | None:
        earlier_id, status, result = earlier
        if status == "ok":
            call_id = self.log.start(
                record,
                "cached",
                result=result,
                cached_from=earlier_id,
                finished_at=record.started_at,
                duration_ms=0.0,
            )
            self._finished(record, call_id, "cached", 0.0, 0, None, replayed=True)
            return ToolOutcome(
                call_id,
                record.tool,
                "cached",
                result=result,
                idempotency_key=record.idempotency_key,
            )
        effect_unknown = status in ("running", "interrupted", "timeout")
        if effect_unknown and not spec.idempotent:
            reason = (
                f"not repeated: an earlier identical call (#{earlier_id}) ended '{status}' and "
                f"{spec.name} is not idempotent, so its effect may already have happened"
            )
            call_id = self.log.start(
                record,
                "skipped",
                error=reason,
                cached_from=earlier_id,
                finished_at=record.started_at,
            )
            self._finished(record, call_id, "skipped", 0.0, 0, reason)
            return ToolOutcome(
                call_id,
                record.tool,
                "skipped",
                error=reason,
                idempotency_key=record.idempotency_key,
            )
        return None

    def _run(
        self, record: CallRecord, spec: ToolSpec, args: BaseModel, breaker: CircuitBreaker
    ) -> ToolOutcome:
        call_id = self.log.start(record)
        self.bus.emit(
            ToolCallStarted(
                ts=record.started_at,
                turn_id=record.turn_id,
                call_id=call_id,
                tool=spec.name,
                scope=spec.scope.value,
                args=record.args,
            )
        )
        ctx = ToolContext(
            self.store, self.clock, record.turn_id, SourceTag(record.source_tag), self.services
        )
        timeout = spec.timeout_s or self.policy.default_timeout_seconds
        retry = self.policy.retry
        max_attempts = retry.attempts if spec.network else 1
        started = self._monotonic()
        status, result, error, attempts = "error", None, None, 0
        while attempts < max_attempts:
            attempts += 1
            future = self._pool.submit(spec.fn, args, ctx)
            try:
                result = _jsonable(future.result(timeout=timeout))
                status, error = "ok", None
                break
            except FutureTimeout:
                status, error = "timeout", f"{spec.name} timed out after {timeout:g}s"
                if not spec.idempotent:
                    break  # the effect may be under way: never start it again
            except Exception as exc:
                status, error = "error", f"{type(exc).__name__}: {exc}"
            if attempts < max_attempts:
                delay = min(
                    retry.backoff_initial_seconds * 2 ** (attempts - 1), retry.backoff_max_seconds
                )
                self._sleep(delay)
        duration_ms = (self._monotonic() - started) * 1000
        if status == "ok":
            breaker.record_success()
        else:
            breaker.record_failure()
        self.log.finish(call_id, status, self.clock.now(), duration_ms, attempts, result, error)
        self._finished(record, call_id, status, duration_ms, attempts, error)
        return ToolOutcome(
            call_id, spec.name, status, result, error, attempts, duration_ms, record.idempotency_key
        )

    def _finished(
        self,
        record: CallRecord,
        call_id: int,
        status: str,
        duration_ms: float,
        attempts: int,
        error: str | None,
        replayed: bool = False,
    ) -> None:
        log.info(
            "tool.finished", call_id=call_id, tool=record.tool, status=status, turn=record.turn_id
        )
        self.bus.emit(
            ToolCallFinished(
                ts=self.clock.now(),
                turn_id=record.turn_id,
                call_id=call_id,
                tool=record.tool,
                scope=record.scope,
                status=status,
                duration_ms=duration_ms,
                attempts=attempts,
                error=error,
                replayed=replayed,
            )
        )

    def unlock(self, scopes: list[Scope], minutes: float | None = None) -> None:
        """Operator unlock of effectful scopes for a while (see :class:`PermissionGate`)."""
        self.permissions.unlock(scopes, minutes)
