"""Policy sections: normalization, dedupe, channels, compaction, janitor, retrieval."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from engine.policy.base import Section


class NormalizeSection(Section):
    volatile_rewrites: list[tuple[str, str]]
    """(regex, replacement) pairs applied in order before hashing. Only volatile tokens
    (timestamps, ids, hashes, counters) belong here: numbers a human cares about
    (amounts, versions, scores) must survive, or messages differing in them merge."""
    strip_tracking_params: bool
    """Remove utm_* and similar query parameters from URLs."""
    tracking_params: list[str]
    """Query parameter names (or prefixes ending in ``*``) treated as tracking."""
    url_numbers_volatile: bool
    """Numbers inside URLs (run ids, message links, page numbers) count as volatile."""

    @field_validator("volatile_rewrites")
    @classmethod
    def _compile(cls, rules: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for pattern, replacement in rules:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from exc
            try:
                compiled.sub(replacement, "")  # parses the template: bad group refs fail
            except re.error as exc:
                raise ValueError(f"bad replacement {replacement!r}: {exc}") from exc
        return rules


class DedupeSection(Section):
    exact_ttl_seconds: int = Field(ge=0)
    """Identical normalized messages within this many seconds are duplicates."""
    near_window_seconds: int = Field(ge=0)
    """Near-duplicate (simhash) comparisons look back this far."""
    simhash_hamming_threshold: int = Field(ge=0, le=64)
    """At most this many differing simhash bits counts as a near duplicate."""
    aggregate_bot_dupes: bool
    """Collapse bot duplicates into aggregate memories instead of storing each."""
    merge_only_equal_numbers: bool
    """Near duplicates must carry the same non-volatile numbers (amounts, versions,
    scores) in the same order; false lets the simhash distance alone decide."""
    near_max_candidates: int = Field(gt=0)
    """Recent distinct texts (per channel and number signature) compared per message."""
    batch_events: int = Field(gt=0)
    """Events fingerprinted and committed per transaction by the aggregator."""
    aggregate_examples: int = Field(ge=1)
    """Distinct example snippets kept in one aggregate memory."""
    aggregate_sample_ids: int = Field(ge=1)
    """Source event ids sampled into one aggregate memory."""
    suggest_min_dup_count: int = Field(ge=2)
    """Spam families at least this large get a (proposed) suppress rule."""


class ChannelPolicy(Section):
    name: str
    """A human name for the channel."""
    embed_raw_bot_messages: bool
    """Embed bot messages one by one (else only their aggregates)."""
    embed_aggregates: bool
    """Embed aggregate memories of bot spam families."""


class CompactionAccess(Section):
    tau_days: float = Field(gt=0)
    """Time constant of the access decay used to pick GC candidates."""
    threshold: float = Field(ge=0)
    """Memories whose decayed access is below this are candidates."""


class CompactionGrouping(Section):
    by: list[Literal["channel_id", "day"]]
    """How candidates are grouped into one summary."""
    min_source_count: int = Field(ge=1)
    """A group smaller than this is left alone (summarizing it saves nothing)."""
    max_source_count: int = Field(gt=0)
    """At most this many memories go into one summary."""
    max_source_tokens: int = Field(gt=0)
    """At most this many source tokens go into one summary."""


class CompactionSummary(Section):
    format: Literal["json_v1"]
    """Summary schema the LLM must fill."""
    max_bullets: int = Field(gt=0)
    """Bullets allowed in one summary."""
    max_patterns: int = Field(ge=0)
    """Recurring patterns allowed in one summary."""
    index_summary: bool
    """Embed summaries so they are found by search."""
    max_output_tokens: int = Field(gt=0)
    """Ceiling on the tokens the model may write for one summary."""
    timeout_seconds: float = Field(gt=0)
    """Deadline of one summarizing call (a slow local model needs minutes)."""


class CompactionLocks(Section):
    never_delete_kinds: list[str]
    """Memory kinds compaction never deletes."""
    never_delete_tags: list[str]
    """Memory tags compaction never deletes."""


class CompactionSection(Section):
    interval_minutes: int = Field(gt=0)
    """How often the compaction job runs."""
    age_min_days: float = Field(ge=0)
    """Only memories at least this old are candidates."""
    candidate_kinds: list[str]
    """Only these kinds are ever compacted."""
    max_groups_per_run: int = Field(gt=0)
    """At most this many groups are planned (and summarized) per run."""
    access: CompactionAccess
    grouping: CompactionGrouping
    summary: CompactionSummary
    locks: CompactionLocks


class JanitorSection(Section):
    enabled: bool
    """Run the janitor job at all."""
    interval_minutes: float = Field(gt=0)
    """How often the janitor wakes to aggregate new messages (reports and GC have
    their own, longer intervals: ``report_interval_minutes``, ``compaction.interval_minutes``)."""
    mint_messages: bool
    """Mint memories for new Discord messages that are not bot duplicates (humans, bot
    posts seen once), by the minting rules; bot duplicates only count in their aggregate."""
    report_channel_id: str
    """Channel the janitor posts its reports to ("" = operator console only)."""
    report_interval_minutes: int = Field(gt=0)
    """Reports go out at most this often (never per message)."""
    max_actions_per_hour: int = Field(ge=0)
    """Ceiling on janitor actions (posts, deletes, compactions) per hour."""
    propose_suppress_rules: bool
    """Suggest suppress rules for spam families (an operator approves them)."""
    top_n: int = Field(gt=0)
    """How many spam families and new patterns a report lists."""


class EmbeddingSection(Section):
    max_tokens: int = Field(gt=0)
    """Texts longer than this (in embedder tokens) are chunked or summarized first."""
    batch_size: int = Field(gt=0)
    """Texts per embedding call."""
    use_type_prefixes: bool
    """Prefix stored text with its memory type ("Factual knowledge: ...") before embedding."""
    type_prefixes: dict[str, str]
    """Memory kind -> the prefix put in front of its text when embedding."""
    reembed_batch: int = Field(gt=0)
    """Memories re-embedded per background batch after a change of embedding model."""
    cache_entries: int = Field(ge=0)
    """Recently embedded texts whose vectors are kept in memory (0 = no cache)."""
    prefetch_max_pending: int = Field(ge=0)
    """Inputs embedded ahead of their turn at most at once (0 = no prefetch)."""


class IndexSection(Section):
    connectivity: int = Field(gt=1)
    """USearch graph degree (HNSW M)."""
    expansion_add: int = Field(gt=0)
    """Candidate list size while inserting (HNSW ef_construction)."""
    expansion_search: int = Field(gt=0)
    """Candidate list size while searching (HNSW ef); recall rises with it."""
    lookup_expansion: int = Field(gt=0)
    """Candidate list of nearest-memory lookups (novelty, the exit gate's and the gut's
    nearest memories): they need the closest one or few, not retrieval's recall."""
    rebuild_batch: int = Field(gt=0)
    """Vectors added per batch during a rebuild."""
    nearest_cache_entries: int = Field(ge=0)
    """Texts whose nearest memory is kept across turns, updated incrementally (0 = off)."""


class BlendWeights(Section):
    rrf: float = Field(ge=0)
    """Weight of the normalized RRF fusion score."""
    rerank: float = Field(ge=0)
    """Weight of the cross-encoder score (its share moves to rrf when rerank is skipped)."""
    activation: float = Field(ge=0)
    """Weight of the squashed ACT-R activation."""
    weight: float = Field(ge=0)
    """Weight of the Beta depth weight's mean."""
    recency: float = Field(ge=0)
    """Weight of the recency factor."""
    dense: float = Field(ge=0)
    """Weight of the query's cosine similarity to the memory (negative counts as 0)."""
    bm25: float = Field(ge=0)
    """Weight of the BM25 score over the best BM25 score among the candidates."""


class ContiguitySection(Section):
    spread: float = Field(ge=0)
    """A neighbour of a top hit in the same conversation gets this share of its score."""
    span: int = Field(ge=0)
    """Neighbours taken on each side of a hit (0 turns contiguity spreading off)."""
    decay: float = Field(ge=0, le=1)
    """Each further position away from the hit gets this fraction of the nearer one's share."""
    seeds: int = Field(ge=0)
    """Top hits whose neighbours receive a share."""
    gap_minutes: float = Field(gt=0)
    """A silence longer than this ends a conversation: no neighbours across it."""
    kinds: list[str]
    """Memory kinds that make up a conversation (others are skipped over)."""


class RetrievalSection(Section):
    bm25_top_k: int = Field(gt=0)
    """Keyword candidates taken into fusion."""
    ann_top_k: int = Field(gt=0)
    """Vector candidates taken into fusion."""
    bm25_k1: float = Field(gt=0)
    """BM25 term-frequency saturation."""
    bm25_b: float = Field(ge=0, le=1)
    """BM25 length normalization."""
    rrf_k: int = Field(gt=0)
    """Reciprocal rank fusion constant: score = sum 1/(k + rank)."""
    rerank_top_n: int = Field(gt=0)
    """Fused candidates passed to the cross-encoder."""
    default_k: int = Field(gt=0)
    """Results returned when a caller does not say."""
    recency_half_life_days: float = Field(gt=0)
    """Recency factor halves every this many days."""
    blend: BlendWeights
    contiguity: ContiguitySection
    reinforce_retrieved: float = Field(ge=0)
    """Added to alpha of every memory returned (retrieval strengthens it)."""
    contradict_near_miss: float = Field(ge=0)
    """Added to beta of near misses (ranks just below the cut)."""
    near_miss_first_rank: int = Field(gt=0)
    """First rank (1-based) counted as a near miss."""
    near_miss_last_rank: int = Field(gt=0)
    """Last rank counted as a near miss."""
    bot_message_weight: float = Field(ge=0, le=1)
    """Score multiplier for raw bot messages (summaries and aggregates rank above them)."""
    content_cache_entries: int = Field(ge=0)
    """Memory texts kept in memory (LRU) for per-turn reads (0 = no cache)."""


class ActivationSection(Section):
    decay_d: float = Field(gt=0)
    """ACT-R base-level decay: B = ln(sum t_j^-d)."""
    noise_s: float = Field(ge=0)
    """Scale of the logistic activation noise."""
    spreading_weight: float = Field(ge=0)
    """Weight of spreading activation from the current context."""
    empty_history_floor: float
    """Base level of a memory never accessed."""
    min_age_seconds: float = Field(gt=0)
    """Access ages are clamped to at least this (avoids t^-d blowing up)."""
    retrieval_threshold: float
    """ACT-R tau: the activation whose squashed value sigmoid(A - tau) in the blend is 0.5."""


class WeightsSection(Section):
    prior_alpha: float = Field(gt=0)
    """Beta prior alpha of a new memory."""
    prior_beta: float = Field(gt=0)
    """Beta prior beta of a new memory (Beta(1,4): mean 0.2)."""
    contested_min: float = Field(gt=0)
    """Contested: both alpha and beta above this (strong evidence both ways)."""
    uninformed_max: float = Field(gt=0)
    """Uninformed: both alpha and beta below this (little evidence)."""
    immutable_alpha: float = Field(gt=0)
    """Alpha given to immutable (bootstrap safety) memories."""
    immutable_beta: float = Field(gt=0)
    """Beta given to immutable memories."""
    max_center: float = Field(gt=0, le=1)
    """Safety ceiling: no mutable memory's mean weight exceeds this."""


class CoAccessSection(Section):
    spread_factor: float = Field(ge=0)
    """A co-access partner of a hit receives this share of the hit's score (1 hop)."""
    partners_top_k: int = Field(ge=0)
    """Partners taken per hit."""
    min_count: int = Field(ge=1)
    """Pairs co-retrieved fewer times than this do not spread."""


class MintingSection(Section):
    think_traces: bool
    """Keep the model's think traces as (unembedded, low-confidence) memories."""
    think_trace_confidence: float = Field(ge=0, le=1)
    """Source confidence given to think-trace memories (they rank low)."""
    bot_message_confidence: float = Field(ge=0, le=1)
    """Source confidence given to raw bot-message memories."""
    tool_result_min_chars: int = Field(ge=0)
    """A tool result shorter than this (status codes, ids) is not knowledge: not embedded."""
