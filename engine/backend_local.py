"""The console backend served by an engine in this process (TUI alone, daemon side)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from engine.backend import Observer
from engine.config import LoadedPolicy, policy_rows
from engine.engine import Engine
from engine.errors import CephalonError
from engine.memory.search import Mode
from engine.memory.service import MemoryService
from engine.replay import ReplayDeps, replay_turn
from engine.store.sql import scalar
from engine.turns_query import get_turn, list_job_runs, list_turns


class LocalBackend:
    """:class:`engine.backend.ConsoleBackend` over an in-process :class:`Engine`."""

    def __init__(self, engine: Engine, loaded_policy: LoadedPolicy | None = None) -> None:
        """Serve an engine.

        Args:
            engine: a constructed engine (started or not; ``close`` stops it).
            loaded_policy: the policy with the files it came from (for the policy view).
        """
        self.engine = engine
        self.loaded_policy = loaded_policy

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        return self.engine.bus.subscribe(observer)

    def submit(self, text: str) -> int:
        return self.engine.submit(text, source="operator")

    def pause(self) -> None:
        self.engine.pause()

    def resume(self) -> None:
        self.engine.resume()

    def unlock(self, minutes: float | None = None) -> str:
        return self.engine.unlock(minutes).isoformat()

    def status(self) -> dict[str, Any]:
        engine = self.engine
        cur = engine.store.reader()
        now = engine.clock.now()
        costs = engine.ledger
        # decode speed of the last calls: tokens after the first over the time after it
        # (the first token's wait holds prefill and, cold, the model load)
        rate = cur.execute(
            "SELECT coalesce(sum(tokens_out), 0), coalesce(sum(decode_ms), 0) FROM "
            "(SELECT tokens_out, latency_ms - coalesce(ttft_ms, 0) AS decode_ms FROM llm_calls "
            "WHERE latency_ms > coalesce(ttft_ms, 0) AND tokens_out > 0 ORDER BY id DESC LIMIT 5)"
        ).fetchall()[0]
        unlocks = engine.runtime.permissions.active_unlocks()
        last = cur.execute("SELECT provider, model FROM llm_calls ORDER BY id DESC LIMIT 1")
        answered = last.fetchall()
        primary = getattr(engine.provider, "providers", [engine.provider])[0]
        provider, model = answered[0] if answered else (primary.name, primary.model)
        return {
            "state": engine.state,
            "provider": provider,
            "model": model,
            **_model_readiness(primary),
            "queue_depth": int(
                scalar(cur, "SELECT count(*) FROM candidates WHERE status = 'pending'")
            ),
            "memory_count": int(scalar(cur, "SELECT count(*) FROM memories WHERE NOT deleted")),
            "turns": int(scalar(cur, "SELECT count(*) FROM turns")),
            "tokens_per_s": round(float(rate[0]) / (float(rate[1]) / 1000), 1) if rate[1] else None,
            "cost_session_usd": round(costs.totals(costs.session_started).cost_usd, 6),
            "cost_24h_usd": round(costs.totals(now - timedelta(hours=24)).cost_usd, 6),
            "unlocked_until": max(unlocks.values()).isoformat() if unlocks else None,
        }

    def turns(self, limit: int = 50) -> list[dict[str, Any]]:
        return list_turns(self.engine.store.reader(), limit)

    def turn(self, turn_id: int) -> dict[str, Any]:
        return get_turn(self.engine.store.reader(), turn_id)

    def replay(self, turn_id: int, live: bool = False) -> dict[str, Any]:
        engine = self.engine
        deps = ReplayDeps(
            engine.store,
            engine.registry,
            engine.policy,
            engine.clock,
            provider=engine.provider if live else None,
            memory=engine.memory if live else None,
        )
        return replay_turn(deps, self.turn(turn_id), live=live)

    def memory_search(self, query: str, k: int = 10, mode: Mode = "full") -> list[dict[str, Any]]:
        hits = self._memory().search(query, k, mode=mode, mutate=False).hits
        pinned = {
            int(r[0])
            for r in self.engine.store.reader()
            .execute(
                "SELECT id FROM memories WHERE pinned AND id IN (SELECT unnest(?))",
                [[h.id for h in hits]],
            )
            .fetchall()
        }
        return [
            {
                "id": h.id,
                "kind": h.kind,
                "content": h.content,
                "score": h.score,
                "rank": h.rank,
                "pinned": h.id in pinned,
                "explain": h.explain.model_dump(mode="json"),
            }
            for h in hits
        ]

    def memory_set_pinned(self, memory_id: int, pinned: bool) -> None:
        if not self._memory().pin(memory_id, pinned):
            raise CephalonError(f"no memory {memory_id}")

    def memory_forget(self, memory_id: int) -> None:
        memory = self._memory()
        if memory.get(memory_id) is None:
            raise CephalonError(f"no memory {memory_id}")
        memory.forget([memory_id])

    def job_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        return list_job_runs(self.engine.store.reader(), limit)

    def policy_view(self) -> list[dict[str, Any]]:
        if self.loaded_policy is None:
            return policy_rows(LoadedPolicy(self.engine.policy, ()))
        return policy_rows(self.loaded_policy)

    def close(self) -> None:
        self.engine.close()

    def _memory(self) -> MemoryService:
        if self.engine.memory is None:
            raise CephalonError("this engine runs without memory")
        return self.engine.memory


def _model_readiness(provider: object) -> dict[str, Any]:
    """``model_ready`` and ``model_state`` of a provider that loads in the background
    (the embedded model: assembling, loading, ready, failed); others are always ready."""
    status = getattr(provider, "status", None)
    if not callable(status):
        return {"model_ready": True, "model_state": "ready"}
    current = status()
    state = str(getattr(current, "state", "ready"))
    error = getattr(current, "error", None)
    progress = getattr(current, "progress", None)
    if state == "failed" and error:
        state = f"failed: {error}"
    elif state == "assembling" and progress is not None:
        state = f"assembling {progress:.0%}"
    return {"model_ready": state == "ready", "model_state": state}
