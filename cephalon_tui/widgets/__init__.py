"""The console's panels: each renders one part of the :class:`ConsoleModel`."""
