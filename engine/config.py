"""Settings (environment) and Policy (TOML) loading.

Settings say *where and how* Cephalon runs (data dir, provider, threads) and
come from ``CEPHALON_*`` environment variables. The Policy says *how the mind
behaves* (every tunable number) and comes from ``data/policy.default.toml``
overlaid key by key with the user's policy file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.errors import PolicyError
from engine.paths import DataDir
from engine.policy import Policy
from engine.toml_locate import locate_key

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "data" / "policy.default.toml"


def default_home() -> Path:
    """The platform data dir used when neither ``--home`` nor ``CEPHALON_HOME`` is given."""
    return Path(platformdirs.user_data_dir("cephalon", appauthor=False))


class Settings(BaseSettings):
    """Process settings, read from ``CEPHALON_*`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="CEPHALON_", extra="ignore", use_attribute_docstrings=True
    )

    home: Path = Field(default_factory=default_home)
    """The data dir: database, index, models, logs, pidfile, control socket."""

    policy_file: Path | None = None
    """A policy TOML overriding the defaults; default: ``<home>/policy.toml`` if present."""

    threads: int = Field(default=2, ge=1, le=64)
    """Threads for model inference (embedder, reranker, embedded LLM)."""

    db_threads: int = Field(default=1, ge=1, le=64)
    """DuckDB worker threads of the engine's database. A turn runs ~30 small
    statements: with one thread each costs ~25% less (no task scheduling), and scans
    of 100k memories are no slower. Bulk commands (ingest, import) use every core."""

    provider: Literal["local", "ollama", "openai", "scripted"] = "local"
    """The chat provider: the embedded model unless a server is configured."""

    base_url: str | None = None
    """Base URL of an Ollama or OpenAI-compatible server."""

    script_file: Path | None = None
    """For ``provider=scripted``: a JSON file of replies (demos, tests); see
    :func:`engine.llm.scripted.load_script_file`."""

    model: str | None = None
    """Model name on that server (or a GGUF path for ``local``)."""

    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key (the key itself is never stored)."""

    n_ctx: int = Field(default=4096, ge=512)
    """Context window of the embedded model, in tokens."""

    seed: int = 0
    """Seed of every random draw the engine makes."""

    reranker_dir: Path | None = None
    """A folder holding a flashrank cross-encoder model; absent -> rerank is skipped."""

    embedder: Literal["minilm", "ollama", "openai", "hashing"] = "minilm"
    """Sentence embedder: the embedded int8 MiniLM, a server, or feature hashing (tests)."""

    embed_model: str | None = None
    """Embedding model name on the server (for ``ollama``/``openai`` embedders)."""

    embed_base_url: str | None = None
    """Embedding server URL (default: ``base_url``)."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Level of the log file in ``<home>/logs``."""

    @property
    def data_dir(self) -> DataDir:
        """The data dir layout under ``home``."""
        return DataDir(self.home.expanduser())


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy plus where each value came from."""

    policy: Policy
    files: tuple[Path, ...]
    sources: Mapping[str, str] = field(default_factory=dict)
    """Dotted key -> the file (default or user) that set it."""


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file into a dict.

    Args:
        path: the file.

    Returns:
        The parsed document.

    Raises:
        PolicyError: the file is missing, unreadable or not valid TOML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"policy file {path} cannot be read: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from exc


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay ``override`` on ``base`` key by key; tables merge, everything else replaces."""
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def flatten_keys(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay whole)."""
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_keys(value, dotted))
        else:
            flat[dotted] = value
    return flat


def policy_rows(loaded: LoadedPolicy) -> list[dict[str, Any]]:
    """The effective policy as rows ``{"key", "value", "source"}`` (the file that set it).

    Args:
        loaded: a loaded policy.

    Returns:
        One row per dotted key, in schema order.
    """
    rows = []
    for key, value in flatten_keys(loaded.policy.model_dump(mode="json")).items():
        probe, source = key, "default"
        while probe:
            if probe in loaded.sources:
                source = str(loaded.sources[probe])
                break
            probe = probe.rpartition(".")[0]
        rows.append({"key": key, "value": value, "source": source})
    return rows


def _format_validation_error(
    exc: ValidationError, user_doc: Mapping[str, Any], user_path: Path | None
) -> str:
    user_keys = flatten_keys(user_doc)
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(part) for part in loc)
        in_user = user_path is not None and any(
            key == dotted or dotted.startswith(key + ".") or key.startswith(dotted + ".")
            for key in user_keys
        )
        path = user_path if in_user and user_path is not None else DEFAULT_POLICY_PATH
        line = locate_key(path.read_text(encoding="utf-8"), loc)
        where = f"{path}:{line}" if line else str(path)
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{where}: {dotted}: {message}")
    return "invalid policy: " + "; ".join(lines)


def load_policy(user_file: Path | None = None) -> LoadedPolicy:
    """Load the default policy, overlay a user's file, and validate the result.

    Args:
        user_file: a TOML file of overrides, or None for the defaults alone.

    Returns:
        The validated policy and the source of every value.

    Raises:
        PolicyError: a file is unreadable or invalid, or a key is unknown or of the
            wrong type (the message names the key and its file line).
    """
    default_doc = read_toml(DEFAULT_POLICY_PATH)
    user_doc = read_toml(user_file) if user_file is not None else {}
    merged = deep_merge(default_doc, user_doc)
    try:
        policy = Policy.model_validate(merged)
    except ValidationError as exc:
        raise PolicyError(_format_validation_error(exc, user_doc, user_file)) from None
    sources = {key: str(DEFAULT_POLICY_PATH) for key in flatten_keys(default_doc)}
    if user_file is not None:
        sources.update({key: str(user_file) for key in flatten_keys(user_doc)})
    files = (DEFAULT_POLICY_PATH,) + ((user_file,) if user_file is not None else ())
    return LoadedPolicy(policy=policy, files=files, sources=sources)


def resolve_policy_file(settings: Settings) -> Path | None:
    """The user policy file: the explicit setting, else ``<home>/policy.toml`` if it exists."""
    if settings.policy_file is not None:
        return settings.policy_file.expanduser()
    candidate = settings.data_dir.policy_path
    return candidate if candidate.exists() else None


def load_settings(home: Path | None = None) -> Settings:
    """Read settings from the environment, with ``home`` (from ``--home``) taking precedence.

    Args:
        home: a data dir given on the command line, or None.

    Returns:
        The settings.

    Raises:
        PolicyError: an environment variable has an invalid value.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        details = "; ".join(
            f"CEPHALON_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise PolicyError(f"invalid environment setting: {details}") from None
    if home is not None:  # CEPHALON_HOME was read by Settings; --home wins over it
        settings = settings.model_copy(update={"home": home})
    return settings
