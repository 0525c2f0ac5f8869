"""A recorded turn cut into the stages of the pipeline, for the replay viewer.

intake -> context -> prompt -> generate -> act -> commit, each as a renderable,
plus which check of a re-run (``engine.replay``) speaks to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cephalon_tui.screens.detail import fields_table
from cephalon_tui.widgets.context import explain_cells

PROMPT_PREVIEW = 600


@dataclass
class Stage:
    """One step of a recorded turn."""

    key: str
    title: str
    body: RenderableType
    checks: tuple[str, ...] = ()
    """Names of the re-run checks that compare this stage."""


def _json(value: Any) -> Text:
    return Text(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _intake(r: dict[str, Any]) -> RenderableType:
    rows = [
        ("turn", r.get("id")),
        ("source", r.get("source") or r.get("source_tag")),
        ("channel", r.get("channel_id")),
        ("started", r.get("started_at")),
        ("status", r.get("status")),
    ]
    return Group(fields_table(rows), Text("\ninput", style="bold"), Text(str(r.get("input", ""))))


def _context(r: dict[str, Any]) -> RenderableType:
    items = r.get("context") or []
    if not items:
        return Text("no memories were retrieved for this turn", style="italic")
    table = Table(expand=True, box=None)
    for column in ("#", "score", "bm25", "ann", "rr", "act", "wt", "rec"):
        table.add_column(column, no_wrap=True)
    table.add_column("memory", ratio=1)
    for item in items:
        table.add_row(*explain_cells(item, 400))
    return table


def _prompt(r: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    for message in r.get("prompt") or []:
        content = str(message.get("content") or "")
        if len(content) > PROMPT_PREVIEW:
            content = content[:PROMPT_PREVIEW] + f"… ({len(content)} characters)"
        parts.append(Text(f"[{message.get('role')}]", style="bold"))
        parts.append(Text(content + "\n"))
    return Group(*parts) if parts else Text("no prompt recorded", style="italic")


def _generate(r: dict[str, Any], show_timings: bool) -> RenderableType:
    parts: list[RenderableType] = []
    digests = r.get("request_digests") or []
    for index, result in enumerate(r.get("llm_results") or []):
        usage = result.get("usage") or {}
        head = (
            f"call {index + 1}: {result.get('provider')}/{result.get('model')}  "
            f"in {usage.get('tokens_in')} out {usage.get('tokens_out')} tokens  "
            f"finish {result.get('finish_reason')}"
        )
        if index < len(digests):
            head += f"  request {digests[index]}"
        if show_timings:
            head += f"  {(result.get('timings') or {}).get('total_ms', 0):.0f} ms"
        parts.append(Text(head, style="bold"))
        parts.append(Text(str(result.get("text", "")) + "\n"))
    return Group(*parts) if parts else Text("the model was not called", style="italic")


def _act(r: dict[str, Any], show_timings: bool) -> RenderableType:
    calls = r.get("tool_call_log") or []
    if not calls:
        return Text("no tool calls", style="italic")
    parts: list[RenderableType] = []
    for call in calls:
        line = f"#{call.get('id')} {call.get('tool')} -> {call.get('status')}"
        if show_timings and call.get("duration_ms") is not None:
            line += f"  {call['duration_ms']:.1f} ms"
        parts.append(Text(line, style="bold"))
        parts.append(Text("args " + json.dumps(call.get("args"), default=str)))
        if call.get("error"):
            parts.append(Text("error " + str(call["error"])))
        else:
            parts.append(Text("result " + json.dumps(call.get("result"), default=str)))
        parts.append(Text(""))
    return Group(*parts)


def _commit(r: dict[str, Any], show_timings: bool) -> RenderableType:
    rows = [
        ("status", r.get("status")),
        ("stop reason", r.get("stop_reason")),
        ("error", r.get("error")),
        ("memories minted", r.get("memory_ids")),
        ("llm calls", r.get("llm_calls")),
        ("finished", r.get("finished_at")),
    ]
    if show_timings:
        rows.append(("latency", f"{r.get('latency_ms', 0):.0f} ms"))
        rows.append(("stage timings", r.get("timings_ms")))
    output = r.get("output")
    return Group(
        fields_table(rows),
        Text("\noutput", style="bold"),
        Text(str(output)) if output is not None else Text("(no output)", style="italic"),
    )


def build_stages(record: dict[str, Any], show_timings: bool = True) -> list[Stage]:
    """The stages of a recorded turn.

    Args:
        record: ``ConsoleBackend.turn(id)``.
        show_timings: include durations (off for deterministic snapshots).

    Returns:
        Six stages, in pipeline order.
    """
    return [
        Stage("intake", "1 intake", _intake(record)),
        Stage("context", "2 context", _context(record)),
        Stage("prompt", "3 prompt", _prompt(record), ("llm_requests",)),
        Stage("generate", "4 generate", _generate(record, show_timings), ("llm_requests",)),
        Stage("act", "5 act", _act(record, show_timings), ("tool_calls",)),
        Stage("commit", "6 commit", _commit(record, show_timings), ("output", "stop_reason")),
    ]


def rerun_body(result: dict[str, Any]) -> RenderableType:
    """What a re-run found: overall match, each check, and the output diff.

    Args:
        result: ``ConsoleBackend.replay(id, live)``.

    Returns:
        The renderable.
    """
    verdict = "matches the recording" if result.get("match") else "differs from the recording"
    head = Text(f"{result.get('mode', 'recorded')} re-run {verdict}", style="bold")
    table = Table(box=None, expand=True)
    table.add_column("check", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("original", ratio=1)
    table.add_column("replayed", ratio=1)
    for check in result.get("stages") or []:
        table.add_row(
            str(check.get("stage")),
            "✓ same" if check.get("match") else "✗ differs",
            _json(check.get("original")),
            _json(check.get("replayed")),
        )
    diff = result.get("diff") or ""
    diff_text = Text(diff) if diff else Text("output: no difference", style="italic")
    return Group(head, Text(""), table, Text("\ndiff", style="bold"), diff_text)


def check_marks(result: dict[str, Any]) -> dict[str, bool]:
    """``{check name: matched}`` from a re-run."""
    return {str(c.get("stage")): bool(c.get("match")) for c in result.get("stages") or []}
