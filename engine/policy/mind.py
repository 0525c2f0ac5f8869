"""Policy sections: attention, gates, identity injection, gut, DMN, ACT loop, safety."""

from __future__ import annotations

from pydantic import Field

from engine.policy.base import Section


class SalienceWeights(Section):
    novelty: float = Field(ge=0)
    """Weight of novelty (1 - similarity to the recent context)."""
    relevance: float = Field(ge=0)
    """Weight of relevance to active goals."""
    charge: float = Field(ge=0)
    """Weight of emotional charge (gut intensity)."""
    urgency: float = Field(ge=0)
    """Weight of the source's urgency."""


class UrgencyBySource(Section):
    operator: float = Field(ge=0, le=1)
    """The operator's own messages."""
    channel: float = Field(ge=0, le=1)
    """Messages from channels (Discord)."""
    gut: float = Field(ge=0, le=1)
    """Gut signals."""
    job: float = Field(ge=0, le=1)
    """Scheduled job ticks."""
    dmn: float = Field(ge=0, le=1)
    """Idle (default mode network) thoughts."""


class AttentionSection(Section):
    salience: SalienceWeights
    urgency: UrgencyBySource
    loser_urgency_decay: float = Field(gt=0, le=1)
    """A losing candidate's urgency is multiplied by this each turn it waits."""
    drop_below: float = Field(ge=0)
    """Candidates whose salience falls below this are dropped from the queue."""
    max_queue: int = Field(gt=0)
    """Pending candidates kept at most (lowest salience dropped first)."""
    goal_recent_messages: int = Field(ge=0)
    """Active goals: this many of the latest operator messages in the transcript ..."""
    goal_memories: int = Field(ge=0)
    """... plus at most this many pinned or ``goal`` memories (highest weight first)."""


class EntryGateSection(Section):
    short_chars: int = Field(ge=0)
    """Content shorter than this is 'very short'."""
    short_skip_p: float = Field(ge=0, le=1)
    """Probability a very short input is skipped (else buffered)."""
    mechanical_skip_p: float = Field(ge=0, le=1)
    """Probability mechanical output (logs, stack traces, bot boilerplate) is skipped."""
    mechanical_line_share: float = Field(gt=0, le=1)
    """Text is mechanical when at least this share of its lines look like log/trace lines."""
    min_letter_share: float = Field(ge=0, le=1)
    """Text (20+ chars) with fewer letters of digit-free words than this share is mechanical."""
    internal_sources: list[str]
    """Sources whose text the engine wrote itself: the entry gate passes them untouched."""


class ExitGateSection(Section):
    core_min: float = Field(ge=0, le=1)
    """Relevance above this is 'core'."""
    peripheral_min: float = Field(ge=0, le=1)
    """Relevance above this (and not core) is 'peripheral'; below is 'irrelevant'."""
    confirming_sim: float = Field(ge=0, le=1)
    """Similarity to an existing memory above this is 'confirming'."""
    novel_sim: float = Field(ge=0, le=1)
    """Similarity below this is 'novel'."""
    contradicting_sim: float = Field(ge=0, le=1)
    """Similarity above this plus opposition (negation) is 'contradicting'."""
    noise_floor: float = Field(ge=0, le=1)
    """Chance any drop/buffer decision is upgraded to persist (keeps surprises)."""
    charge_bonus: float = Field(ge=0, le=1)
    """Added to relevance when the gut's charge is above ``charge_bonus_above``."""
    charge_bonus_above: float = Field(ge=0, le=1)
    """Gut charge above which the relevance bonus applies."""
    negation_min_overlap: float = Field(gt=0, le=1)
    """Negation heuristic: least overlap (Dice) of the two texts' content words."""
    reinforce_alpha: float = Field(ge=0)
    """Added to alpha of the memory a 'reinforce' decision confirms."""


class ScratchSection(Section):
    ttl_hours: float = Field(gt=0)
    """Buffered items expire after this."""
    flush_every_exchanges: int = Field(gt=0)
    """The buffer is flushed through the exit gate this often (and at shutdown)."""


class GatesSection(Section):
    entry: EntryGateSection
    exit: ExitGateSection
    scratch: ScratchSection


class IdentitySection(Section):
    top_n: int = Field(ge=0)
    """Strongest memories (by weight mean) that roll for injection each turn."""
    threshold: float = Field(ge=0, le=1)
    """A memory is injected in full when its Beta sample beats this."""
    budget_tokens: int = Field(ge=0)
    """Token budget of the identity track (separate from related memories)."""
    kinds: list[str]
    """Memory kinds that roll for identity injection (pinned and immutable ones always do)."""


class GutSection(Section):
    max_memories: int = Field(gt=0)
    """Memories (highest weight first) in the subconscious centroid."""
    recency_half_life_items: float = Field(gt=0)
    """Attention centroid: an item this many places older weighs half as much."""
    nearest_k: int = Field(gt=0)
    """Memories reported as what the delta points toward."""
    charge_floor: float = Field(ge=0, le=2)
    """Intensity at or below which the charge is 0 (the usual drift of any context)."""
    charge_scale: float = Field(gt=0)
    """Charge = clip((intensity - charge_floor) / charge_scale, 0, 1)."""
    signal_min_charge: float = Field(ge=0, le=1)
    """A reading at least this charged queues a ``gut`` candidate (what it points toward)."""


class DmnSection(Section):
    enabled: bool
    """Let the idle loop propose thoughts."""
    idle_seconds: float = Field(gt=0)
    """Seconds without input before the idle loop proposes a thought."""


class ActLoopSection(Section):
    max_iterations: int = Field(gt=0)
    """Generate/act rounds in one turn."""
    per_action_timeout_seconds: float = Field(gt=0)
    """A single tool call may take this long."""
    cumulative_timeout_seconds: float = Field(gt=0)
    """The whole act loop may take this long."""
    no_progress_repeats: int = Field(gt=0)
    """Same tool, same args, same result this many times -> stop."""
