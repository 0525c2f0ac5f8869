"""Message normalization and fingerprints: normalized text, exact hash, simhash64, numbers.

Dedupe compares what is left of a message once its *volatile* parts are rewritten
to placeholders, so two bot messages that differ only in a timestamp, a snowflake
id, a commit hash, a build counter or a tracking parameter hash the same.

Steps (all from the policy's ``[normalize]`` section):

1. URLs are canonicalized: tracking query parameters (``utm_*``, ``fbclid``...)
   dropped, scheme and host lowercased, and, with ``url_numbers_volatile``, numbers
   in the path, query and fragment (run ids, message links) replaced by ``<n>``.
2. ``volatile_rewrites`` are applied in order (regex -> placeholder such as ``<ts>``).
3. The text is lowercased and its whitespace collapsed.

A :class:`Fingerprint` then carries the normalized text, ``exact_hash`` (sha256 of
it), ``simhash`` (64-bit simhash of its word tokens, for near duplicates) and
``numbers``: the number tokens still in the normalized text, in order.

Meaningful numbers. Amounts, versions and scores are not volatile: the default
rules only rewrite timestamps, ids, hashes and counters, so ``$1,250`` and
``$1,350`` stay in the normalized text (their exact hashes differ). Their simhashes,
however, may be within the near-duplicate threshold (one token in twenty differs),
so near-duplicate matching also refuses to merge two messages whose ``numbers``
differ (see ``dedupe.merge_only_equal_numbers``): the sequence, not the multiset,
so a score ``3-2`` never merges with ``2-3``. The guarantee holds for every number
the rewrite rules leave alone; a rule that rewrites a meaningful number (the
reference policy's ``[0-9a-f]{7,}`` also matched 7-digit amounts; the default rule
needs a letter and a digit) makes it volatile. Known ambiguity: a score written
``21:17`` looks like a clock time and is rewritten to ``<time>``.

Simhash: each token's 64-bit blake2b hash is "spread" into 64 16-bit lanes of one
Python integer, cached per token, so summing a message's tokens is one big-integer
addition per token and the per-bit majority vote is a handful of integer
operations (no per-bit Python loop); ~2-3 us for a short message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engine.policy.memory import NormalizeSection

_URL = re.compile(r"https?://[^\s<>()\[\]\"'`]+", re.IGNORECASE)
_TOKEN = re.compile(r"<\w+>|\w+")
_NUMBER = re.compile(r"[+-]?\d+(?:[.,:/]\d+)*")
_DIGIT_RUN = re.compile(r"\d{4,}")
_LANE_BITS = 16
_MAX_FEATURES = 30_000
"""Tokens beyond this are ignored (keeps every simhash lane below 2**15)."""
_TOKEN_CACHE_LIMIT = 200_000


def _spread_table() -> list[int]:
    return [
        sum(((byte >> bit) & 1) << (_LANE_BITS * bit) for bit in range(8)) for byte in range(256)
    ]


_SPREAD8 = _spread_table()
_LANE_ONES = sum(1 << (_LANE_BITS * i) for i in range(64))
_LANE_TOPS = _LANE_ONES << (_LANE_BITS - 1)
_BIT_CHARS = bytes.maketrans(b"\x00\x01", b"01")
_spread_cache: dict[str, int] = {}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedupe compares: the normalized text and three digests of it."""

    normalized: str
    exact_hash: str
    """sha256 hex digest of ``normalized``."""
    simhash: int
    """64-bit simhash of the normalized word tokens (unsigned)."""
    numbers: str
    """Number tokens left after normalization, in order, joined by a space."""


def _spread(token: str) -> int:
    """The token's 64-bit hash with bit i moved to bit 16*i (one lane per bit)."""
    digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
    out = 0
    for k in range(8):
        out |= _SPREAD8[(digest >> (8 * k)) & 0xFF] << (8 * _LANE_BITS * k)
    return out


def simhash64(tokens: Iterable[str]) -> int:
    """Charikar's simhash over equally weighted tokens.

    Bit i of the result is 1 when more than half of the tokens' hashes have bit i set.

    Args:
        tokens: the features (repeats count once per occurrence).

    Returns:
        An unsigned 64-bit integer (0 for no tokens).
    """
    total = 0
    count = 0
    cache = _spread_cache
    for token in tokens:
        spread = cache.get(token)
        if spread is None:
            if len(cache) >= _TOKEN_CACHE_LIMIT:
                cache.clear()
            spread = cache[token] = _spread(token)
        total += spread
        count += 1
        if count >= _MAX_FEATURES:
            break
    if count == 0:
        return 0
    # Lane i holds c_i, how many tokens have bit i set; bit i is c_i >= count // 2 + 1.
    # Adding 2**15 - threshold to every lane sets each lane's top bit exactly then.
    total += _LANE_ONES * ((1 << (_LANE_BITS - 1)) - (count // 2 + 1))
    lanes = ((total & _LANE_TOPS) >> (_LANE_BITS - 1)).to_bytes(128, "little")[::2]
    return int(lanes[::-1].translate(_BIT_CHARS), 2)


def hamming(a: int, b: int) -> int:
    """How many bits differ between two 64-bit simhashes."""
    return (a ^ b).bit_count()


def tokens(normalized: str) -> list[str]:
    """The simhash features of a normalized text: words and ``<placeholders>``."""
    return _TOKEN.findall(normalized)


def number_signature(normalized: str) -> str:
    """The number tokens of a normalized text, in order (``"1,250.00 3 -2"``)."""
    return " ".join(_NUMBER.findall(normalized))


class Normalizer:
    """Applies one policy's normalization; build once, call per message."""

    def __init__(self, section: NormalizeSection) -> None:
        """Compile the policy's rules.

        Args:
            section: the policy's ``normalize`` section.
        """
        self._rules = [(re.compile(pattern), repl) for pattern, repl in section.volatile_rewrites]
        self._strip = section.strip_tracking_params
        self._url_numbers = section.url_numbers_volatile
        names = [p.lower() for p in section.tracking_params]
        self._tracking_exact = frozenset(p for p in names if not p.endswith("*"))
        self._tracking_prefixes = tuple(p[:-1] for p in names if p.endswith("*"))

    def _tracking(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self._tracking_exact or lowered.startswith(self._tracking_prefixes)

    def canonical_url(self, url: str) -> str:
        """A URL without tracking parameters (and, by policy, with its numbers masked).

        Args:
            url: an ``http(s)://`` URL.

        Returns:
            The canonical form; the input unchanged when it does not parse.
        """
        try:
            parts = urlsplit(url)
            query = parse_qsl(parts.query, keep_blank_values=True)
        except ValueError:
            return url
        if self._strip:
            query = [(k, v) for k, v in query if not self._tracking(k)]
        path, fragment = parts.path, parts.fragment
        if self._url_numbers:
            path = "/".join("<n>" if s.isdigit() else s for s in path.split("/"))
            path = _DIGIT_RUN.sub("<n>", path)
            query = [(k, "<n>" if v.isdigit() else _DIGIT_RUN.sub("<n>", v)) for k, v in query]
            fragment = _DIGIT_RUN.sub("<n>", fragment)
        return urlunsplit(
            (
                parts.scheme.lower(),
                parts.netloc.lower(),
                path,
                urlencode(query, safe="<>/:"),
                fragment,
            )
        )

    def normalize(self, text: str) -> str:
        """Canonical URLs, volatile rewrites, lowercase, collapsed whitespace.

        Args:
            text: the raw message text.

        Returns:
            The normalized text.
        """
        if (self._strip or self._url_numbers) and "://" in text:
            text = _URL.sub(lambda m: self.canonical_url(m.group(0)), text)
        for pattern, repl in self._rules:
            text = pattern.sub(repl, text)
        return " ".join(text.lower().split())

    def fingerprint(self, text: str) -> Fingerprint:
        """Normalize a message and compute its digests.

        Args:
            text: the raw message text.

        Returns:
            The fingerprint.
        """
        normalized = self.normalize(text)
        return Fingerprint(
            normalized=normalized,
            exact_hash=hashlib.sha256(normalized.encode()).hexdigest(),
            simhash=simhash64(_TOKEN.findall(normalized)),
            numbers=" ".join(_NUMBER.findall(normalized)),
        )
