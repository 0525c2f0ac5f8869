"""Console themes: Textual ``Theme`` definitions read from the TOML files in ``themes/``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from engine.errors import CephalonError

THEMES_DIR = Path(__file__).resolve().parent.parent / "themes"
DEFAULT_THEME = "cephalon-dark"

_COLOR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_NUMBER_FIELDS = ("luminosity_spread", "text_alpha")


def theme_from_toml(path: Path) -> Theme:
    """Read one theme file.

    Args:
        path: a TOML file with ``name``, ``primary`` and optional Theme fields.

    Returns:
        The theme.

    Raises:
        CephalonError: the file is unreadable, not TOML, or has a bad field or colour.
    """
    try:
        doc: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CephalonError(f"theme file {path}: {exc}") from None
    known = {"name", "dark", "variables", "ansi", *_COLOR_FIELDS, *_NUMBER_FIELDS}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise CephalonError(f"theme file {path}: unknown field(s) {', '.join(unknown)}")
    if not isinstance(doc.get("name"), str) or not isinstance(doc.get("primary"), str):
        raise CephalonError(f"theme file {path}: needs a string `name` and `primary`")
    for key in _COLOR_FIELDS:
        if key in doc:
            try:
                Color.parse(doc[key])
            except (ColorParseError, TypeError):
                raise CephalonError(
                    f"theme file {path}: {key} = {doc[key]!r} is no colour"
                ) from None
    variables = doc.get("variables", {})
    if not isinstance(variables, dict):
        raise CephalonError(f"theme file {path}: [variables] must be a table")
    theme = Theme(
        name=doc["name"],
        primary=str(doc["primary"]),
        dark=bool(doc.get("dark", True)),
        ansi=bool(doc.get("ansi", False)),
        variables={str(k): str(v) for k, v in variables.items()},
    )
    for key in (*_COLOR_FIELDS, *_NUMBER_FIELDS):
        if key in doc and key != "primary":
            value = float(doc[key]) if key in _NUMBER_FIELDS else str(doc[key])
            setattr(theme, key, value)
    return theme


def load_themes(directory: Path = THEMES_DIR) -> dict[str, Theme]:
    """Every theme in a directory, by name (files in name order).

    Args:
        directory: where the ``*.toml`` files are.

    Returns:
        ``{name: Theme}``.

    Raises:
        CephalonError: a file is invalid.
    """
    themes: dict[str, Theme] = {}
    for path in sorted(directory.glob("*.toml")):
        theme = theme_from_toml(path)
        themes[theme.name] = theme
    return themes


def resolve_theme_name(requested: str | None, available: dict[str, Theme]) -> str:
    """The theme to start with.

    Args:
        requested: ``--theme`` or ``CEPHALON_THEME`` (None or empty: the default).
        available: the loaded themes (Textual's built-in names are allowed too).

    Returns:
        A theme name.

    Raises:
        CephalonError: an unknown name was asked for.
    """
    from textual.theme import BUILTIN_THEMES

    if not requested:
        return DEFAULT_THEME if DEFAULT_THEME in available else "textual-dark"
    if requested in available or requested in BUILTIN_THEMES:
        return requested
    names = ", ".join(sorted(available))
    raise CephalonError(f"unknown theme {requested!r}; the themes are: {names}")
