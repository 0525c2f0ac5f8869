"""The normalizer: volatile rewrites, tracking parameters, hashes, simhash, numbers."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from engine.config import load_policy
from engine.errors import PolicyError
from engine.memory.normalize import Normalizer, hamming, number_signature, simhash64, tokens
from engine.policy.memory import NormalizeSection


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer(load_policy().policy.normalize)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Deploy done at 2024-03-05T10:22:33.123+00:00", "deploy done at <ts>"),
        ("Deploy done at 2024-03-05 10:22", "deploy done at <ts>"),
        ("meet at 10:30 and at 3:45 PM", "meet at <time> and at <time>"),
        ("hi <@123456789012345678>", "hi <@<id>>"),
        ("trace 3f9a2c1d0b", "trace <hex>"),
        ("commit 3141592 on main", "commit <hex> on main"),
        ("entry 123e4567-e89b-12d3-a456-426614174000 ok", "entry <uuid> ok"),
        ("Build #4521 failed", "build <n> failed"),
        ("PR #77 merged, issue: 88 closed", "pr <n> merged, issue <n> closed"),
        ("see #4521 and #4522", "see #<n> and #<n>"),
        ("  LOUD   and\n\nspaced  ", "loud and spaced"),
    ],
)
def test_volatile_parts_become_placeholders(
    normalizer: Normalizer, raw: str, normalized: str
) -> None:
    assert normalizer.normalize(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "Balance 2500000 coins",  # 7 digits: not a hex hash (no letter)
        "Payment of $1,250.00 received",
        "Deployed api v2.3.1",
        "Final score 3-2",
        "CPU at 87.5%",
        "ranked #1 of 12",
        "run 3 times",
        "release: 2.4.1",
        "error 0x80070005",
    ],
)
def test_meaningful_numbers_survive(normalizer: Normalizer, raw: str) -> None:
    digits = [c for c in raw if c.isdigit()]
    assert [c for c in normalizer.normalize(raw) if c.isdigit()] == digits


def test_urls_lose_tracking_params_and_volatile_numbers(normalizer: Normalizer) -> None:
    a = normalizer.normalize(
        "Logs: https://CI.example.com/runs/594343976?utm_source=discord&utm_medium=bot&ref=x"
        "&page=2&tab=log#L123456"
    )
    assert a == "logs: https://ci.example.com/runs/<n>?page=<n>&tab=log#l<n>"
    b = normalizer.normalize("https://youtu.be/watch?v=abc&si=Zq9&fbclid=IwAR0")
    assert b == "https://youtu.be/watch?v=abc"


def test_url_numbers_stay_when_policy_says_so() -> None:
    section = load_policy().policy.normalize.model_copy(update={"url_numbers_volatile": False})
    text = Normalizer(section).normalize("https://ci.example.com/runs/594343976?utm_source=x")
    assert text == "https://ci.example.com/runs/594343976"


def test_fingerprint_digests(normalizer: Normalizer) -> None:
    a = normalizer.fingerprint("Build #4521 failed at 2024-03-05T10:00:00Z, payout $12.50")
    b = normalizer.fingerprint("BUILD #4522 failed at 2024-03-06T11:30:00Z, payout $12.50")
    assert a.normalized == b.normalized == "build <n> failed at <ts>, payout $12.50"
    assert a.exact_hash == b.exact_hash == hashlib.sha256(a.normalized.encode()).hexdigest()
    assert a.simhash == b.simhash and a.numbers == "12.50"
    c = normalizer.fingerprint("Build #4523 failed at 2024-03-06T11:30:00Z, payout $13.50")
    assert c.exact_hash != a.exact_hash and c.numbers == "13.50"


def test_number_signature_keeps_order_and_sign() -> None:
    assert number_signature("final 3-2 after 90 min") == "3 -2 90"
    assert number_signature("final 2-3 after 90 min") == "2 -3 90"
    assert number_signature("v1.2.3 costs 1,250.50 or -4") == "1.2.3 1,250.50 -4"
    assert number_signature("no numbers <n> here") == ""


def _reference_simhash(words: list[str]) -> int:
    counts = [0] * 64
    for word in words:
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        for bit in range(64):
            counts[bit] += (h >> bit) & 1
    return sum(1 << bit for bit in range(64) if 2 * counts[bit] > len(words))


def test_simhash_matches_the_bit_by_bit_definition() -> None:
    rng = random.Random(3)
    for _ in range(300):
        words = [rng.choice("abcdefghij") * rng.randint(1, 3) for _ in range(rng.randint(0, 60))]
        assert simhash64(words) == _reference_simhash(words)
    assert simhash64([]) == 0


def test_simhash_distance_tracks_similarity(normalizer: Normalizer) -> None:
    base = (
        "welcome alice to the server make sure you read the rules channel grab your roles "
        "introduce yourself and have fun with everyone here we are glad to have you"
    )
    near = base.replace("alice", "bob")
    other = "the deploy of the billing service failed again please check the logs now"
    fp = normalizer.fingerprint
    assert hamming(fp(base).simhash, fp(near).simhash) <= 6
    assert hamming(fp(base).simhash, fp(other).simhash) > 16
    assert tokens("<ts> build <n>!") == ["<ts>", "build", "<n>"]


def test_policy_rejects_a_bad_replacement() -> None:
    with pytest.raises(ValueError, match="bad replacement"):
        NormalizeSection(
            volatile_rewrites=[(r"\d+", r"\2")],
            strip_tracking_params=True,
            tracking_params=[],
            url_numbers_volatile=True,
        )


def test_policy_file_with_a_bad_group_reference(tmp_path: Path) -> None:
    user = tmp_path / "policy.toml"
    user.write_text("[normalize]\nvolatile_rewrites = [['(a)b', '\\2']]\n")
    with pytest.raises(PolicyError, match="bad replacement"):
        load_policy(user)
