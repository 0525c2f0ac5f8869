"""DuckDB storage: migrations, the single writer, repositories."""

from engine.store.database import Store
from engine.store.events import EventLog

__all__ = ["EventLog", "Store"]
