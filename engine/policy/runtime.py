"""Policy sections: engine loop, models, context budgets, tools, LLM costs, jobs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from engine.policy.base import Section


class EngineSection(Section):
    tick_seconds: float = Field(gt=0)
    """Seconds between heartbeat ticks of the always-on loop."""
    stage_timeout_seconds: float = Field(gt=0)
    """A pipeline stage running longer than this is abandoned and recorded as failed."""


class ModelChoice(Section):
    provider: Literal["local", "ollama", "openai", "scripted"]
    """Which provider serves this model."""
    name: str
    """Model name at the provider (for ``local``: a label; the GGUF comes from settings)."""
    max_context_tokens: int = Field(gt=0)
    """Context window the prompt must fit in."""
    tool_call_strict: bool
    """Use schema-constrained output for the envelope."""
    base_url: str = ""
    """The server of a fallback (the actor's comes from settings); "" = skip this fallback."""


class ModelsSection(Section):
    actor: ModelChoice
    """The model that runs turns."""
    fallbacks: list[ModelChoice]
    """Tried in order when the actor is down (its breaker is open)."""


class ContextBudgets(Section):
    system_dev_pct: float = Field(ge=0, le=1)
    """Share of the context for system and developer text."""
    persistent_pct: float = Field(ge=0, le=1)
    """Share for persistent memories (identity, pinned)."""
    recent_pct: float = Field(ge=0, le=1)
    """Share for the recent transcript."""
    related_pct: float = Field(ge=0, le=1)
    """Share for retrieved related memories."""
    output_reserve_pct: float = Field(ge=0, le=1)
    """Share kept free for the model's reply."""


class ContextInvariants(Section):
    related_gte_recent_mult: float = Field(ge=0)
    """The related budget must be at least this multiple of the recent budget."""
    dedupe_within_context: bool
    """Never include the same memory twice in one context."""


class ContextSection(Section):
    budgets: ContextBudgets
    invariants: ContextInvariants

    @model_validator(mode="after")
    def _check_budgets(self) -> ContextSection:
        b = self.budgets
        total = (
            b.system_dev_pct
            + b.persistent_pct
            + b.recent_pct
            + b.related_pct
            + b.output_reserve_pct
        )
        if total > 1.0 + 1e-9:
            raise ValueError(f"context budgets add up to {total:.2f}, more than 1.0")
        if b.related_pct + 1e-9 < self.invariants.related_gte_recent_mult * b.recent_pct:
            raise ValueError(
                "related_pct must be >= related_gte_recent_mult x recent_pct "
                f"({b.related_pct} < {self.invariants.related_gte_recent_mult} x {b.recent_pct})"
            )
        return self


class BudgetLimits(Section):
    messages_per_hour: int = Field(ge=0)
    """Outbound messages (speaking in a channel) per rolling hour."""
    tokens_per_hour: int = Field(ge=0)
    """LLM tokens (in + out) per rolling hour."""
    actions_per_hour: int = Field(ge=0)
    """Tool calls with effects (write, external, admin) per rolling hour."""


class BreakerPolicy(Section):
    failure_threshold: int = Field(gt=0)
    """Consecutive failures that open a breaker."""
    cooldown_seconds: float = Field(gt=0)
    """An open breaker half-opens (one trial call) after this."""


class RetryPolicy(Section):
    attempts: int = Field(gt=0)
    """Tries of a network tool or provider call, the first included."""
    backoff_initial_seconds: float = Field(ge=0)
    """First wait between tries."""
    backoff_max_seconds: float = Field(ge=0)
    """Longest wait between tries."""
    retry_after_cap_seconds: float = Field(ge=0)
    """A server's Retry-After is honoured up to this; longer -> fall through."""


class ToolsSection(Section):
    default_timeout_seconds: float = Field(gt=0)
    """Timeout of a tool that does not set its own."""
    unlock_default_minutes: float = Field(gt=0)
    """How long an operator unlock of write tools lasts when no duration is given."""
    unlocked_scopes: list[str]
    """Scopes usable without an unlock (safe_read_only: ["read"])."""
    self_initiated_min_confidence: float = Field(ge=0, le=1)
    """Inputs from the agent itself or untrusted channels need this confidence for effects."""
    budget: BudgetLimits
    breaker: BreakerPolicy
    retry: RetryPolicy


class LlmSection(Section):
    request_timeout_seconds: float = Field(gt=0)
    """A provider call may take this long in all."""
    connect_timeout_seconds: float = Field(gt=0)
    """Connecting to a provider may take this long."""
    repair_reasks: int = Field(ge=0)
    """Re-asks with the validation error after the repair pass fails."""
    temperature: float = Field(ge=0)
    """Sampling temperature of turns."""
    max_output_tokens: int = Field(gt=0)
    """Longest reply the model may produce in one call."""
    prices: dict[str, list[float]]
    """Model name -> [USD per 1M input tokens, USD per 1M output tokens]; unlisted = 0."""
    breaker: BreakerPolicy


class JobsSection(Section):
    jitter_fraction: float = Field(ge=0, le=1)
    """Each job's interval is jittered by up to this fraction."""
    double_run_factor: float = Field(ge=1)
    """A running job row younger than this x interval makes the next tick skip."""
    golden_path_interval_minutes: float = Field(gt=0)
    """How often the channel-summary job runs."""
    golden_path_history: int = Field(gt=0)
    """Messages read per channel per run."""
