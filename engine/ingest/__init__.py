"""Importers that turn other systems' histories into events (offline, idempotent)."""

from engine.ingest.discord_export import (
    DiscordExport,
    ExportError,
    IngestReport,
    ingest_export,
    load_export,
)

__all__ = ["DiscordExport", "ExportError", "IngestReport", "ingest_export", "load_export"]
