"""Gating a turn's products: identity hook, entry gate on the input, exit gate on the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.mind.attention import AttentionDecision
from engine.mind.gate_effects import PERSISTING, memory_for
from engine.mind.salience import ExitJudge, SalienceInputs
from engine.pipeline.act import ActResult
from engine.pipeline.identity import identity_hook
from engine.pipeline.turn_commit import Buffered, TurnProducts
from engine.policy import Policy

if TYPE_CHECKING:
    from engine.pipeline.turn import MindParts


def gate_turn(
    memory: MemoryService | None,
    mind: MindParts,
    policy: Policy,
    decision: AttentionDecision,
    turn_id: int,
    act: ActResult,
    inputs: SalienceInputs,
) -> TurnProducts:
    """Gate what a turn produced: what becomes memory, what waits, what goes.

    The identity hook mints an identity memory at once; the input meets the entry
    gate (skip, or buffer into scratch); the reply meets the exit gate (persist,
    persist and flag, reinforce the memory it confirms, buffer, or drop).

    Args:
        memory: the memory service (None: nothing is minted).
        mind: the turn's cognition (gates).
        policy: the effective policy.
        decision: attention's decision (its winner is the input).
        turn_id: the turn.
        act: what the generate/act loop did.
        inputs: salience inputs (the exit gate's relevance and similarity).

    Returns:
        The products the commit writes.
    """
    assert decision.winner is not None
    c = decision.winner.candidate
    status = (
        "committed"
        if act.output is not None
        else "cancelled"
        if act.stop_reason == "cancel"
        else "failed"
    )
    items: list[NewMemory] = []
    buffered: list[Buffered] = []
    reinforce: list[int] = []
    gates: dict[str, Any] = {}
    name = identity_hook(c.text) if c.source == "operator" else None
    if name:
        items.append(
            NewMemory(
                kind="identity",
                content=f"The operator's name is {name}.",
                source="operator",
                source_tag=c.source_tag,
                event_ids=[c.event_id] if c.event_id else [],
                source_meta={"identity_hook": c.text[:200], "turn_id": turn_id},
            )
        )
    entry = mind.entry_gate.decide(c.text, c.source)
    gates["entry"] = entry
    # channel messages are minted by the janitor (when it mints): never twice
    janitor_mints = c.source == "channel" and policy.janitor.mint_messages
    if entry == "buffer" and not janitor_mints:
        buffered.append(Buffered(c.text, "message", c.source))
    if act.output:
        judged = ExitJudge(mind.exit_gate, inputs, policy)(act.output)
        gates["exit"] = judged.as_dict()
        if judged.action in PERSISTING:
            items.append(
                memory_for(
                    act.output,
                    "assistant_message",
                    judged,
                    source="assistant",
                    channel_id=c.channel_id,
                    source_tag="system",
                    meta={"turn_id": turn_id},
                )
            )
        elif judged.action == "reinforce" and judged.target_id is not None:
            reinforce.append(judged.target_id)
        elif judged.action == "buffer":
            buffered.append(Buffered(act.output, "assistant_message", "assistant"))
    prepared = memory.prepare(items) if memory is not None and items else None
    record: dict[str, Any] = {
        "input": c.text,
        "input_event_id": c.event_id,
        "candidate_id": c.id,
        "source": c.source,
        "source_tag": c.source_tag,
        "identity": name,
        "gates": gates,
    }
    return TurnProducts(
        turn_id=turn_id,
        status=status,
        act=act,
        record=record,
        channel_id=c.channel_id,
        prepared=prepared,
        buffered=buffered,
        reinforce=reinforce,
    )
