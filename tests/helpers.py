"""Helpers for running the real CLI in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
    """Run ``python -m cephalon_tui ARGS`` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "cephalon_tui", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_cli_as_nobody(*args: str) -> Result:
    """Run the CLI's main() in a forked child whose effective uid is ``nobody``.

    Tests run as root here, which ignores permission bits; dropping the euid in a
    fork (the interpreter is already loaded) makes file permissions real.
    """
    # As nobody the child cannot read the interpreter's stdlib (under /root), so
    # everything the CLI may import is imported here, before the fork.
    import cephalon_tui.cli
    import cephalon_tui.main_job
    import engine.daemon
    import engine.doctor  # noqa: F401

    read_out, write_out = os.pipe()
    read_err, write_err = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 99
        try:
            os.dup2(write_out, 1)
            os.dup2(write_err, 2)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - pytest replaced them
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            os.setegid(65534)
            os.seteuid(65534)
            sys.argv = ["cephalon", *args]

            try:
                cephalon_tui.cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write_out)
    os.close(write_err)
    with os.fdopen(read_out) as out, os.fdopen(read_err) as err:
        stdout, stderr = out.read(), err.read()
    _, status = os.waitpid(pid, 0)
    return Result(os.waitstatus_to_exitcode(status), stdout, stderr)
