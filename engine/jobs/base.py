"""What a heartbeat job is, and what it gets to work with.

A job is a named unit of periodic work. The scheduler (``engine.jobs.scheduler``)
decides when it runs and records every run in ``job_runs``; the job itself only
does the work and says what it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.llm.base import Provider
    from engine.memory.service import MemoryService
    from engine.policy import Policy
    from engine.signals import SignalBus
    from engine.store import Store
    from engine.tools.runtime import ToolRuntime


@dataclass
class JobContext:
    """Everything a job may use. Optional parts are None when not configured."""

    store: Store
    policy: Policy
    clock: Clock
    bus: SignalBus
    memory: MemoryService | None = None
    provider: Provider | None = None
    runtime: ToolRuntime | None = None
    channels: dict[str, Any] = field(default_factory=dict)
    """Channels by name (``"local"``, ``"discord"``), see ``engine.channels``."""
    trigger: str = "tick"
    """Why this run happens: ``"tick"`` (the scheduler found it due) or ``"manual"``
    (``cephalon jobs run NAME``). The scheduler sets it per run; jobs may use it,
    e.g. the janitor always reports on a manual run."""
    run_id: int | None = None
    """The ``job_runs`` row of the current run (set by the scheduler)."""


class SkipRun(Exception):
    """Raised by a job to record its run as ``skipped`` (with the message as reason)."""


class Job(Protocol):
    """A periodic job."""

    name: str
    """Unique name (``cephalon jobs run NAME``)."""

    def interval_seconds(self, policy: Policy) -> float:
        """How often the job runs, from the policy.

        Args:
            policy: the effective policy.

        Returns:
            Seconds between runs (before jitter).
        """
        ...

    def inputs_fingerprint(self, ctx: JobContext) -> str | None:
        """A digest of what the job would read. If it equals the last ok run's, the
        scheduler records the run as ``skipped`` without calling :meth:`run` (so no
        model call is made). None means "always run".

        Args:
            ctx: the job's context.

        Returns:
            The fingerprint, or None.
        """
        ...

    def run(self, ctx: JobContext) -> dict[str, Any]:
        """Do the work.

        Args:
            ctx: the job's context.

        Returns:
            JSON-safe detail stored in ``job_runs.detail`` (counts, ids, report text).

        Raises:
            SkipRun: nothing to do; recorded as ``skipped``.
            Exception: anything else is recorded as ``failed``, never fatal.
        """
        ...
