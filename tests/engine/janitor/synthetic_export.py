"""A seeded synthetic DiscordChatExporter export: bot spam families plus human chatter.

``make_export`` writes one channel's export with

- ``bot_families`` spam families (at most 6): one bot each, ``per_family`` messages
  spread over about two days (so each family spans several UTC days), every message
  differing from the others only in volatile parts the default policy rewrites
  (timestamps, clock times, snowflake mentions, uuids, commit and trace hashes,
  build/job/incident counters, run ids in URLs, tracking parameters). Consecutive
  messages of a family are always less than the exact-duplicate TTL apart, so each
  family is one unbroken burst: one family, ``per_family - 1`` duplicates;
- ``unique_bot`` price-ticker messages from another bot, each with a different price
  (meaningful numbers: never merged, never in a family);
- ``humans`` messages from eight people, some repeating each other ("lol", "gm"):
  humans are never collapsed.

It returns the counts a correct aggregator must report. The janitor job tests reuse it.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

GUILD_ID = "343179912196128700"
CHANNEL_ID = "367156652140658699"
EXACT_TTL_SECONDS = 3600
"""The default policy's ``dedupe.exact_ttl_seconds``; family gaps stay below half of it."""


def _hex(rng: random.Random, n: int) -> str:
    """Hex with at least one letter and one digit (an all-digit hash reads as a number)."""
    while True:
        text = "".join(rng.choice("0123456789abcdef") for _ in range(n))
        if any(c.isdigit() for c in text) and any(c.isalpha() for c in text):
            return text


def _snowflake(rng: random.Random) -> str:
    return str(rng.randrange(10**17, 10**18 * 9))


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="seconds")


def _ci(rng: random.Random, ts: datetime) -> tuple[str, str]:
    return (
        f"Build #{rng.randrange(1000, 99999)} failed on branch main at {_iso(ts)} - commit "
        f"{_hex(rng, 7)}. Logs: https://ci.example.com/runs/{rng.randrange(10**6, 10**9)}"
        "?utm_source=discord&utm_medium=bot",
        "",
    )


def _giveaway(rng: random.Random, ts: datetime) -> tuple[str, str]:
    return (
        "GIVEAWAY! React within the next hour to win a Nitro code! Entry id "
        f"{uuid.UUID(int=rng.getrandbits(128))}, draw at {ts:%H:%M} UTC. <@{_snowflake(rng)}>",
        "",
    )


def _heartbeat(rng: random.Random, ts: datetime) -> tuple[str, str]:
    return "", f"Heartbeat\nOK from worker-3 at {_iso(ts)}. Trace {_hex(rng, 12)}."


def _promo(rng: random.Random, ts: datetime) -> tuple[str, str]:
    ref = "".join(rng.choice(string.ascii_lowercase) for _ in range(6))
    session = uuid.UUID(int=rng.getrandbits(128))
    return (
        f"Check out our new store! https://shop.example.com/deals?ref={ref}&fbclid="
        f"{_hex(rng, 16)} Use code SAVE20 at checkout. Session {session}",
        "",
    )


def _rss(rng: random.Random, ts: datetime) -> tuple[str, str]:
    return (
        f"New post in announcements by <@{_snowflake(rng)}>: weekly maintenance window "
        f"tonight, job {rng.randrange(100, 9999)} scheduled at {ts:%H:%M}.",
        "",
    )


def _alert(rng: random.Random, ts: datetime) -> tuple[str, str]:
    return (
        f"ALERT: disk usage high on db-primary (incident #{rng.randrange(100, 99999)}) "
        f"raised {_iso(ts)}",
        "",
    )


FAMILIES: list[tuple[str, Any, str]] = [
    ("ci-notify", _ci, "build failed branch main logs"),
    ("giveaway-bot", _giveaway, "giveaway nitro code react"),
    ("status-bot", _heartbeat, "heartbeat worker trace"),
    ("promo-bot", _promo, "store deals code checkout"),
    ("rss-bot", _rss, "maintenance window announcements"),
    ("alert-bot", _alert, "disk usage high db-primary incident"),
]
HUMANS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
_CHATTER = (
    "the deploy looks fine now but I think we should check the logs again before friday "
    "maybe someone can review my patch for the parser it fixes the crash on empty input "
    "also lunch anyone coffee later"
)
_SHORT = ["lol", "gm", "+1", "thanks!", "nice", "same here"]


def _message(message_id: str, ts: datetime, author: dict[str, Any], content: str, embed: str):  # type: ignore[no-untyped-def]
    embeds = []
    if embed:
        title, _, description = embed.partition("\n")
        embeds = [{"title": title, "description": description, "fields": [], "color": "#2ECC71"}]
    return {
        "id": message_id,
        "type": "Default",
        "timestamp": ts.isoformat(timespec="milliseconds"),
        "timestampEdited": None,
        "callEndedTimestamp": None,
        "isPinned": False,
        "content": content,
        "author": {
            "id": author["id"],
            "name": author["name"],
            "discriminator": "0000",
            "nickname": author["name"],
            "color": None,
            "isBot": author["isBot"],
            "roles": [],
            "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png",
        },
        "attachments": [],
        "embeds": embeds,
        "stickers": [],
        "reactions": [],
        "mentions": [],
    }


def make_export(
    path: Path,
    *,
    seed: int = 7,
    bot_families: int = 4,
    per_family: int = 800,
    humans: int = 300,
    unique_bot: int = 40,
    start: datetime = datetime(2024, 3, 4, 20, 0, tzinfo=UTC),
    span_hours: float = 50.0,
    channel_id: str = CHANNEL_ID,
    channel_name: str = "memes",
) -> dict[str, Any]:
    """Write a synthetic export and return what a correct aggregator must find.

    Args:
        path: where to write the JSON.
        seed: the RNG seed (same seed, same file).
        bot_families: spam families (1..6).
        per_family: messages per family (>= 2).
        humans: human messages.
        unique_bot: price-ticker bot messages, each with a different price.
        start: time of the first messages.
        span_hours: families spread over this long (shortened for small families so
            gaps stay under half the TTL).
        channel_id: the channel's id (the default policy lists it as "memes").
        channel_name: the channel's name.

    Returns:
        ``messages``, ``bot_messages``, ``human_messages``, ``unique_bot_messages``,
        ``duplicates_collapsed``, ``aggregates`` (family-day slices), and ``families``:
        per family ``bot``, ``bot_id``, ``count``, ``per_day`` (ISO day -> count),
        ``keywords`` (words a search for it would use); plus ``path``, ``channel_id``,
        ``guild_id``.
    """
    assert 1 <= bot_families <= len(FAMILIES) and per_family >= 2
    rng = random.Random(seed)
    span = min(span_hours * 3600, per_family * EXACT_TTL_SECONDS / 4)
    drafts: list[tuple[datetime, dict[str, Any], str, str]] = []
    families = []
    for index, (name, template, keywords) in enumerate(FAMILIES[:bot_families]):
        author = {"id": str(900_000_000_000_000_000 + index), "name": name, "isBot": True}
        step = span / per_family
        times = [start + timedelta(seconds=(i + rng.random()) * step) for i in range(per_family)]
        for ts in times:
            drafts.append((ts, author, *template(rng, ts)))
        per_day = Counter(ts.date().isoformat() for ts in times)
        families.append(
            {"bot": name, "bot_id": author["id"], "count": per_family,
             "per_day": dict(sorted(per_day.items())), "keywords": keywords}
        )  # fmt: skip
    ticker = {"id": "900000000000000099", "name": "price-ticker", "isBot": True}
    for cents in rng.sample(range(2_000_000, 9_000_000), unique_bot):
        ts = start + timedelta(seconds=rng.random() * span)
        drafts.append((ts, ticker, f"BTC/USD {cents / 100:,.2f} ({rng.uniform(-9, 9):+.1f}%)", ""))
    people = [
        {"id": str(800_000_000_000_000_000 + i), "name": name, "isBot": False}
        for i, name in enumerate(HUMANS)
    ]
    words = _CHATTER.split()
    for _ in range(humans):
        ts = start + timedelta(seconds=rng.random() * span)
        text = (
            rng.choice(_SHORT)
            if rng.random() < 0.3
            else " ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))
        )
        drafts.append((ts, rng.choice(people), text, ""))
    drafts.sort(key=lambda d: d[0])
    first_id = 1_200_000_000_000_000_000
    messages = [
        _message(str(first_id + i * 4096), ts, author, content, embed)
        for i, (ts, author, content, embed) in enumerate(drafts)
    ]
    document = {
        "guild": {"id": GUILD_ID, "name": "Synthetic Guild", "iconUrl": None},
        "channel": {"id": channel_id, "type": "GuildTextChat", "categoryId": None,
                    "category": "chat", "name": channel_name, "topic": None},
        "dateRange": {"after": None, "before": None},
        "exportedAt": (start + timedelta(seconds=span + 60)).isoformat(),
        "messages": messages,
        "messageCount": len(messages),
    }  # fmt: skip
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    bots = bot_families * per_family + unique_bot
    return {
        "path": str(path),
        "guild_id": GUILD_ID,
        "channel_id": channel_id,
        "messages": len(messages),
        "bot_messages": bots,
        "human_messages": humans,
        "unique_bot_messages": unique_bot,
        "duplicates_collapsed": bot_families * (per_family - 1),
        "aggregates": sum(len(f["per_day"]) for f in families),
        "families": families,
    }
