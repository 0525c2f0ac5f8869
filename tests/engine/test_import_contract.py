"""engine/ must never pull in the UI or discord at import time."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import engine

FORBIDDEN = ("textual", "cephalon_tui", "discord")


def test_importing_every_engine_module_loads_no_ui_or_discord() -> None:
    modules = sorted(info.name for info in pkgutil.walk_packages(engine.__path__, prefix="engine."))
    assert "engine.store.database" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps([m for m in {FORBIDDEN!r} if m in sys.modules or "
        "any(k.startswith(m + '.') for k in sys.modules)]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == []
