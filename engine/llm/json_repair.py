"""Lenient JSON decoding for model output.

Fixes, in this order and only as far as needed: trailing commas, Python-style
literals (single quotes, True/False/None), brackets or a string left open by a
truncated output, and junk after a complete object. Each fix applied is
reported by a short tag.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_PY_LITERAL = re.compile(r"(True|False|None)(?![\w])")
_PY_TO_JSON = {"True": "true", "False": "false", "None": "null"}


def parse_json_object(text: str, repairs: list[str]) -> tuple[dict[str, Any] | None, str]:
    """Decode a JSON object, trying trailing-comma, quote and truncation fixes in turn.

    Args:
        text: text expected to hold one JSON object.
        repairs: list the applied fixes are appended to.

    Returns:
        ``(object, "")`` on success, else ``(None, error text)``.
    """
    attempts: list[tuple[str, str]] = [("", text)]
    no_commas = _TRAILING_COMMA.sub(r"\1", text)
    if no_commas != text:
        attempts.append(("trailing_commas", no_commas))
    requoted = single_to_double_quotes(no_commas)
    if requoted != no_commas:
        attempts.append(("single_quotes", requoted))
    closed = close_brackets(requoted)
    if closed != requoted:
        attempts.append(("closed_truncated_json", closed))
    first_error = ""
    applied: list[str] = []
    for tag, candidate in attempts:
        if tag:
            applied.append(tag)
        try:
            value = json.loads(candidate)
        except ValueError as exc:
            first_error = first_error or f"invalid JSON: {exc}"
            continue
        if not isinstance(value, dict):
            return None, f"expected a JSON object, got {type(value).__name__}"
        repairs.extend(applied)
        return value, ""
    return _first_object(attempts, repairs) or (None, first_error)


def _first_object(
    attempts: list[tuple[str, str]], repairs: list[str]
) -> tuple[dict[str, Any], str] | None:
    """Decode a leading object followed by junk (``{...}}}``, ``{...} and then...``)."""
    decoder = json.JSONDecoder()
    applied: list[str] = []
    for tag, candidate in attempts:
        if tag:
            applied.append(tag)
        try:
            value, _ = decoder.raw_decode(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            repairs.extend([*applied, "trailing_text"])
            return value, ""
    return None


def single_to_double_quotes(text: str) -> str:
    """Rewrite Python-literal style (single quotes, True/False/None) as JSON."""
    out: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote is None:
            literal = _PY_LITERAL.match(text, index)
            if literal and not _is_word_char(text[index - 1 : index]):
                out.append(_PY_TO_JSON[literal.group(1)])
                index = literal.end()
                continue
            if char in "'\"":
                quote = char
                out.append('"')
            else:
                out.append(char)
        elif char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            out.append(following if (quote == "'" and following == "'") else char + following)
            index += 1
        elif char == quote:
            quote = None
            out.append('"')
        elif char == '"':  # a double quote inside a single-quoted string
            out.append('\\"')
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _is_word_char(char: str) -> bool:
    return bool(char) and (char.isalnum() or char == "_")


def close_brackets(text: str) -> str:
    """Close strings, arrays and objects left open by a truncated output."""
    stack: list[str] = []
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
    if not stack and not in_string:
        return text
    tail = '"' if in_string else ""
    body = (text + tail).rstrip().rstrip(",")
    return body + "".join(reversed(stack))
