"""The entry point's fast path: only a bare ``cephalon`` (with --home/--theme) skips typer."""

from __future__ import annotations

import pytest

from cephalon_tui.entry import console_options


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {}),
        (["--home", "/tmp/h"], {"--home": "/tmp/h"}),
        (
            ["--home=/tmp/h", "--theme", "cephalon-light"],
            {"--home": "/tmp/h", "--theme": "cephalon-light"},
        ),
        (["--theme=cephalon-contrast"], {"--theme": "cephalon-contrast"}),
    ],
)
def test_the_console_alone_takes_the_fast_path(argv: list[str], expected: dict[str, str]) -> None:
    assert console_options(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["chat"],
        ["--help"],
        ["--daemon"],
        ["--version"],
        ["--home"],  # a missing value: typer says so
        ["--home", "--theme", "x"],
        ["--home="],
        ["--home", "a", "--home", "b"],
        ["--home", "/tmp/h", "doctor"],
        ["--themes", "x"],
    ],
)
def test_anything_else_goes_to_the_full_command_line(argv: list[str]) -> None:
    assert console_options(argv) is None
