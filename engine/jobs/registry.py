"""The built-in heartbeat jobs, by name.

``janitor`` always; ``golden_path`` (channel summaries) when its module is
installed. Job modules are imported lazily, so importing the registry is cheap
and a job module that fails to import costs only that job (logged).
"""

from __future__ import annotations

import importlib

import structlog

from engine.jobs.base import Job

log = structlog.get_logger("cephalon.jobs")

BUILTIN_JOBS: tuple[tuple[str, str, str], ...] = (
    ("janitor", "engine.jobs.janitor", "JanitorJob"),
    ("golden_path", "engine.jobs.golden_path", "GoldenPathJob"),
)
"""(job name, module, class) of every built-in job, in the order they are listed."""


def builtin_jobs() -> list[Job]:
    """An instance of every built-in job whose module can be imported.

    Returns:
        The jobs, in :data:`BUILTIN_JOBS` order.
    """
    jobs: list[Job] = []
    for name, module_name, class_name in BUILTIN_JOBS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                log.exception("job.import_failed", job=name)
            continue  # not built (yet): the job is simply absent
        except Exception:
            log.exception("job.import_failed", job=name)
            continue
        try:
            job: Job = getattr(module, class_name)()
        except Exception:
            log.exception("job.create_failed", job=name)
            continue
        jobs.append(job)
    return jobs
