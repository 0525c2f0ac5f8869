"""The policy schema: every tunable number the engine uses.

Values live in ``data/policy.default.toml`` (each with a comment saying what it
does); these modules only declare names and types, so a number has one home.
A user's policy file overrides the defaults key by key. Unknown keys and wrong
types are rejected (see :func:`engine.config.load_policy`).
"""

from __future__ import annotations

from engine.policy.base import Section
from engine.policy.memory import (
    ActivationSection,
    ChannelPolicy,
    CoAccessSection,
    CompactionSection,
    DedupeSection,
    EmbeddingSection,
    IndexSection,
    JanitorSection,
    MintingSection,
    NormalizeSection,
    RetrievalSection,
    WeightsSection,
)
from engine.policy.mind import (
    ActLoopSection,
    AttentionSection,
    DmnSection,
    GatesSection,
    GutSection,
    IdentitySection,
)
from engine.policy.runtime import (
    ContextSection,
    DiscordSection,
    EngineSection,
    JobsSection,
    LlmSection,
    ModelsSection,
    ToolsSection,
)


class Policy(Section):
    """The whole policy. Sections mirror ``data/policy.default.toml``."""

    engine: EngineSection
    models: ModelsSection
    context: ContextSection
    normalize: NormalizeSection
    dedupe: DedupeSection
    channel_defaults: ChannelPolicy
    """Policy for channels not listed under ``channels``."""
    channels: dict[str, ChannelPolicy]
    """Per-channel overrides, keyed by channel id."""
    compaction: CompactionSection
    janitor: JanitorSection
    embedding: EmbeddingSection
    minting: MintingSection
    index: IndexSection
    retrieval: RetrievalSection
    activation: ActivationSection
    weights: WeightsSection
    co_access: CoAccessSection
    attention: AttentionSection
    gates: GatesSection
    identity: IdentitySection
    gut: GutSection
    dmn: DmnSection
    act_loop: ActLoopSection
    tools: ToolsSection
    llm: LlmSection
    jobs: JobsSection
    discord: DiscordSection
    """The Discord channel: allowlists, limits, reconnects, the golden-path summary."""

    def channel(self, channel_id: str | None) -> ChannelPolicy:
        """The policy for one channel (the defaults if it is not listed)."""
        if channel_id is None:
            return self.channel_defaults
        return self.channels.get(channel_id, self.channel_defaults)


__all__ = ["ChannelPolicy", "Policy", "Section"]
