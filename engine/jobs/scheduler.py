"""The heartbeat scheduler: decides when jobs run; runs them on worker threads.

Each job runs every ``interval x (1 + u)`` seconds, ``u`` drawn uniformly from
``[-jobs.jitter_fraction, +jobs.jitter_fraction]`` by a generator seeded with
(seed, job name, run start): the same seed gives the same schedule. A job that
never ran is due at the first tick; the next due time is kept in ``job_state``
so a restart keeps the schedule. A paused job (``job_state.paused``) is not run
by ticks; ``cephalon jobs run NAME`` still runs it.

How one run is recorded (double runs, stale rows, fingerprints, failures) is
:mod:`engine.jobs.runner`. Runs started by :meth:`Scheduler.tick` happen on
worker threads, so a long job never blocks the caller (the engine loop);
:meth:`Scheduler.run_now` runs a job in the calling thread.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

import structlog

from engine.clock import to_naive_utc
from engine.errors import CephalonError
from engine.jobs.base import Job, JobContext
from engine.jobs.listing import JobStatus, job_statuses
from engine.jobs.runner import RunOutcome, run_job
from engine.jobs.state import last_runs, read_states, update_state

log = structlog.get_logger("cephalon.jobs")


class UnknownJobError(CephalonError):
    """No job has this name."""


def jittered_interval(
    seed: int, job: str, base: datetime, interval: float, fraction: float
) -> float:
    """The seconds from ``base`` to a job's next run: ``interval x (1 + u)``.

    Args:
        seed: the scheduler's seed.
        job: the job name.
        base: when the current run starts.
        interval: the job's interval in seconds.
        fraction: ``jobs.jitter_fraction``; ``u`` is uniform in ``[-fraction, +fraction]``.

    Returns:
        Seconds until the next run (the same for the same arguments).
    """
    rng = random.Random(f"{seed}/{job}/{to_naive_utc(base).isoformat()}")
    return interval * (1.0 + rng.uniform(-fraction, fraction))


class Scheduler:
    """Runs heartbeat jobs when they are due and records each run."""

    def __init__(self, ctx: JobContext, jobs: Sequence[Job], *, seed: int = 0) -> None:
        """Create a scheduler (nothing runs until :meth:`tick` or :meth:`run_now`).

        Args:
            ctx: what jobs get (store, policy, clock, bus, memory, provider, channels).
            jobs: the jobs, with unique names.
            seed: seeds the jitter (``settings.seed``).

        Raises:
            ValueError: two jobs share a name.
        """
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self._ctx = ctx
        self._jobs: dict[str, Job] = {job.name: job for job in jobs}
        self._seed = seed
        self._lock = threading.Lock()
        # a few long-lived workers (not a thread per run: each thread keeps a read cursor)
        self._pool = ThreadPoolExecutor(
            max_workers=len(self._jobs) + 1, thread_name_prefix="cephalon-job"
        )
        self._runs: dict[str, list[Future[None]]] = {}
        self._due: dict[str, datetime] | None = None
        self._paused: set[str] = set()

    @property
    def names(self) -> list[str]:
        """The job names, in registration order."""
        return list(self._jobs)

    def job(self, name: str) -> Job:
        """The job called ``name``.

        Raises:
            UnknownJobError: no such job (the message lists the known names).
        """
        found = self._jobs.get(name)
        if found is None:
            known = ", ".join(self._jobs) or "none"
            raise UnknownJobError(f"no job named {name!r} (jobs: {known})")
        return found

    def interval(self, job: Job) -> float:
        """A job's interval in seconds, from the current policy."""
        return float(job.interval_seconds(self._ctx.policy))

    def next_after(self, job: Job, base: datetime) -> datetime:
        """When ``job`` is due again if a run starts at ``base`` (jittered, seeded)."""
        fraction = self._ctx.policy.jobs.jitter_fraction
        seconds = jittered_interval(self._seed, job.name, base, self.interval(job), fraction)
        return base + timedelta(seconds=seconds)

    def _schedule(self) -> dict[str, datetime]:
        """Due times and pause flags, read from the database once (call under the lock)."""
        if self._due is None:
            cur = self._ctx.store.reader()
            states, last = read_states(cur), last_runs(cur)
            due: dict[str, datetime] = {}
            for name, job in self._jobs.items():
                state = states.get(name)
                if state is not None and state.paused:
                    self._paused.add(name)
                if state is not None and state.next_due_at is not None:
                    due[name] = state.next_due_at
                elif name in last:
                    due[name] = self.next_after(job, last[name].started_at)
                else:
                    due[name] = self._ctx.clock.now()  # never ran: due at the first tick
            self._due = due
        return self._due

    @property
    def context(self) -> JobContext:
        """What the jobs get (the engine adds channels to it once they are open)."""
        return self._ctx

    def tick(self) -> list[str]:
        """Start every due, unpaused job on a worker thread (returns at once).

        Returns:
            The names of the jobs started.
        """
        now = self._ctx.clock.now()
        started: list[str] = []
        with self._lock:
            due = self._schedule()
            for name, job in self._jobs.items():
                if name in self._paused or now < due[name]:
                    continue
                try:
                    interval = self.interval(job)
                    due[name] = self.next_after(job, now)
                except Exception:  # a broken job must not stop the others
                    log.exception("job.interval_failed", job=name)
                    due[name] = now + timedelta(hours=1)
                    continue
                alive = [f for f in self._runs.get(name, []) if not f.done()]
                future = self._pool.submit(self._run_logged, job, interval, due[name], bool(alive))
                self._runs[name] = [*alive, future]
                started.append(name)
        return started

    def _run_logged(self, job: Job, interval: float, next_due: datetime, in_flight: bool) -> None:
        try:
            run_job(
                self._ctx,
                job,
                trigger="tick",
                interval=interval,
                next_due=next_due,
                in_flight=in_flight,
            )
        except Exception:  # only the store can fail here; the thread must not die loudly
            log.exception("job.record_failed", job=job.name)

    def run_now(self, name: str) -> RunOutcome:
        """Run one job now in the calling thread, paused or not, whatever its inputs.

        Args:
            name: the job.

        Returns:
            How the run ended (``skipped`` when a run of it is still in flight).

        Raises:
            UnknownJobError: no such job.
        """
        job = self.job(name)
        next_due = self.next_after(job, self._ctx.clock.now())
        with self._lock:
            if self._due is not None:
                self._due[name] = next_due
            in_flight = any(not f.done() for f in self._runs.get(name, []))
        return run_job(
            self._ctx,
            job,
            trigger="manual",
            interval=self.interval(job),
            next_due=next_due,
            in_flight=in_flight,
        )

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait for the runs started by :meth:`tick` to finish.

        Args:
            timeout: seconds for all of them.

        Returns:
            True when every run finished in time.
        """
        with self._lock:
            pending = [f for runs in self._runs.values() for f in runs]
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def close(self, wait_seconds: float = 30.0) -> bool:
        """Start nothing more; wait for the runs in flight (up to ``wait_seconds``).

        Returns:
            True when no run was still going.
        """
        idle = self.wait_idle(wait_seconds)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return idle

    def start(self, stop: threading.Event) -> threading.Thread:
        """Tick every ``engine.tick_seconds`` on a daemon thread until ``stop`` is set.

        (An engine that already has a loop calls :meth:`tick` from it instead.)

        Args:
            stop: set it to end the thread.

        Returns:
            The thread (started).
        """

        def loop() -> None:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:
                    log.exception("jobs.tick_failed")
                stop.wait(self._ctx.policy.engine.tick_seconds)

        thread = threading.Thread(target=loop, name="cephalon-jobs", daemon=True)
        thread.start()
        return thread

    def pause(self, name: str) -> None:
        """Keep ticks from running a job (persisted; ``jobs list`` shows it).

        Raises:
            UnknownJobError: no such job.
        """
        self._set_paused(name, True)

    def resume(self, name: str) -> None:
        """Let ticks run a paused job again.

        Raises:
            UnknownJobError: no such job.
        """
        self._set_paused(name, False)

    def _set_paused(self, name: str, paused: bool) -> None:
        self.job(name)
        now = self._ctx.clock.now()
        self._ctx.store.write(
            lambda cur: update_state(
                cur, name, now, paused=paused, paused_at=now if paused else None
            )
        )
        with self._lock:
            if paused:
                self._paused.add(name)
            else:
                self._paused.discard(name)

    def status(self) -> list[JobStatus]:
        """Every job's interval, pause flag, last run and next due time (reads only)."""
        with self._lock:
            due = dict(self._due or {})
            alive = {name for name, runs in self._runs.items() if any(not f.done() for f in runs)}
        return job_statuses(self, self._ctx.store.reader(), due, alive, self._ctx.clock.now())
