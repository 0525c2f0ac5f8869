"""Fixtures for pipeline stage tests: the hashing memory service."""

from __future__ import annotations

from tests.engine.memory.conftest import service  # noqa: F401  (the hashing service fixture)
