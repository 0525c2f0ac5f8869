"""Seeded labelled data for dedupe: number-differing pairs and templated spam streams.

``number_pairs`` makes pairs of bot messages from one template that differ in one
number a human would care about (an amount, a version, a score, a percentage, a
count, a price, a level...) and usually also in volatile parts (timestamps, ids,
hashes, counters); every pair must stay apart. A third of the templates are long
announcements, where one changed number barely moves the simhash: those are the
pairs the number signature has to keep apart.

``spam_streams`` makes families of templated bot spam whose messages differ only in
volatile parts (and, for the ``near`` kind, in one ordinary word of a long text),
one message every few seconds to minutes; every message after the first of a
stream should collapse into the family (the recall the benchmark reports).

Known gap, on purpose not generated: scores written like a clock time (``21:17``)
are rewritten to ``<time>`` by the default policy.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Draw = Callable[[random.Random], str]
START = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Pair:
    """Two messages that must not merge."""

    category: str
    first: str
    second: str


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _volatile(rng: random.Random) -> dict[str, str]:
    ts = START + timedelta(seconds=rng.randrange(0, 86400 * 30))
    return {
        "ts": ts.isoformat(timespec="seconds"),
        "time": f"{ts:%H:%M}",
        "id": str(rng.randrange(10**17, 10**18)),
        "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
        "sha": _hex(rng, 7),
        "build": str(rng.randrange(1000, 99999)),
    }


def _two(rng: random.Random, draw: Callable[[], str]) -> tuple[str, str]:
    a = draw()
    b = draw()
    while b == a:
        b = draw()
    return a, b


_SERVICES = ["api", "billing", "search", "auth", "web"]
_TEAMS = ["Lions", "Tigers", "Hawks", "Wolves", "Sharks"]
_CITIES = ["Paris", "Oslo", "Lima", "Cairo", "Osaka"]
_LONG = (
    "Reminder for everyone in the community: the seasonal raffle is still open and "
    "every member who joined before the end of the month can take part by reacting "
    "below. The prize pool is now {n} coins and the winners will be announced in the "
    "events channel after the draw, so keep an eye on it and good luck to all of you."
)
_LONG2 = (
    "Server status update: all regions are operating normally, scheduled maintenance "
    "is complete and the new matchmaking queue is live. Current players online: {n}. "
    "Please report any issue in the support channel with a screenshot and the time it "
    "happened ({time} UTC) so the team can look into it quickly."
)


def _money(rng: random.Random) -> str:
    return rng.choice(
        [
            f"${rng.randrange(1, 100_000) / 100:,.2f}",
            f"{rng.randrange(1, 5000)} EUR",
            f"{rng.randrange(1_000_000, 9_999_999)}",
        ]
    )


def _version(rng: random.Random) -> str:
    return f"v{rng.randrange(0, 5)}.{rng.randrange(0, 20)}.{rng.randrange(0, 30)}"


TEMPLATES: list[tuple[str, Callable[[random.Random], tuple[str, str]]]] = []


def template(category: str, text: str, number: Callable[[random.Random], str]) -> None:
    """Register a template; ``{n}`` is the meaningful number, other fields volatile."""

    def make(rng: random.Random) -> tuple[str, str]:
        a, b = _two(rng, lambda: number(rng))
        fixed = {
            "svc": rng.choice(_SERVICES),
            "t1": rng.choice(_TEAMS),
            "t2": rng.choice(_TEAMS),
            "city": rng.choice(_CITIES),
        }
        return (
            text.format(n=a, **fixed, **_volatile(rng)),
            text.format(n=b, **fixed, **_volatile(rng)),
        )

    TEMPLATES.append((category, make))


def _score(r: random.Random) -> str:
    return f"{r.randrange(0, 9)}-{r.randrange(0, 9)}"


def _upto(low: int, high: int) -> Draw:
    return lambda r: str(r.randrange(low, high))


for _category, _text, _number in [
    ("amount", "Payment of {n} received from customer {uuid} at {ts}", _money),
    ("amount", "Balance after transfer: {n} coins <@{id}>", _money),
    ("version", "Deployed {svc} {n} to production (build #{build}, commit {sha})", _version),
    ("version", "New release available: cephalon-{svc} {n}. Changelog at {ts}", _version),
    ("score", "Final score: {t1} {n} {t2} (match {uuid})", _score),
    ("score", "Quiz finished: <@{id}> scored {n}/100 at {time}", _upto(0, 101)),
    ("percent", "CPU usage on {svc}-01 is at {n}% (checked {time})", _upto(0, 101)),
    ("percent", "Disk {n}% full on db-primary, trace {uuid}", lambda r: f"{r.uniform(50, 99):.1f}"),
    ("count", "{n} new members joined today, welcome everyone!", _upto(1, 500)),
    ("count", "Queue length: {n} jobs waiting (snapshot {ts})", _upto(0, 5000)),
    ("price", "ETH/USD {n} ({time} UTC)", lambda r: f"{r.randrange(100_000, 500_000) / 100:,.2f}"),
    ("temperature", "Weather in {city}: {n}C, wind 12 km/h", _upto(-20, 40)),
    ("level", "<@{id}> reached level {n}! GG", _upto(1, 100)),
    ("dice", "<@{id}> rolled a {n} on the d20", _upto(1, 21)),
    ("long", _LONG, lambda r: f"{r.randrange(1_000, 100_000):,}"),
    ("long", _LONG2, _upto(100, 20_000)),
]:
    template(_category, _text, _number)


def number_pairs(n: int = 1000, seed: int = 11) -> list[Pair]:
    """Pairs of messages that differ in one meaningful number (must never merge).

    Args:
        n: how many pairs.
        seed: the RNG seed.

    Returns:
        The pairs, templates drawn round-robin (so every category is represented).
    """
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        category, make = TEMPLATES[i % len(TEMPLATES)]
        first, second = make(rng)
        pairs.append(Pair(category, first, second))
    return pairs


_SPAM: list[tuple[str, str]] = [
    (
        "exact",
        "Build #{build} failed on main at {ts}: commit {sha}. "
        "https://ci.example.com/runs/{build}?utm_source=discord",
    ),
    ("exact", "GIVEAWAY! React to win Nitro! Entry {uuid}, draw at {time}. <@{id}>"),
    ("exact", "Heartbeat OK from worker-3 at {ts}, trace {sha}{sha}"),
    ("exact", "New video! https://youtu.be/watch?v={id}&si={sha} watch now <@{id}>"),
    ("exact", "job {build} completed in 3 steps, artifact {uuid} uploaded at {time}"),
    (
        "near",
        "Welcome {word} to the server! Make sure you read the rules channel, grab your "
        "roles in the roles channel, introduce yourself and have fun with everyone here, "
        "we are glad to have you with us today",
    ),
    (
        "near",
        "Reminder: {word} the weekly community meeting starts soon in the voice channel, "
        "bring your questions and ideas, everybody is welcome and the notes will be posted "
        "afterwards in the notes channel",
    ),
]
_WORDS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


def spam_streams(
    per_family: int = 200, seed: int = 5, max_gap_s: float = 120.0
) -> list[tuple[int, str, float, str]]:
    """Templated bot spam families, interleaved in time order.

    Args:
        per_family: messages per family.
        seed: the RNG seed.
        max_gap_s: at most this many seconds between two messages of a family.

    Returns:
        (family index, kind ``exact``/``near``, seconds since the epoch, text) tuples.
    """
    rng = random.Random(seed)
    out = []
    for family, (kind, text) in enumerate(_SPAM):
        ts = START.timestamp()
        for _ in range(per_family):
            ts += rng.uniform(1, max_gap_s)
            out.append((family, kind, ts, text.format(word=rng.choice(_WORDS), **_volatile(rng))))
    out.sort(key=lambda item: item[2])
    return out
