"""Generate and act: call the model, run the tools it asks for, repeat, within bounds.

The loop ends on a message (the reply), a cancel, or a limit: the policy's
``act_loop.max_iterations``, its cumulative timeout, no progress (the same tool
with the same args and the same result ``no_progress_repeats`` times), the
hourly token budget, or output that stays invalid after one re-ask with the
validation error.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.llm.base import (
    ChatMessage,
    ChatOptions,
    ChatRequest,
    ChatResult,
    DeltaCallback,
    Provider,
    ToolCallRecord,
    ToolSpec,
)
from engine.llm.errors import ProviderError
from engine.policy import Policy
from engine.tools.calls import canonical_json
from engine.tools.registry import SourceTag, ToolRegistry
from engine.tools.runtime import ToolOutcome


@dataclass
class ActResult:
    """What the loop produced."""

    output: str | None
    stop_reason: str
    """``message``, ``cancel``, ``max_iterations``, ``timeout``, ``no_progress``,
    ``budget``, ``invalid_output`` or ``provider_error``."""
    llm_results: list[ChatResult] = field(default_factory=list)
    tool_outcomes: list[ToolOutcome] = field(default_factory=list)
    tool_args: list[dict[str, Any]] = field(default_factory=list)
    """The arguments of each tool call, parallel to ``tool_outcomes``."""
    requests: list[ChatRequest] = field(default_factory=list)
    """Every request sent to the model, in order (replay compares their digests)."""
    offered_tools: list[str] = field(default_factory=list)
    """The tools the model was offered (replay offers the same ones)."""
    error: str | None = None
    iterations: int = 0


class BudgetView(Protocol):
    """The budget check the loop makes before each model call."""

    def tokens_exhausted(self) -> str | None:
        """Why the hourly token budget is spent, or None."""
        ...


class ToolCaller(Protocol):
    """What the loop needs to run tools: the live :class:`ToolRuntime`, or a replay's."""

    registry: ToolRegistry

    @property
    def budgets(self) -> BudgetView:
        """The hourly budgets."""
        ...

    def offered_tools(self, source: SourceTag) -> list[str]:
        """The tool names a turn from ``source`` is offered."""
        ...

    def call(
        self,
        name: str,
        args: dict[str, Any],
        *,
        turn_id: int | None,
        source: SourceTag,
        confidence: float | None = None,
    ) -> ToolOutcome:
        """Run one tool call (see :meth:`ToolRuntime.call`)."""
        ...


def request_digest(request: ChatRequest) -> str:
    """A short, stable digest of what was sent to the model (messages, tools, options).

    Args:
        request: the request.

    Returns:
        16 hex chars of its sha256.
    """
    body = canonical_json(request.model_dump(mode="json"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


class ActLoop:
    """Runs one turn's generate/act rounds."""

    def __init__(
        self,
        provider: Provider,
        runtime: ToolCaller,
        policy: Policy,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.runtime = runtime
        self.policy = policy
        self._monotonic = monotonic

    def tool_specs(self, names: list[str]) -> list[ToolSpec]:
        """The named tools as the model sees them (a stable, sorted prefix)."""
        return [
            ToolSpec(name=s["name"], description=s["description"], parameters=s["parameters"])
            for s in self.runtime.registry.schemas(names)
        ]

    def run(
        self,
        messages: list[ChatMessage],
        *,
        turn_id: int | None,
        source: SourceTag,
        confidence: float | None = None,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
        first_budget_check: Callable[[], str | None] | None = None,
        before_tool: Callable[[], None] | None = None,
    ) -> ActResult:
        """Loop until the model replies or a bound stops it.

        Args:
            messages: the prompt: stable prefix first, then context and conversation.
            turn_id: the turn (tool idempotency keys and records use it).
            source: who asked (tool permissions depend on it).
            confidence: passed to self-initiated tool calls.
            on_delta: receives streamed reply text.
            cancel: set to stop early.
            first_budget_check: the token-budget check of the first model call, when
                the caller ran it already (beside the context stage); later calls
                ask the budgets.
            before_tool: called before each tool call runs (the turn waits there for
                its opening to be committed, so no effect precedes the turn's row).

        Returns:
            The reply (or None) and why the loop stopped, with every LLM result and tool
            outcome in order.
        """
        bounds = self.policy.act_loop
        result = ActResult(output=None, stop_reason="max_iterations")
        started = self._monotonic()
        seen: Counter[str] = Counter()
        conversation = list(messages)
        result.offered_tools = self.runtime.offered_tools(source)
        tools = self.tool_specs(result.offered_tools)
        reasks_left = self.policy.llm.repair_reasks
        while result.iterations < bounds.max_iterations:
            if self._monotonic() - started > bounds.cumulative_timeout_seconds:
                result.stop_reason = "timeout"
                break
            check = first_budget_check if result.iterations == 0 else None
            over_budget = (check or self.runtime.budgets.tokens_exhausted)()
            if over_budget:
                result.stop_reason, result.error = "budget", over_budget
                break
            if cancel is not None and cancel.is_set():
                result.stop_reason = "cancel"
                break
            result.iterations += 1
            request = ChatRequest(
                messages=conversation,
                tools=tools,
                options=ChatOptions(
                    temperature=self.policy.llm.temperature,
                    max_tokens=self.policy.llm.max_output_tokens,
                    seed=0,
                    timeout_s=self.policy.llm.request_timeout_seconds,
                ),
            )
            result.requests.append(request)
            try:
                reply = self.provider.chat(request, on_delta, cancel)
            except ProviderError as exc:
                result.stop_reason, result.error = "provider_error", f"{exc.kind}: {exc}"
                break
            result.llm_results.append(reply)
            envelope = reply.envelope
            if envelope is None:
                if reasks_left > 0:
                    reasks_left -= 1
                    conversation += [
                        ChatMessage(role="assistant", content=reply.text),
                        ChatMessage(
                            role="user",
                            content=(
                                f"Your reply was not valid: {reply.envelope_error}. Answer again "
                                "with exactly one JSON object as described."
                            ),
                        ),
                    ]
                    continue
                result.stop_reason = "invalid_output"
                result.error = reply.envelope_error or "no valid output"
                break
            if envelope.type == "message":
                result.output, result.stop_reason = envelope.content, "message"
                break
            if envelope.type == "cancel":
                result.stop_reason = "cancel"
                break
            if before_tool is not None:
                before_tool()
            outcome = self.runtime.call(
                envelope.name,
                dict(envelope.args),
                turn_id=turn_id,
                source=source,
                confidence=confidence,
            )
            result.tool_outcomes.append(outcome)
            result.tool_args.append(dict(envelope.args))
            signature = f"{envelope.name}|{canonical_json(envelope.args)}|{outcome.for_model()}"
            seen[signature] += 1
            if seen[signature] >= bounds.no_progress_repeats:
                result.stop_reason = "no_progress"
                break
            call_id = f"call_{outcome.call_id}"
            conversation += [
                ChatMessage(
                    role="assistant",
                    tool_call=ToolCallRecord(
                        name=envelope.name, args=dict(envelope.args), id=call_id
                    ),
                ),
                ChatMessage(
                    role="tool",
                    content=outcome.for_model(),
                    tool_call_id=call_id,
                    name=envelope.name,
                ),
            ]
        return result
