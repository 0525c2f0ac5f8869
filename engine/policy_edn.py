"""Convert a policy written in EDN (the reference format) into Cephalon's TOML policy.

EDN is read with ``edn_format``. Clojure regex literals (``#"..."``), which plain
EDN lacks, are rewritten to a ``#cephalon/regex "..."`` tagged string first, so
patterns carry over byte for byte. Keys become snake_case without the trailing
``?`` (``:embed-raw-bot-messages?`` -> ``embed_raw_bot_messages``); keyword values
become strings; sets become sorted lists.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import edn_format
import tomli_w

from engine.errors import PolicyError

REGEX_TAG = "cephalon/regex"


@dataclass(frozen=True)
class EdnRegex:
    """A regex literal read from EDN."""

    pattern: str


edn_format.add_tag(REGEX_TAG, EdnRegex)


def _edn_string(raw: str) -> str:
    return '"' + raw.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rewrite_regex_literals(text: str) -> str:
    """Replace ``#"..."`` regex literals with tagged strings edn_format can read.

    Strings and ``;`` comments are skipped, so a ``#"`` inside them is left alone.

    Args:
        text: EDN source.

    Returns:
        The same document with every regex literal as ``#cephalon/regex "<escaped>"``.

    Raises:
        PolicyError: a string or regex literal is not closed.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == ";":
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[i:end])
            i = end
        elif ch == '"' or (ch == "#" and text.startswith('#"', i)):
            is_regex = ch == "#"
            start = i + (2 if is_regex else 1)
            j = start
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                line = text.count("\n", 0, i) + 1
                raise PolicyError(f"unterminated string or regex at line {line}")
            raw = text[start:j]
            out.append(f"#{REGEX_TAG} {_edn_string(raw)}" if is_regex else text[i : j + 1])
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def snake_key(name: str) -> str:
    """``embed-raw-bot-messages?`` -> ``embed_raw_bot_messages``."""
    return name.rstrip("?").replace("-", "_")


def to_plain(value: Any) -> Any:
    """Turn edn_format values into TOML-ready Python values.

    Args:
        value: anything edn_format produced.

    Returns:
        dicts with string keys, lists, strings, numbers and booleans.

    Raises:
        PolicyError: a value has no TOML form (nil, a symbol, a character).
    """
    if isinstance(value, EdnRegex):
        return value.pattern
    if isinstance(value, edn_format.Keyword):
        return snake_key(value.name)
    if isinstance(value, Mapping):
        return {
            (snake_key(k.name) if isinstance(k, edn_format.Keyword) else str(k)): to_plain(v)
            for k, v in value.items()
        }
    if isinstance(value, frozenset | set):
        return sorted(to_plain(v) for v in value)
    if isinstance(value, list | tuple | edn_format.ImmutableList):
        return [to_plain(v) for v in value]
    if value is None:
        raise PolicyError("EDN nil has no TOML equivalent: remove the key instead")
    if isinstance(value, bool | int | float | str):
        return value
    raise PolicyError(f"EDN value {value!r} ({type(value).__name__}) has no TOML equivalent")


def _fill_model_choices(doc: dict[str, Any], notes: list[str]) -> None:
    models = doc.get("models")
    if not isinstance(models, dict):
        return
    entries: list[tuple[str, Any]] = [("models.actor", models.get("actor"))]
    entries += [(f"models.fallbacks[{i}]", m) for i, m in enumerate(models.get("fallbacks", []))]
    actor_entry = models.get("actor")
    actor: dict[str, Any] = actor_entry if isinstance(actor_entry, dict) else {}
    for where, entry in entries:
        if not isinstance(entry, dict):
            continue
        if "provider" not in entry:
            entry["provider"] = "openai"
            notes.append(f"{where}.provider: not in the EDN; set to 'openai' (any server)")
        if "tool_call_strict" not in entry:
            entry["tool_call_strict"] = bool(actor.get("tool_call_strict", True))
            notes.append(f"{where}.tool_call_strict: not in the EDN; copied from the actor")


@dataclass(frozen=True)
class ImportedPolicy:
    """The TOML text of an imported policy and what the importer had to decide."""

    toml: str
    notes: list[str]


def import_edn_policy(path: Path) -> ImportedPolicy:
    """Read an EDN policy file and produce a validated TOML policy.

    Args:
        path: the ``.edn`` file.

    Returns:
        The TOML text (validated against the policy schema) and notes on filled-in values.

    Raises:
        PolicyError: the file is unreadable, not EDN, or not a valid policy.
    """
    from engine.config import load_policy

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read {path}: {exc}") from exc
    try:
        parsed = edn_format.loads(rewrite_regex_literals(text))
    except edn_format.EDNDecodeError as exc:
        first = str(exc).splitlines()[0]
        raise PolicyError(f"{path} is not valid EDN: {first}") from None
    if not isinstance(parsed, Mapping):
        raise PolicyError(f"{path}: the top level must be a map, not {type(parsed).__name__}")
    doc = to_plain(parsed)
    notes: list[str] = []
    _fill_model_choices(doc, notes)
    header = f"# Imported by `cephalon policy import` from {path.name}.\n\n"
    toml_text = header + tomli_w.dumps(doc, multiline_strings=False)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / f"{path.stem}.toml"
        candidate.write_text(toml_text, encoding="utf-8")
        try:
            load_policy(candidate)
        except PolicyError as exc:
            raise PolicyError(f"{path}: {exc}".replace(str(candidate), path.name)) from None
    return ImportedPolicy(toml=toml_text, notes=notes)
