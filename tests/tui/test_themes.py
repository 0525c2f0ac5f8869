"""Themes: every shipped theme loads, renders, and degrades to 256 and 16 colours."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from cephalon_tui.app import CephalonApp
from cephalon_tui.themes import THEMES_DIR, load_themes, resolve_theme_name, theme_from_toml
from engine.errors import CephalonError
from tests.tui.conftest import SIZE, screen_ansi, screen_text, wait_until

SHIPPED = ("cephalon-dark", "cephalon-light", "cephalon-contrast")
TRUECOLOR = re.compile(r"\x1b\[[0-9;]*[34]8;2;")
EIGHT_BIT = re.compile(r"\x1b\[[0-9;]*[34]8;5;")
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def test_the_shipped_themes_load() -> None:
    themes = load_themes()
    assert set(SHIPPED) <= set(themes)
    assert themes["cephalon-light"].dark is False
    assert themes["cephalon-contrast"].background == "#000000"
    assert resolve_theme_name(None, themes) == "cephalon-dark"
    assert resolve_theme_name("cephalon-light", themes) == "cephalon-light"
    assert resolve_theme_name("textual-dark", themes) == "textual-dark"  # built-ins too
    with pytest.raises(CephalonError, match=r"unknown theme 'neon'.*cephalon-contrast"):
        resolve_theme_name("neon", themes)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('name = "x"\nprimary = "#zzzzzz"\n', "primary = '#zzzzzz' is no colour"),
        ('name = "x"\n', "needs a string `name` and `primary`"),
        ('name = "x"\nprimary = "red"\nsparkle = true\n', "unknown field"),
        ("name = ", "theme file"),
    ],
)
def test_a_bad_theme_file_is_a_one_line_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(CephalonError, match=re.escape(message) if "'" in message else message):
        theme_from_toml(path)


def test_every_theme_file_is_documented_with_a_comment() -> None:
    for path in THEMES_DIR.glob("*.toml"):
        assert path.read_text().startswith("# "), path


@pytest.mark.parametrize("theme", SHIPPED)
async def test_each_theme_renders_in_truecolor_256_and_16_colours(
    make_app: Callable[..., CephalonApp], theme: str
) -> None:
    app = make_app(theme=theme)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "scripted/scripted" in screen_text(app))
        assert app.theme == theme
        truecolor = screen_ansi(app, "truecolor")
        assert TRUECOLOR.search(truecolor)
        eight_bit = screen_ansi(app, "256")
        assert not TRUECOLOR.search(eight_bit) and EIGHT_BIT.search(eight_bit)
        sixteen = screen_ansi(app, "standard")
        assert not TRUECOLOR.search(sixteen) and not EIGHT_BIT.search(sixteen)
        codes = {c for params in SGR.findall(sixteen) for c in params.split(";") if c}
        assert codes & {str(n) for n in (*range(30, 38), *range(90, 98))}  # foregrounds
        assert codes & {str(n) for n in (*range(40, 48), *range(100, 108))}  # backgrounds
        plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", sixteen)
        for title in ("Chat", "Attention", "Gut", "Cognitive state", "Tool calls", "Context"):
            assert title in plain


def test_an_unknown_theme_on_the_command_line_is_a_one_line_error(isolated_home: Path) -> None:
    from tests.helpers import run_cli

    result = run_cli("--theme", "no-such-theme")
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "cephalon: error: unknown theme 'no-such-theme'; the themes are: "
        "cephalon-contrast, cephalon-dark, cephalon-light"
    ]
