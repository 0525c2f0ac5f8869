"""Settings and policy loading: defaults, overrides key by key, clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from engine.config import DEFAULT_POLICY_PATH, load_policy, load_settings
from engine.errors import PolicyError
from engine.policy import Policy
from engine.toml_locate import locate_key


def test_defaults_carry_the_reference_values() -> None:
    policy = load_policy().policy
    budgets = policy.context.budgets
    assert (budgets.system_dev_pct, budgets.persistent_pct) == (0.06, 0.08)
    assert (budgets.recent_pct, budgets.related_pct) == (0.18, 0.42)
    assert policy.context.invariants.related_gte_recent_mult == 1.6
    assert policy.dedupe.exact_ttl_seconds == 3600
    assert policy.dedupe.near_window_seconds == 600
    assert policy.dedupe.simhash_hamming_threshold == 6
    assert policy.compaction.interval_minutes == 360
    assert policy.compaction.access.tau_days == 21
    assert policy.compaction.grouping.max_source_count == 200
    assert policy.compaction.summary.max_bullets == 25
    assert "aggregate" in policy.compaction.locks.never_delete_kinds
    assert policy.janitor.max_actions_per_hour == 20
    assert policy.retrieval.rrf_k == 60
    assert policy.activation.decay_d == 0.5
    assert policy.activation.noise_s == 0.4
    assert (policy.weights.prior_alpha, policy.weights.prior_beta) == (1.0, 4.0)
    assert policy.attention.urgency.operator == 0.8
    assert policy.channel("450688080542695436").embed_raw_bot_messages is True
    assert policy.channel("unknown").name == "default"


def _documented(lines: list[str], i: int) -> bool:
    """A key is documented by a comment in its block above it, or above its table header."""
    j = i - 1
    while j >= 0 and lines[j].strip():
        text = lines[j].strip()
        if text.startswith("#"):
            return True
        if text.startswith("["):
            k = j - 1
            return k >= 0 and lines[k].strip().startswith("#")
        j -= 1
    return False


def test_every_default_key_has_a_comment() -> None:
    lines = DEFAULT_POLICY_PATH.read_text().splitlines()
    keys = [
        i
        for i, line in enumerate(lines)
        if "=" in line and not line.strip().startswith(("#", "[", "'", '"', "]"))
    ]
    assert len(keys) > 100
    assert [lines[i] for i in keys if not _documented(lines, i)] == []


def test_every_schema_field_is_documented() -> None:
    def walk(model: type, prefix: str) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, Policy.__mro__[1]):
                missing += walk(annotation, f"{prefix}{name}.")
            elif not field.description:
                missing.append(prefix + name)
        return missing

    assert walk(Policy, "") == []


def test_user_file_overrides_one_key(tmp_path: Path) -> None:
    user = tmp_path / "policy.toml"
    user.write_text("[retrieval]\nrrf_k = 30\n")
    loaded = load_policy(user)
    assert loaded.policy.retrieval.rrf_k == 30
    assert loaded.policy.retrieval.bm25_top_k == 50  # untouched default
    assert loaded.sources["retrieval.rrf_k"] == str(user)
    assert loaded.sources["retrieval.bm25_top_k"] == str(DEFAULT_POLICY_PATH)


def test_unknown_key_names_key_and_line(tmp_path: Path) -> None:
    user = tmp_path / "policy.toml"
    user.write_text("# mine\n[dedupe]\nexact_ttl_seconds = 10\nnear_windw_seconds = 5\n")
    with pytest.raises(PolicyError) as info:
        load_policy(user)
    message = str(info.value)
    assert f"{user}:4" in message
    assert "dedupe.near_windw_seconds" in message
    assert "unknown key" in message


def test_wrong_type_names_key_and_line(tmp_path: Path) -> None:
    user = tmp_path / "policy.toml"
    user.write_text('[context.budgets]\n\nrecent_pct = "lots"\n')
    with pytest.raises(PolicyError) as info:
        load_policy(user)
    assert f"{user}:3" in str(info.value)
    assert "context.budgets.recent_pct" in str(info.value)


def test_budget_invariant_is_enforced(tmp_path: Path) -> None:
    user = tmp_path / "policy.toml"
    user.write_text("[context.budgets]\nrelated_pct = 0.2\n")
    with pytest.raises(PolicyError, match="related_gte_recent_mult"):
        load_policy(user)


def test_bad_regex_is_rejected(tmp_path: Path) -> None:
    user = tmp_path / "policy.toml"
    user.write_text("[normalize]\nvolatile_rewrites = [['(unclosed', 'x']]\n")
    with pytest.raises(PolicyError, match="bad regex"):
        load_policy(user)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[dedupe\n")
    with pytest.raises(PolicyError, match=r"not valid TOML.*line 1"):
        load_policy(broken)
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")


def test_locate_key_handles_tables_arrays_and_quotes() -> None:
    text = DEFAULT_POLICY_PATH.read_text()
    lines = text.splitlines()
    line = locate_key(text, ("channels", "450688080542695436", "name"))
    assert line is not None and lines[line - 1].strip() == 'name = "duck-bots"'
    line = locate_key(text, ("models", "fallbacks", 1, "name"))
    assert line is not None and "gpt-4o-mini" in lines[line - 1]
    line = locate_key(text, ("normalize", "volatile_rewrites", 2, 0))
    assert line is not None and lines[line - 1].startswith("volatile_rewrites")


def test_home_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CEPHALON_HOME", str(tmp_path / "env"))
    assert load_settings().home == tmp_path / "env"
    assert load_settings(tmp_path / "flag").home == tmp_path / "flag"
    monkeypatch.setenv("CEPHALON_THREADS", "zero")
    with pytest.raises(PolicyError, match="CEPHALON_THREADS"):
        load_settings()


def test_default_policy_is_valid_toml_without_engine() -> None:
    with DEFAULT_POLICY_PATH.open("rb") as handle:
        assert "engine" in tomllib.load(handle)
