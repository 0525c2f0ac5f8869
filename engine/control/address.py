"""Unix socket addresses for a data dir's control socket, however long its path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_UNIX_PATH = 107
"""``sun_path`` holds 108 bytes on Linux, the terminating NUL included."""


@contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """An address that ``bind``/``connect`` accept for ``path``.

    Paths longer than ``sun_path`` allows are reached through a ``/proc/self/fd``
    handle on their folder (Linux), so a deep ``--home`` still works.

    Args:
        path: the socket file.

    Yields:
        The address to pass to the socket call (valid inside the ``with``).

    Raises:
        OSError: the folder of a long path cannot be opened.
    """
    text = str(path)
    if len(os.fsencode(text)) <= MAX_UNIX_PATH:
        yield text
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)
