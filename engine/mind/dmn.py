"""The default-mode network: when nothing has come in for a while, the mind muses.

After ``dmn.idle_seconds`` without any input, the idle loop picks one live memory
(drawn with probability proportional to its depth-weight centre, seeded) and
proposes a thought about it as a ``dmn`` candidate. The thought competes for
attention like any input (DMN urgency is the lowest), and tools it asks for need
the self-initiated confidence bar. At most one DMN thought waits at a time.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from engine.policy.mind import DmnSection
from engine.store import Store
from engine.store.sql import scalar


class DefaultModeNetwork:
    """Proposes idle thoughts."""

    def __init__(self, store: Store, policy: DmnSection, rng: np.random.Generator) -> None:
        """Create the idle loop's proposer.

        Args:
            store: read access to memories and candidates.
            policy: ``dmn`` settings.
            rng: seeded generator for the pick.
        """
        self.store = store
        self.policy = policy
        self.rng = rng

    def propose(self, now: datetime, last_input_at: datetime | None) -> str | None:
        """A thought to queue, or None (disabled, not idle long enough, one already waits,
        or nothing to think about).

        Args:
            now: the current time.
            last_input_at: when the last input of any source was queued (None: never).

        Returns:
            The thought's text.
        """
        if not self.policy.enabled:
            return None
        if last_input_at is not None and (now - last_input_at).total_seconds() < (
            self.policy.idle_seconds
        ):
            return None
        cur = self.store.reader()
        waiting = scalar(
            cur, "SELECT count(*) FROM candidates WHERE source = 'dmn' AND status = 'pending'"
        )
        if waiting:
            return None
        rows = cur.execute(
            "SELECT id, content, depth_weight_alpha / (depth_weight_alpha + depth_weight_beta) "
            "FROM memories WHERE NOT deleted AND kind NOT IN ('aggregate') "
            "ORDER BY id DESC LIMIT 500"
        ).fetchall()
        if not rows:
            return None
        weights = np.asarray([float(r[2]) for r in rows])
        pick = rows[int(self.rng.choice(len(rows), p=weights / weights.sum()))]
        snippet = " ".join(str(pick[1]).split())[:200]
        return (
            f"(idle thought, memory #{pick[0]}) Nothing has come in for a while. "
            f"Reflect briefly on: {snippet}"
        )
