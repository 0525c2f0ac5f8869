"""The screens the console opens by name."""

from __future__ import annotations

from textual.screen import Screen


def make_screen(name: str) -> Screen[None]:
    """A fresh screen for ``memory``, ``turns``, ``jobs`` or ``policy``.

    Raises:
        KeyError: an unknown name.
    """
    if name == "memory":
        from cephalon_tui.screens.memory import MemoryScreen

        return MemoryScreen()
    if name == "turns":
        from cephalon_tui.screens.turns import TurnsScreen

        return TurnsScreen()
    if name == "jobs":
        from cephalon_tui.screens.jobs import JobsScreen

        return JobsScreen()
    if name == "policy":
        from cephalon_tui.screens.policy import PolicyScreen

        return PolicyScreen()
    raise KeyError(name)
