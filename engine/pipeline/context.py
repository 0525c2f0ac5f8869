"""Context assembly: what the model sees this turn, within the policy's token budgets.

The window (``max_context_tokens``) is split by ``context.budgets``:

- ``system_dev``: the system prompt (always) and the cognitive state report (its
  candidate lines are trimmed from the bottom when it does not fit whole);
- ``persistent``: identity injection (:mod:`engine.pipeline.identity`), capped
  further by ``identity.budget_tokens``; immutable memories always go in;
- ``related``: hybrid search keyed on the attention focus, best first; a memory
  that does not fit is skipped (the next may), never truncated;
- ``recent``: the focus message (always) and the working transcript, newest first;
  the oldest messages are dropped first (returned, so the exit gate can see them);
- ``output_reserve``: left free for the reply.

Inside one context a memory appears at most once: by id, and by normalised content
(also against the transcript and the focus). Token counts come from a
:class:`~engine.pipeline.tokens.TokenCounter`. :func:`record_inclusions` logs what
went in (``context_inclusions``) and updates the memories' access statistics
(:mod:`engine.pipeline.inclusions`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.llm.base import ChatMessage, Role
from engine.memory.search import SearchResult
from engine.memory.service import MemoryService
from engine.pipeline.identity import identity_candidates, identity_hook, roll
from engine.pipeline.inclusions import Inclusion, inclusions_signal, record_inclusions
from engine.pipeline.tokens import BudgetedBlock, TokenCounter
from engine.policy import Policy

__all__ = [
    "AssembledContext",
    "ContextAssembler",
    "Dropped",
    "Inclusion",
    "identity_hook",
    "inclusions_signal",
    "record_inclusions",
]

IDENTITY_HEADER = "What you hold true (about yourself and the operator):"
RELATED_HEADER = "Relevant memories:"
SECTIONS = ("system_dev", "persistent", "related", "recent", "output_reserve")


@dataclass(frozen=True)
class Dropped:
    """Something left out of the context, and why."""

    section: str
    reason: str
    tokens: int
    memory_id: int | None = None
    message: ChatMessage | None = None
    """A transcript message pruned from the recent section (oldest first)."""


@dataclass
class AssembledContext:
    """The messages for one LLM call and how they were chosen."""

    messages: list[ChatMessage]
    inclusions: list[Inclusion]
    sections_tokens: dict[str, int]
    """Tokens used per section (``output_reserve``: the tokens kept free)."""
    dropped: list[Dropped]
    budgets: dict[str, int] = field(default_factory=dict)
    over_budget: list[str] = field(default_factory=list)
    """Sections whose mandatory part (system prompt, focus, immutable memories) overflowed."""
    retrieval: SearchResult | None = None
    """The related-memories search; its retrieval effects are the turn's to commit."""


def normalized(text: str) -> str:
    """Lowercase, whitespace collapsed: what the content dedupe compares."""
    return re.sub(r"\s+", " ", text).strip().lower()


class ContextAssembler:
    """Builds each turn's context."""

    def __init__(
        self,
        policy: Policy,
        memory: MemoryService | None,
        rng: np.random.Generator,
        token_counter: TokenCounter,
    ) -> None:
        """Create the assembler.

        Args:
            policy: ``context`` budgets and ``identity`` injection settings.
            memory: retrieval and identity memories (None: no memories at all).
            rng: seeded generator for the identity rolls.
            token_counter: how tokens are counted.
        """
        self.policy = policy
        self.memory = memory
        self.rng = rng
        self.counter = token_counter

    identity_hook = staticmethod(identity_hook)

    def budgets(self, max_context_tokens: int) -> dict[str, int]:
        """Tokens per section for a window (each share rounded down)."""
        b = self.policy.context.budgets
        return {n: math.floor(getattr(b, f"{n}_pct") * max_context_tokens) for n in SECTIONS}

    def assemble(
        self,
        focus_text: str,
        transcript: Sequence[ChatMessage],
        system_prompt: str,
        state_report: str,
        max_context_tokens: int,
        *,
        focus_role: Role = "user",
    ) -> AssembledContext:
        """Assemble the context of one turn.

        Args:
            focus_text: what attention chose (the last message; "" for none).
            transcript: the working transcript before it, oldest first.
            system_prompt: the system prompt (always included).
            state_report: the cognitive state report ("" for none).
            max_context_tokens: the model's window.
            focus_role: the role of the focus message.

        Returns:
            The messages (system prompt, identity, related memories, state report,
            transcript, focus), what went in, tokens per section and what was left out.
        """
        budgets = self.budgets(max_context_tokens)
        used = dict.fromkeys(SECTIONS, 0)
        used["output_reserve"] = budgets["output_reserve"]
        dropped: list[Dropped] = []
        over: list[str] = []
        system = ChatMessage(role="system", content=system_prompt)
        used["system_dev"] = self.counter.count_message(system)
        report = self._report(state_report, budgets["system_dev"] - used["system_dev"], dropped)
        if report is not None:
            used["system_dev"] += self.counter.count_message(report)
        if used["system_dev"] > budgets["system_dev"]:
            over.append("system_dev")
        seen_ids: set[int] = set()
        seen_text = {normalized(m.content) for m in transcript} | {normalized(focus_text)}
        inclusions: list[Inclusion] = []
        identity = self._identity(budgets, seen_ids, seen_text, inclusions, dropped, over)
        used["persistent"] = identity.tokens if identity.lines else 0
        focus = ChatMessage(role=focus_role, content=focus_text) if focus_text else None
        recent, used["recent"] = self._recent(transcript, focus, budgets["recent"], dropped)
        if focus is not None and used["recent"] > budgets["recent"]:
            over.append("recent")
        related, retrieval = self._related(
            focus_text, budgets["related"], seen_ids, seen_text, inclusions, dropped
        )
        used["related"] = related.tokens if related.lines else 0
        messages = [system]
        messages += [identity.message()] if identity.lines else []
        messages += [related.message()] if related.lines else []
        messages += [report] if report is not None else []
        messages += recent
        return AssembledContext(messages, inclusions, used, dropped, budgets, over, retrieval)

    def _report(self, text: str, budget: int, dropped: list[Dropped]) -> ChatMessage | None:
        if not text.strip():
            return None
        lines = text.splitlines()
        full = ChatMessage(role="system", content=text)
        if self.counter.count_message(full) <= budget:
            return full
        tail = [lines[-1]] if lines[-1].startswith("Winner:") else []
        body = lines[2:-1] if tail else lines[2:]
        while body:
            body.pop()
            trimmed = ChatMessage(role="system", content="\n".join([*lines[:2], *body, *tail]))
            if self.counter.count_message(trimmed) <= budget:
                dropped.append(Dropped("system_dev", "state report trimmed", 0))
                return trimmed
        dropped.append(Dropped("system_dev", "state report does not fit", 0))
        return None

    def _identity(
        self,
        budgets: dict[str, int],
        seen_ids: set[int],
        seen_text: set[str],
        inclusions: list[Inclusion],
        dropped: list[Dropped],
        over: list[str],
    ) -> BudgetedBlock:
        budget = min(budgets["persistent"], self.policy.identity.budget_tokens)
        block = BudgetedBlock(IDENTITY_HEADER, self.counter, budget)
        if self.memory is None:
            return block
        rank = 0
        for cand in identity_candidates(self.memory, self.policy.identity):
            key = normalized(cand.content)
            if cand.id in seen_ids or key in seen_text:
                dropped.append(Dropped("persistent", "duplicate", 0, cand.id))
                continue
            included, observed = roll(cand, self.policy.identity, self.rng)
            mean = cand.weight.center
            if not included:
                reason = f"rolled {observed:.2f} <= threshold {self.policy.identity.threshold}"
                dropped.append(Dropped("persistent", reason, 0, cand.id))
                continue
            added = block.force(cand.content) if cand.immutable else block.try_add(cand.content)
            if added is None:
                dropped.append(Dropped("persistent", "does not fit", 0, cand.id))
                continue
            if cand.immutable and block.tokens > budget and "persistent" not in over:
                over.append("persistent")
            rank += 1
            seen_ids.add(cand.id)
            seen_text.add(key)
            explain = {
                "kind": cand.kind,
                "weight_mean": mean,
                "observed": observed,
                "threshold": self.policy.identity.threshold,
                "immutable": cand.immutable,
                "pinned": cand.pinned,
            }
            inclusions.append(
                Inclusion(
                    cand.id, "identity", rank, observed, explain, added, cand.kind, cand.content
                )
            )
        return block

    def _recent(
        self,
        transcript: Sequence[ChatMessage],
        focus: ChatMessage | None,
        budget: int,
        dropped: list[Dropped],
    ) -> tuple[list[ChatMessage], int]:
        used = self.counter.count_message(focus) if focus is not None else 0
        kept: list[ChatMessage] = []
        index = len(transcript)
        for index in range(len(transcript) - 1, -1, -1):
            cost = self.counter.count_message(transcript[index])
            if used + cost > budget:
                break
            used += cost
            kept.append(transcript[index])
        else:
            index = -1
        for message in transcript[: index + 1]:  # oldest first: what FIFO pruned
            dropped.append(
                Dropped("recent", "pruned", self.counter.count_message(message), message=message)
            )
        kept.reverse()
        return kept + ([focus] if focus is not None else []), used

    def _related(
        self,
        focus_text: str,
        budget: int,
        seen_ids: set[int],
        seen_text: set[str],
        inclusions: list[Inclusion],
        dropped: list[Dropped],
    ) -> tuple[BudgetedBlock, SearchResult | None]:
        block = BudgetedBlock(RELATED_HEADER, self.counter, budget)
        k = self.policy.context.related_k
        if self.memory is None or not focus_text.strip() or k == 0:
            return block, None
        rank = 0
        # read-only here: the retrieval effects are committed with the turn
        result = self.memory.search(focus_text, k, mutate=False, noise=True)
        for hit in result.hits:
            key = normalized(hit.content)
            if hit.id in seen_ids or key in seen_text:
                dropped.append(Dropped("related", "duplicate", 0, hit.id))
                continue
            added = block.try_add(f"[{hit.kind}] {hit.content}")
            if added is None:
                dropped.append(Dropped("related", "does not fit", 0, hit.id))
                continue
            rank += 1
            seen_ids.add(hit.id)
            seen_text.add(key)
            explain = {"kind": hit.kind, **hit.explain.model_dump(mode="json")}
            inclusions.append(
                Inclusion(hit.id, "related", rank, hit.score, explain, added, hit.kind, hit.content)
            )
        return block, result
