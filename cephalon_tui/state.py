"""What every CLI command shares: settings resolved once from ``--home`` and the env."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.config import LoadedPolicy, Settings, load_policy, load_settings, resolve_policy_file


@dataclass
class CliState:
    """Lazily resolved settings and policy for one CLI invocation."""

    home: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _policy: LoadedPolicy | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """Settings from the environment, with ``--home`` winning."""
        if self._settings is None:
            self._settings = load_settings(self.home)
        return self._settings

    @property
    def policy(self) -> LoadedPolicy:
        """The validated policy (defaults + the user's file)."""
        if self._policy is None:
            self._policy = load_policy(resolve_policy_file(self.settings))
        return self._policy
