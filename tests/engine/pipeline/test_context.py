"""Context assembly: budgets, identity injection, dedupe, pruning, inclusions, the name hook."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.config import load_policy
from engine.llm.base import ChatMessage
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.pipeline.context import (
    AssembledContext,
    ContextAssembler,
    inclusions_signal,
    record_inclusions,
)
from engine.pipeline.identity import identity_hook
from engine.pipeline.tokens import EstimateTokenCounter, TokenizerCounter
from engine.policy import Policy
from engine.signals import signal_from_json, signal_to_json

POLICY = load_policy().policy
COUNTER = EstimateTokenCounter.from_policy(POLICY)
SYSTEM = "You are Cephalon. Answer briefly."
REPORT = "[COGNITIVE STATE]\nAttention candidates this cycle:\n  - operator message: ...\nWinner: x"


def assembler(
    service: MemoryService | None, seed: int = 0, policy: Policy = POLICY
) -> ContextAssembler:
    return ContextAssembler(policy, service, np.random.default_rng(seed), COUNTER)


def set_weight(service: MemoryService, memory_id: int, alpha: float, beta: float) -> None:
    service.store.write(
        lambda cur: cur.execute(
            "UPDATE memories SET depth_weight_alpha = ?, depth_weight_beta = ? WHERE id = ?",
            [alpha, beta, memory_id],
        )
    )
    service.reload_scoring_cache()


def text_of(ctx: AssembledContext) -> str:
    return "\n".join(m.content for m in ctx.messages)


def chat(n: int) -> list[ChatMessage]:
    return [
        ChatMessage(
            role="user" if i % 2 == 0 else "assistant", content=f"turn {i}: " + "words " * 30
        )
        for i in range(n)
    ]


def test_budgets_are_honoured_and_match_the_messages(service: MemoryService) -> None:
    service.add(
        [
            NewMemory(kind="message", content=f"the garden note {i}: " + "soil " * (5 + i))
            for i in range(40)
        ]
        + [
            NewMemory(kind="preference", content=f"the operator prefers tea number {i}")
            for i in range(30)
        ]
    )
    ctx = assembler(service).assemble(
        "tell me about the garden soil", chat(60), SYSTEM, REPORT, 2048
    )
    b = ctx.budgets
    assert b == {
        "system_dev": 122,
        "persistent": 163,
        "related": 860,
        "recent": 368,
        "output_reserve": 409,
    }
    used = ctx.sections_tokens
    for section in ("system_dev", "related", "recent"):
        assert used[section] <= b[section], section
    assert used["persistent"] <= min(b["persistent"], POLICY.identity.budget_tokens)
    spent = sum(v for k, v in used.items() if k != "output_reserve")
    assert spent <= 2048 - b["output_reserve"]
    assert spent == sum(COUNTER.count_message(m) for m in ctx.messages)  # the accounting is exact
    assert ctx.over_budget == []
    assert [i.section for i in ctx.inclusions].count("related") >= 3
    assert (
        ctx.messages[0].content == SYSTEM
        and ctx.messages[-1].content == "tell me about the garden soil"
    )
    pruned = [d.message for d in ctx.dropped if d.section == "recent"]
    kept = [m for m in ctx.messages if m.content.startswith("turn ")]
    assert pruned and kept and pruned + kept == chat(60)  # the oldest go first, order kept


def test_identity_memories_are_whole_or_absent_and_immutable_always_in(
    service: MemoryService,
) -> None:
    long_value = "The operator values honesty above speed. " * 12  # ~125 tokens
    ids = service.add(
        [
            NewMemory(
                kind="identity", content="Never run destructive commands unasked.", immutable=True
            ),
            NewMemory(kind="identity", content=long_value.strip()),
            NewMemory(kind="identity", content="The operator's name is Ada."),
        ]
    )
    set_weight(service, ids[1], 9.0, 1.0)
    set_weight(service, ids[2], 9.0, 1.0)
    tight = POLICY.model_copy(
        update={"identity": POLICY.identity.model_copy(update={"budget_tokens": 120})}
    )
    for seed in range(25):
        ctx = assembler(service, seed, tight).assemble("hello", [], SYSTEM, "", 4096)
        text = text_of(ctx)
        assert "Never run destructive commands unasked." in text
        assert text.count("The operator values honesty") in (0, 12)  # whole or absent
        assert any(d.memory_id == ids[1] and d.section == "persistent" for d in ctx.dropped)
        assert ids[1] not in [i.memory_id for i in ctx.inclusions if i.section == "identity"]
        assert ctx.sections_tokens["persistent"] <= 120
    roomy = [assembler(service, seed).assemble("hello", [], SYSTEM, "", 4096) for seed in range(10)]
    assert any(long_value.strip() in text_of(ctx) for ctx in roomy)  # whole, when it fits


def test_identity_rolls_follow_the_weights(service: MemoryService) -> None:
    ids = service.add(
        [
            NewMemory(kind="identity", content="strong belief"),
            NewMemory(kind="identity", content="middling belief"),
            NewMemory(kind="identity", content="weak belief"),
            NewMemory(kind="message", content="not an identity kind"),
        ]
    )
    set_weight(service, ids[0], 30.0, 3.0)
    set_weight(service, ids[1], 6.0, 4.0)
    set_weight(service, ids[2], 1.0, 6.0)
    set_weight(service, ids[3], 30.0, 1.0)
    asm = assembler(service, seed=5)
    seen = {memory_id: 0 for memory_id in ids}
    for _ in range(200):
        for inclusion in asm.assemble("", [], SYSTEM, "", 4096).inclusions:
            seen[inclusion.memory_id] += 1
    assert seen[ids[0]] > 0.8 * 200
    assert 0.3 * 200 < seen[ids[1]] < 0.7 * 200
    assert seen[ids[2]] < 0.2 * 200
    assert seen[ids[3]] == 0


def test_no_memory_appears_twice_in_one_context(service: MemoryService) -> None:
    ids = service.add(
        [
            NewMemory(kind="identity", content="The operator's name is Ada.", pinned=True),
            NewMemory(kind="message", content="the operator's name is   ada."),  # same, normalized
            NewMemory(kind="message", content="Ada asked about the backup schedule"),
            NewMemory(kind="message", content="what is the backup schedule"),  # said in transcript
            NewMemory(kind="message", content="The backup runs nightly at 3am"),
        ]
    )
    transcript = [ChatMessage(role="user", content="What is the backup schedule")]
    focus = "Ada: the operator's name and the backup schedule?"
    ctx = assembler(service).assemble(focus, transcript, SYSTEM, "", 4096)
    included = [i.memory_id for i in ctx.inclusions]
    assert len(included) == len(set(included))
    assert included[0] == ids[0] and ctx.inclusions[0].section == "identity"
    assert ids[1] not in included and ids[3] not in included
    assert {ids[2], ids[4]} <= set(included)
    assert text_of(ctx).lower().count("the operator's name is") == 1
    reasons = {d.memory_id: d.reason for d in ctx.dropped if d.section == "related"}
    assert reasons[ids[0]] == "duplicate" and reasons[ids[1]] == "duplicate"


def test_state_report_is_a_system_message_trimmed_to_fit(service: MemoryService) -> None:
    lines = ["[COGNITIVE STATE]", "Attention candidates this cycle:"]
    lines += [f'  - channel message: "chatter number {i} ..." (salience 0.3)' for i in range(40)]
    report = "\n".join([*lines, "Winner: operator message won"])
    ctx = assembler(None).assemble("hi", [], SYSTEM, report, 4096)
    (state,) = [m for m in ctx.messages if m.content.startswith("[COGNITIVE STATE]")]
    assert state.role == "system" and state.content.endswith("Winner: operator message won")
    assert "chatter number 0" in state.content and "chatter number 39" not in state.content
    assert ctx.sections_tokens["system_dev"] <= ctx.budgets["system_dev"]
    small = assembler(None).assemble("hi", [], SYSTEM, REPORT, 4096)
    assert any(m.content == REPORT for m in small.messages)


def test_inclusions_are_logged_and_update_access_statistics(service: MemoryService) -> None:
    ids = service.add(
        [
            NewMemory(kind="identity", content="Always cite sources.", immutable=True),
            NewMemory(kind="message", content="the deploy key rotates monthly"),
        ]
    )
    ctx = assembler(service).assemble("when does the deploy key rotate", [], SYSTEM, "", 4096)
    assert [(i.memory_id, i.section) for i in ctx.inclusions] == [
        (ids[0], "identity"),
        (ids[1], "related"),
    ]
    service.store.write(lambda cur: None)  # the search's queued retrieval effects commit
    before = service.get(ids[1])
    assert before is not None
    now = service.clock.now()
    assert (
        service.store.write(lambda cur: record_inclusions(cur, 5, ctx.inclusions, now, service))
        == 2
    )
    rows = (
        service.store.reader()
        .execute(
            "SELECT memory_id, section, rank, score, explain FROM context_inclusions "
            "WHERE turn_id = 5 ORDER BY memory_id"
        )
        .fetchall()
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [(ids[0], "identity", 1), (ids[1], "related", 1)]
    assert rows[0][3] == 1.0 and rows[1][3] == pytest.approx(ctx.inclusions[1].score)
    explain = json.loads(rows[1][4])
    assert explain["tokens"] == ctx.inclusions[1].tokens and "weight_mean" in explain
    signal = inclusions_signal(ctx.inclusions, "when does the deploy key rotate", now, 5)
    assert signal_from_json(signal_to_json(signal)) == signal
    assert [(m["id"], m["section"], m["content"]) for m in signal.memories] == [
        (ids[0], "identity", "Always cite sources."),
        (ids[1], "related", "the deploy key rotates monthly"),
    ]
    after = service.get(ids[1])
    assert after is not None and after.last_included_at is not None
    assert after.included_count_decay == pytest.approx(1.0)
    assert len(after.access_timestamps) == len(before.access_timestamps) + 1


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Please call me Ziggy from now on.", "Ziggy"),
        ("hi! my name is Ada Lovelace, nice to meet you", "Ada Lovelace"),
        ("My name's Bob", "Bob"),
        ("I'm called Quinn around here", "Quinn"),
        ("you can call me max", "Max"),
        ("I go by Sam", "Sam"),
        ("Call me back later", None),
        ("don't call me Bob", None),
        ("Please never call me Robert", None),
        ("my name is not important", None),
        ("what is my name?", None),
        ("I called my mom yesterday", None),
    ],
)
def test_identity_hook(text: str, name: str | None) -> None:
    assert identity_hook(text) == name
    assert ContextAssembler.identity_hook(text) == name


def test_token_counters() -> None:
    estimate = EstimateTokenCounter(chars_per_token=4.0, message_overhead=4)
    assert [estimate.count(t) for t in ["", "abc", "abcd", "abcde"]] == [0, 1, 1, 2]
    assert estimate.count_message(ChatMessage(role="user", content="abcde")) == 6
    words = TokenizerCounter(lambda text: text.split(), message_overhead=3)
    assert words.count("one two three") == 3
    assert words.count_message(ChatMessage(role="user", content="one two")) == 5
    with pytest.raises(ValueError):
        EstimateTokenCounter(chars_per_token=0)
