"""The janitor job: spam cleanup as a heartbeat job (contract section 6).

One run walks this state machine, recording the states it passed through in
the run's detail (``states``)::

    listen -> aggregate -> [plan_gc -> (summarize -> commit | abort)*] -> [report] -> listen

* **aggregate** (every run, ``janitor.interval_minutes``): the aggregator folds new
  message events into spam-family aggregates; Discord messages in no family (humans,
  bot posts seen once) become memories (:mod:`engine.jobs.janitor_mint`); new large
  families get suppress rules proposed (``suppress_rule_proposals``, ``proposed``).
* **plan_gc / summarize / commit / abort** when the GC interval has passed
  (``compaction.interval_minutes``), a previous GC was cut short by the action
  budget, or the run is manual. A group whose summary is invalid is aborted and
  the next one is tried; when the provider fails, the remaining groups are aborted.
  First, the turns' co-access log is folded into ``co_access``.
* **report** (after GC, so it carries this run's compaction results) when
  ``janitor.report_interval_minutes`` has passed since the last
  report and the window holds something, or always on a manual run
  (``cephalon jobs run janitor``). Never per message. The report (Markdown) is
  stored in the run's detail and as a ``system.tick`` event, and posted to
  ``janitor.report_channel_id`` through a channel of ``ctx.channels`` with a
  ``send(channel_id, text)`` method, when there is one.

Actions (one per GC group attempted, one per report posted) are capped by
``janitor.max_actions_per_hour`` over all janitor runs of the last hour.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from engine.clock import to_naive_utc
from engine.jobs.base import JobContext, SkipRun
from engine.jobs.janitor_gc import run_gc
from engine.jobs.janitor_mint import mint_new_messages
from engine.jobs.janitor_report import format_report
from engine.jobs.janitor_window import (
    actions_last_hour,
    add_aggregation,
    add_compaction,
    new_window,
    pending_proposals,
    store_proposals,
)
from engine.jobs.state import read_state, update_state
from engine.memory.retrieval_effects import fold_co_access
from engine.models import EventType, NewEvent
from engine.policy import Policy
from engine.store.events import insert_events
from engine.store.sql import scalar

MESSAGE_TYPES = (
    EventType.DISCORD_MESSAGE_CREATED.value,
    EventType.DISCORD_MESSAGE_EDITED.value,
    EventType.DISCORD_MESSAGE_DELETED.value,
    EventType.LOCAL_MESSAGE_CREATED.value,
)


def _elapsed(last: str | None, now: datetime, minutes: float) -> bool:
    return last is None or now - datetime.fromisoformat(last) >= timedelta(minutes=minutes)


class JanitorJob:
    """Aggregates bot spam, compacts old memories and reports, on an interval."""

    name = "janitor"

    def interval_seconds(self, policy: Policy) -> float:
        """``janitor.interval_minutes`` in seconds."""
        return policy.janitor.interval_minutes * 60.0

    def _gc_due(self, ctx: JobContext, state: dict[str, Any]) -> bool:
        minutes = ctx.policy.compaction.interval_minutes
        return (
            ctx.trigger == "manual"
            or bool(state.get("gc_backlog"))
            or _elapsed(state.get("last_gc_at"), ctx.clock.now(), minutes)
        )

    def _report_due(self, ctx: JobContext, state: dict[str, Any]) -> bool:
        minutes = ctx.policy.janitor.report_interval_minutes
        return ctx.trigger == "manual" or _elapsed(
            state.get("last_report_at"), ctx.clock.now(), minutes
        )

    def inputs_fingerprint(self, ctx: JobContext) -> str | None:
        """The newest message event, and which of GC and the report are due.

        New memories only become GC candidates after ``compaction.age_min_days``, long
        after the next GC interval, so they need no place here.

        Args:
            ctx: the job's context.

        Returns:
            A digest, or None to always run.
        """
        cur = ctx.store.reader()
        state = read_state(cur, self.name).state
        placeholders = ", ".join("?" for _ in MESSAGE_TYPES)
        newest = scalar(
            cur, f"SELECT max(id) FROM events WHERE type IN ({placeholders})", MESSAGE_TYPES
        )
        basis = [
            ctx.policy.janitor.enabled,
            newest,
            state.get("last_gc_at"),
            self._gc_due(ctx, state),
            state.get("last_report_at"),
            self._report_due(ctx, state),
        ]
        return hashlib.sha256(json.dumps(basis, default=str).encode()).hexdigest()

    def run(self, ctx: JobContext) -> dict[str, Any]:
        """One pass of the state machine.

        Args:
            ctx: the job's context (``memory`` is needed for GC, ``provider`` for summaries).

        Returns:
            The run's detail: ``states``, ``aggregate``, ``gc``, ``report``, ``actions``,
            and ``co_access_folded`` (co-access log rows folded when GC was due).

        Raises:
            SkipRun: the janitor is disabled by the policy.
        """
        policy = ctx.policy.janitor
        if not policy.enabled:
            raise SkipRun("the janitor is disabled by the policy (janitor.enabled)")
        from engine.janitor.aggregate import Aggregator

        now = ctx.clock.now()
        cur = ctx.store.reader()
        state = dict(read_state(cur, self.name).state)
        window = state.get("window") or new_window(now)
        budget = max(0, policy.max_actions_per_hour - actions_last_hour(cur, self.name, now))
        detail: dict[str, Any] = {"states": ["listen", "aggregate"], "actions": 0}

        aggregator = Aggregator(ctx.store, ctx.memory, ctx.policy, ctx.clock)
        aggregated = aggregator.process_pending()
        add_aggregation(window, aggregated)
        detail["aggregate"] = {
            name: getattr(aggregated, name)
            for name in (
                "events_seen",
                "bot_events",
                "human_events",
                "duplicates_collapsed",
                "families_touched",
                "aggregates_created",
                "aggregates_updated",
            )
        }
        if policy.mint_messages and ctx.memory is not None:
            cursor, detail["mint"] = mint_new_messages(ctx, int(state.get("minted_through", 0)))
            state["minted_through"] = cursor
        proposals: list[dict[str, Any]] = []
        if policy.propose_suppress_rules:
            suggestions = aggregator.suppress_suggestions(aggregated)
            if suggestions:
                proposals = self._propose(ctx, suggestions, now)
        window.setdefault("proposals", [])
        window["proposals"] = (window["proposals"] + proposals)[-policy.top_n :]

        report_due = self._report_due(ctx, state)
        channel = self._channel(ctx)
        reserve = 1 if report_due and channel is not None else 0
        gc_note: str | None = None
        gc_due = self._gc_due(ctx, state)
        if gc_due:
            limit = max(0, budget - reserve)
            gc = run_gc(ctx, limit, detail["states"])
            detail["gc"] = gc
            gc_note = gc.get("note")
            add_compaction(window, gc)
            detail["actions"] += gc["attempted"]
            state["last_gc_at"] = now.isoformat()
            state["gc_backlog"] = bool(gc.get("backlog"))
        self._save(ctx, state, window)
        if gc_due:  # after the save: a failed fold costs no progress
            # the turns' co-access log joins the folded table (start-up does it too):
            # a daemon that runs for months keeps its log, and the view's work, small
            detail["co_access_folded"] = ctx.store.write(fold_co_access)

        has_news = window["events_seen"] or window["gc_groups_planned"] or window["proposals"]
        if report_due and (has_news or ctx.trigger == "manual"):
            detail["states"].append("report")
            text = format_report(
                window,
                now=now,
                policy=ctx.policy,
                proposals=window["proposals"],
                pending_proposals=pending_proposals(ctx.store.reader()),
                gc_note=gc_note,
            )
            detail["report"] = self._publish(ctx, text, channel, budget - detail["actions"])
            detail["actions"] += 1 if detail["report"]["sent"] else 0
            state["last_report_at"] = now.isoformat()
            window = new_window(now)
            self._save(ctx, state, window)
        detail["states"].append("listen")
        detail["budget_left"] = budget - detail["actions"]
        return detail

    def _propose(
        self, ctx: JobContext, suggestions: list[dict[str, Any]], now: datetime
    ) -> list[dict[str, Any]]:
        def write(cur: Any) -> list[dict[str, Any]]:
            assert ctx.store.writer is not None
            first = ctx.store.writer.ids.take("suppress_rule_proposals", len(suggestions))
            return store_proposals(cur, first, suggestions, ctx.run_id, now)

        return ctx.store.write(write)

    def _save(self, ctx: JobContext, state: dict[str, Any], window: dict[str, Any]) -> None:
        state["window"] = window
        now = ctx.clock.now()
        ctx.store.write(lambda cur: update_state(cur, self.name, now, state=state))

    def _channel(self, ctx: JobContext) -> Any | None:
        """The channel reports go to: ``discord`` first, then any channel with ``send``."""
        if not ctx.policy.janitor.report_channel_id:
            return None
        ordered = sorted(ctx.channels.items(), key=lambda item: item[0] != "discord")
        return next((c for _, c in ordered if callable(getattr(c, "send", None))), None)

    def _publish(
        self, ctx: JobContext, text: str, channel: Any | None, budget: int
    ) -> dict[str, Any]:
        """Store the report as an event and post it to the report channel (budget allowing)."""
        now = ctx.clock.now()
        target = ctx.policy.janitor.report_channel_id
        event = NewEvent(
            type=EventType.SYSTEM_TICK,
            source=f"job:{self.name}",
            ts=now,
            channel_id=target or None,
            payload={
                "job": self.name,
                "kind": "janitor.report",
                "run_id": ctx.run_id,
                "content": text,
            },
        )

        def write(cur: Any) -> int:
            assert ctx.store.writer is not None
            return insert_events(cur, ctx.store.writer.ids.take("events"), [event])[0]

        out: dict[str, Any] = {"text": text, "event_id": ctx.store.write(write), "sent": False}
        if channel is None:
            out["not_sent"] = "no report channel" if not target else "no channel can send"
        elif budget <= 0:
            out["not_sent"] = "janitor.max_actions_per_hour reached"
        else:
            try:
                channel.send(target, text)
                out["sent"] = True
                out["channel_id"] = target
            except Exception as exc:  # a failed post is reported, never fatal
                out["not_sent"] = f"{type(exc).__name__}: {exc}"
        out["at"] = to_naive_utc(now).isoformat()
        return out
