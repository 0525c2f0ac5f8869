"""The Discord bot token: where it is read from, and how it is kept out of logs.

Looked up in order: the ``CEPHALON_DISCORD_TOKEN`` environment variable, then
the file ``<home>/secrets/discord_token``, which must not be readable by group
or others (mode 600). The value lives in a :class:`SecretToken` whose ``str`` and
``repr`` are redacted; :func:`redact` scrubs it out of any text (error messages).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from engine.channels.errors import SecretFileError

TOKEN_ENV = "CEPHALON_DISCORD_TOKEN"
REDACTED = "[redacted]"


def token_file(home: Path) -> Path:
    """Where the token file lives in a data dir."""
    return home / "secrets" / "discord_token"


class SecretToken:
    """A token that does not print itself."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source
        """Where it came from (the variable's name or the file's path), safe to show."""

    def reveal(self) -> str:
        """The token itself, for the one call that sends it to Discord."""
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with the token replaced by a marker."""
        return redact(text, self._value)

    def __repr__(self) -> str:
        return f"SecretToken({REDACTED}, source={self.source!r})"

    def __str__(self) -> str:
        return REDACTED


def redact(text: str, secret: str) -> str:
    """Replace every occurrence of ``secret`` in ``text`` (no-op for an empty secret)."""
    return text.replace(secret, REDACTED) if secret else text


def load_token(home: Path, environ: Mapping[str, str] | None = None) -> SecretToken | None:
    """Find the bot token.

    Args:
        home: the data dir (for ``secrets/discord_token``).
        environ: the environment (default: ``os.environ``).

    Returns:
        The token, or None when none is configured (Discord stays off).

    Raises:
        SecretFileError: the file is readable by group/others, unreadable or empty.
    """
    env = os.environ if environ is None else environ
    value = env.get(TOKEN_ENV, "").strip()
    if value:
        return SecretToken(value, f"${TOKEN_ENV}")
    path = token_file(home)
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise SecretFileError(
            f"{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}"
        )
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(f"cannot read {path}: {type(exc).__name__}") from exc
    if not value:
        raise SecretFileError(f"{path} is empty; put the bot token in it")
    return SecretToken(value, str(path))
