"""Policy sections: engine loop, models, context budgets, tools, LLM costs, jobs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from engine.policy.base import Section


class DaemonSection(Section):
    """``cephalon --daemon`` and its control socket."""

    drain_seconds: float = Field(gt=0)
    """On SIGTERM the turn in flight may finish for this long; then it is cancelled
    and checkpointed (status ``cancelled``)."""
    max_request_bytes: int = Field(ge=1024)
    """Longest request line the daemon reads; a longer one gets a ``too_large`` error."""
    max_reply_bytes: int = Field(ge=1024)
    """Longest reply or signal line a client reads (turn records can be large)."""
    subscriber_queue_frames: int = Field(ge=1)
    """Signals queued for one slow client before its subscription is dropped."""
    max_clients: int = Field(ge=1)
    """Connections served at once; more are refused with a ``busy`` error."""
    request_workers: int = Field(ge=1)
    """Threads running requests (a long replay does not block ``status``)."""
    request_timeout_seconds: float = Field(gt=0)
    """A client gives up waiting for a reply after this long."""
    connect_wait_seconds: float = Field(ge=0)
    """A client waits this long for a starting daemon's socket to answer."""


class EngineSection(Section):
    tick_seconds: float = Field(gt=0)
    """Seconds between heartbeat ticks of the always-on loop."""
    stage_timeout_seconds: float = Field(gt=0)
    """A pipeline stage running longer than this is abandoned and recorded as failed."""
    commit_overlap_seconds: float = Field(ge=0)
    """How long the writer keeps a turn's transaction open for the exit gate: it writes
    the act's part while the gate runs. A slower gate (a remote embedder) has that part
    rolled back and the whole turn written after it; other writes never wait longer.
    Above 0 the transaction also opens during the model call, with the context's
    effects, and waits while the writer is idle (any other write ends that wait).
    0 writes every turn after its gates."""
    daemon: DaemonSection
    """The headless daemon and its control socket."""


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
    related_k: int = Field(ge=0)
    """Memories retrieved for the related section (those that fit go in, best first)."""
    chars_per_token: float = Field(gt=0)
    """Token estimate when the model exposes no tokenizer: ceil(chars / this)."""
    message_overhead_tokens: int = Field(ge=0)
    """Tokens a chat message costs beyond its text (role markers of the template)."""
    transcript_turns: int = Field(ge=0)
    """Recent exchanges offered to the recent section (the budget trims the oldest)."""

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


class DiscordReconnect(Section):
    attempts: int = Field(ge=0)
    """Restarts of the client after it gave up (server unreachable, gateway errors);
    never for a rejected token. discord.py resumes a dropped gateway by itself first."""
    backoff_initial_seconds: float = Field(ge=0)
    """Wait before the first restart; doubles each time."""
    backoff_max_seconds: float = Field(ge=0)
    """Longest wait between restarts."""


class DiscordSummary(Section):
    channel_ids: list[str]
    """Channels the golden-path job summarizes; empty = every allowlisted channel."""
    post: bool
    """Post the summary in the channel (through the discord.send tool); false = memory only."""
    post_confidence: float = Field(ge=0, le=1)
    """Confidence the job claims for its posts (see tools.self_initiated_min_confidence)."""
    topics: int = Field(ge=1)
    """Active topics listed per summary."""
    users: int = Field(ge=1)
    """Notable users listed per summary."""
    max_chars: int = Field(ge=100, le=2000)
    """Longest summary text posted and stored."""
    max_input_chars: int = Field(ge=200)
    """Transcript characters given to the model when a provider is configured."""
    max_output_tokens: int = Field(gt=0)
    """Longest model reply for one summary."""


class DiscordSection(Section):
    guild_allowlist: list[str]
    """Guild (server) ids the bot reads and acts in; empty = none."""
    channel_allowlist: list[str]
    """Channel ids allowed inside those guilds; empty = every text channel of them."""
    split_chars: int = Field(ge=100, le=2000)
    """Longer outgoing text is split into messages of at most this many characters."""
    send_max_chars: int = Field(gt=0)
    """Longest text one discord.send call may post (across all its parts)."""
    send_per_minute: int = Field(gt=0)
    """discord.send calls allowed per rolling minute."""
    history_page_size: int = Field(ge=1, le=100)
    """Messages fetched per history request (Discord's maximum is 100)."""
    history_max_messages: int = Field(gt=0)
    """Most messages one history read returns."""
    ready_timeout_seconds: float = Field(gt=0)
    """Starting the channel waits this long for the gateway to be ready."""
    guild_ready_timeout_seconds: float = Field(gt=0)
    """After READY, discord.py waits this long for more guilds before it is ready."""
    request_timeout_seconds: float = Field(gt=0)
    """One send, history read or delete may take this long, rate-limit waits included."""
    max_rate_limit_wait_seconds: float = Field(ge=30)
    """A 429 asking to wait longer than this fails the call instead (discord.py floor: 30)."""
    reidentify_delay_seconds: float = Field(ge=0)
    """Wait before identifying again after a session was invalidated (Discord's limit: 5)."""
    reconnect: DiscordReconnect
    summary: DiscordSummary
