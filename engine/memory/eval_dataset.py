"""Reading a retrieval-evaluation dataset in the LoCoMo JSON layout, tolerating mess.

The layout (Maharana et al., 2024, ``locomo10.json``): a list of samples, each with

- ``conversation``: ``speaker_a``, ``speaker_b``, ``session_N`` (lists of turns
  ``{speaker, dia_id, text}``) and ``session_N_date_time`` (LoCoMo writes dates as
  ``"1:56 pm on 8 May, 2023"``);
- ``qa``: items ``{question, answer, category, evidence}`` where ``evidence`` lists the
  ``dia_id`` of the turns that answer the question.

Real files are messy: several ids in one evidence string (``"D1:3; D1:5"``), ids that
do not exist, no evidence at all, empty conversations, dates in other formats. Nothing
here raises on such content: what cannot be used is dropped and counted by reason in
:attr:`Dataset.skipped`. Only an unreadable file or a wrong top-level shape is an error.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import CephalonError

CATEGORY_NAMES = {
    "1": "multi-hop",
    "2": "temporal",
    "3": "open-domain",
    "4": "single-hop",
    "5": "adversarial",
}
"""Names of LoCoMo's QA categories as numbered in its released data."""

_SESSION = re.compile(r"^session_(\d+)$")
_EVIDENCE_SPLIT = re.compile(r"[;,\s]+")
_DATE_FORMATS = (
    "%I:%M %p on %d %B, %Y",  # LoCoMo: "1:56 pm on 8 May, 2023"
    "%I:%M %p on %d %b, %Y",
    "%I:%M %p on %B %d, %Y",
    "%H:%M on %d %B, %Y",
    "%d %B, %Y",
    "%d %B %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
)


@dataclass(frozen=True)
class Turn:
    """One utterance of a conversation."""

    dia_id: str
    speaker: str
    text: str
    session: int
    event_ts: datetime | None

    @property
    def content(self) -> str:
        """The text stored as a memory: ``"<speaker>: <text>"``."""
        return f"{self.speaker}: {self.text}"


@dataclass(frozen=True)
class QAItem:
    """One question with the turns that answer it."""

    question: str
    category: str
    evidence: tuple[str, ...]


@dataclass
class Sample:
    """One conversation and its questions."""

    sample_id: str
    turns: list[Turn]
    qa: list[QAItem]


@dataclass
class Dataset:
    """Usable samples, and what was dropped (reason -> count)."""

    samples: list[Sample]
    skipped: Counter[str] = field(default_factory=Counter)


def parse_session_date(value: object) -> datetime | None:
    """Read a session date in LoCoMo's or a common format.

    Args:
        value: e.g. ``"1:56 pm on 8 May, 2023"``, ``"2023-05-08T13:56"``, ``"May 8, 2023"``.

    Returns:
        The time as aware UTC (naive values are taken as UTC), or None if unreadable.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def split_evidence(raw: object) -> list[str]:
    """Flatten an evidence field into dia_ids.

    Args:
        raw: a list of strings (each may hold several ids split by ``;``, ``,`` or
            spaces), a single such string, or anything else (no evidence).

    Returns:
        The ids in order, without duplicates.
    """
    entries = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    ids: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            ids.extend(part for part in _EVIDENCE_SPLIT.split(entry) if part)
    return list(dict.fromkeys(ids))


def _sessions(conversation: dict[str, Any], skipped: Counter[str]) -> list[Turn]:
    numbers = sorted(int(m.group(1)) for key in conversation if (m := _SESSION.match(str(key))))
    turns: list[Turn] = []
    for number in numbers:
        raw_turns = conversation.get(f"session_{number}")
        if not isinstance(raw_turns, list):
            skipped["session_not_a_list"] += 1
            continue
        date = parse_session_date(conversation.get(f"session_{number}_date_time"))
        if date is None and raw_turns:
            skipped["session_date_unreadable"] += 1
        for raw in raw_turns:
            turn = _turn(raw, number, date)
            if turn is None:
                skipped["turn_malformed"] += 1
            else:
                turns.append(turn)
    return turns


def _turn(raw: object, session: int, date: datetime | None) -> Turn | None:
    if not isinstance(raw, dict):
        return None
    dia_id, speaker, text = raw.get("dia_id"), raw.get("speaker"), raw.get("text")
    if not isinstance(dia_id, str) or not dia_id.strip():
        return None
    if not isinstance(text, str) or not text.strip():
        return None
    caption = raw.get("blip_caption")
    if isinstance(caption, str) and caption.strip():  # LoCoMo's shared photos
        text = f"{text} [shares a photo: {caption.strip()}]"
    name = speaker.strip() if isinstance(speaker, str) and speaker.strip() else "unknown"
    return Turn(dia_id.strip(), name, " ".join(text.split()), session, date)


def _qa_items(raw_qa: object, known: set[str], skipped: Counter[str]) -> list[QAItem]:
    items: list[QAItem] = []
    for raw in raw_qa if isinstance(raw_qa, list) else []:
        if not isinstance(raw, dict):
            skipped["qa_malformed"] += 1
            continue
        question = raw.get("question")
        if not isinstance(question, str) or not question.strip():
            skipped["qa_no_question"] += 1
            continue
        ids = split_evidence(raw.get("evidence"))
        if not ids:
            skipped["qa_no_evidence"] += 1
            continue
        found = [i for i in ids if i in known]
        skipped["evidence_id_unknown"] += len(ids) - len(found)
        if not found:
            skipped["qa_no_valid_evidence"] += 1
            continue
        category = raw.get("category")
        label = str(category) if isinstance(category, int | str) and category != "" else "none"
        items.append(QAItem(question.strip(), label, tuple(found)))
    return items


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


def parse_dataset(data: object) -> Dataset:
    """Turn loaded JSON into samples, dropping (and counting) what cannot be used.

    Args:
        data: the decoded JSON document.

    Returns:
        The usable samples and the skip counts by reason.

    Raises:
        CephalonError: the document is not a list of samples (a single sample object
            is accepted as a list of one).
    """
    if isinstance(data, dict) and "conversation" in data:
        data = [data]
    if not isinstance(data, list):
        raise CephalonError(
            "the dataset must be a JSON array of samples with 'conversation' and 'qa' "
            f"(the LoCoMo layout), not a JSON {_json_type(data)}"
        )
    dataset = Dataset([])
    skipped = dataset.skipped
    for index, raw in enumerate(data):
        if not isinstance(raw, dict) or not isinstance(raw.get("conversation"), dict):
            skipped["sample_malformed"] += 1
            continue
        turns = _sessions(raw["conversation"], skipped)
        by_id: dict[str, Turn] = {}
        for turn in turns:
            if turn.dia_id in by_id:
                skipped["turn_duplicate_id"] += 1
            else:
                by_id[turn.dia_id] = turn
        qa = _qa_items(raw.get("qa"), set(by_id), skipped)
        if not by_id:
            skipped["sample_empty_conversation"] += 1
            continue
        sample_id = raw.get("sample_id")
        name = str(sample_id) if isinstance(sample_id, str | int) else f"sample-{index + 1}"
        dataset.samples.append(Sample(name, list(by_id.values()), qa))
    return dataset


def load_dataset(path: Path) -> Dataset:
    """Read and parse a dataset file.

    Args:
        path: a JSON file in the LoCoMo layout.

    Returns:
        The parsed dataset.

    Raises:
        CephalonError: the file is missing, unreadable, not JSON, or of the wrong shape.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CephalonError(f"dataset {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CephalonError(f"cannot read dataset {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CephalonError(
            f"dataset {path} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    try:
        return parse_dataset(data)
    except CephalonError as exc:
        raise CephalonError(f"{path}: {exc}") from None
