"""Spam-family matching: exact duplicates within the TTL, near duplicates within the
window and threshold, meaningful numbers never merged, families reused across bursts."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from engine.config import load_policy
from engine.janitor.dedupe import FamilyMatcher
from engine.memory.normalize import Normalizer, hamming
from engine.policy import Policy
from tests.engine.janitor.labelled_pairs import number_pairs, spam_streams

WELCOME = (
    "Welcome {} to the server! Make sure you read the rules channel, grab your roles in "
    "the roles channel, introduce yourself and have fun with everyone here, we are glad "
    "to have you with us today"
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy().policy


@pytest.fixture(scope="module")
def normalizer(policy: Policy) -> Normalizer:
    return Normalizer(policy.normalize)


def _matcher(policy: Policy, **dedupe: object) -> FamilyMatcher:
    ids = itertools.count(1)
    return FamilyMatcher(policy.dedupe.model_copy(update=dedupe), lambda: next(ids))


def test_exact_duplicates_within_the_ttl_collapse(policy: Policy, normalizer: Normalizer) -> None:
    m = _matcher(policy)
    ttl = policy.dedupe.exact_ttl_seconds
    first = m.observe(1, "c", 0.0, normalizer.fingerprint("Build #100 failed at 10:00"))
    assert first.family_id is None
    second = m.observe(2, "c", ttl - 1, normalizer.fingerprint("Build #101 failed at 10:59"))
    assert (second.family_id, second.kind, second.duplicate_of) == (1, "exact", 1)
    assert (second.founder, second.new_family) == (1, True)
    # the TTL slides: each message is compared with the latest of its text
    third = m.observe(3, "c", 2 * ttl - 2, normalizer.fingerprint("Build #102 failed at 11:58"))
    assert (third.family_id, third.duplicate_of, third.founder) == (1, 2, None)


def test_exact_duplicates_beyond_the_ttl_do_not_collapse(
    policy: Policy, normalizer: Normalizer
) -> None:
    m = _matcher(policy)
    ttl = policy.dedupe.exact_ttl_seconds
    fp = normalizer.fingerprint("daily digest is ready")
    assert m.observe(1, "c", 0.0, fp).family_id is None
    assert m.observe(2, "c", ttl + 1, fp).family_id is None
    assert m.observe(3, "c", 2 * ttl + 3, fp).family_id is None


def test_matching_never_crosses_channels(policy: Policy, normalizer: Normalizer) -> None:
    m = _matcher(policy)
    fp = normalizer.fingerprint("same text everywhere")
    assert m.observe(1, "a", 0.0, fp).family_id is None
    assert m.observe(2, "b", 1.0, fp).family_id is None
    assert m.observe(3, "a", 2.0, fp).family_id == 1


def test_near_duplicates_within_window_and_threshold_collapse(
    policy: Policy, normalizer: Normalizer
) -> None:
    a = normalizer.fingerprint(WELCOME.format("alice"))
    b = normalizer.fingerprint(WELCOME.format("erin"))  # 5 bits from "alice"
    assert a.exact_hash != b.exact_hash
    assert hamming(a.simhash, b.simhash) <= policy.dedupe.simhash_hamming_threshold
    window = policy.dedupe.near_window_seconds
    m = _matcher(policy)
    m.observe(1, "c", 0.0, a)
    near = m.observe(2, "c", window - 1, b)
    assert (near.family_id, near.kind, near.duplicate_of) == (1, "near", 1)

    late = _matcher(policy)
    late.observe(1, "c", 0.0, a)
    assert late.observe(2, "c", window + 1, b).family_id is None

    strict = _matcher(policy, simhash_hamming_threshold=hamming(a.simhash, b.simhash) - 1)
    strict.observe(1, "c", 0.0, a)
    assert strict.observe(2, "c", 1.0, b).family_id is None


def test_number_differing_pairs_never_merge(policy: Policy, normalizer: Normalizer) -> None:
    pairs = number_pairs(1000, seed=11)
    assert len({p.category for p in pairs}) >= 10
    merged: Counter[str] = Counter()
    close: Counter[str] = Counter()
    for pair in pairs:
        a, b = normalizer.fingerprint(pair.first), normalizer.fingerprint(pair.second)
        assert a.numbers != b.numbers, pair
        m = _matcher(policy)
        m.observe(1, "c", 0.0, a)
        merged[pair.category] += m.observe(2, "c", 5.0, b).family_id is not None
        close[pair.category] += hamming(a.simhash, b.simhash) <= 6
    assert sum(merged.values()) == 0, merged
    # the number signature is what keeps many of them apart: their simhashes are close
    assert close["long"] >= 100 and sum(close.values()) >= 150


def test_simhash_alone_would_merge_numbers(policy: Policy, normalizer: Normalizer) -> None:
    a = normalizer.fingerprint(WELCOME.format("alice") + " prize pool 1,500 coins")
    b = normalizer.fingerprint(WELCOME.format("alice") + " prize pool 2,500 coins")
    assert hamming(a.simhash, b.simhash) <= policy.dedupe.simhash_hamming_threshold
    guarded = _matcher(policy)
    guarded.observe(1, "c", 0.0, a)
    assert guarded.observe(2, "c", 1.0, b).family_id is None
    loose = _matcher(policy, merge_only_equal_numbers=False)
    loose.observe(1, "c", 0.0, a)
    assert loose.observe(2, "c", 1.0, b).kind == "near"


def test_templated_spam_streams_collapse_into_one_family_each(
    policy: Policy, normalizer: Normalizer
) -> None:
    m = _matcher(policy)
    collapsed: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    families: dict[int, set[int]] = {}
    started: set[int] = set()
    for event_id, (family, kind, ts, text) in enumerate(spam_streams(per_family=150), start=1):
        match = m.observe(event_id, "c", ts, normalizer.fingerprint(text))
        if family in started:
            expected[kind] += 1
            collapsed[kind] += match.family_id is not None
        started.add(family)
        if match.family_id is not None:
            families.setdefault(family, set()).add(match.family_id)
    assert collapsed["exact"] / expected["exact"] > 0.95
    assert collapsed["near"] / expected["near"] > 0.9
    assert all(len(ids) == 1 for fam, ids in families.items() if fam < 5)  # exact families
    every_id = [i for ids in families.values() for i in ids]
    assert len(every_id) == len(set(every_id))  # no family mixes two templates


def test_a_later_burst_rejoins_its_family(policy: Policy, normalizer: Normalizer) -> None:
    m = _matcher(policy)
    ttl = policy.dedupe.exact_ttl_seconds
    text = "Heartbeat OK from worker-3 at 2024-01-01T00:00:00Z"
    m.observe(1, "c", 0.0, normalizer.fingerprint(text))
    assert m.observe(2, "c", 10.0, normalizer.fingerprint(text)).family_id == 1
    day = 86400.0
    alone = m.observe(3, "c", day, normalizer.fingerprint(text))
    assert alone.family_id is None  # first of the next burst: not a duplicate
    again = m.observe(4, "c", day + 10, normalizer.fingerprint(text))
    assert (again.family_id, again.founder, again.new_family) == (1, 3, False)
    other = m.observe(5, "c", day + 20, normalizer.fingerprint("something else entirely"))
    assert other.family_id is None
    assert (
        m.observe(6, "c", day + ttl, normalizer.fingerprint("something else entirely")).family_id
        == 2
    )


def test_pruning_forgets_only_what_cannot_match(policy: Policy, normalizer: Normalizer) -> None:
    m = _matcher(policy)
    horizon = max(policy.dedupe.exact_ttl_seconds, policy.dedupe.near_window_seconds)
    for i in range(50):
        m.observe(i + 1, "c", float(i), normalizer.fingerprint(f"unique message {i} here"))
    m.observe(100, "c", 49.0 + horizon, normalizer.fingerprint("late message"))
    assert m.prune() == 49 and len(m) == 2
    assert m.observe(101, "c", 50.0 + horizon, normalizer.fingerprint("late message")).family_id
