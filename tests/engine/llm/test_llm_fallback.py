"""Circuit breaker and fallback chain, with real HTTP providers where it matters."""

from __future__ import annotations

import threading

import pytest

from engine.llm.base import TextDelta
from engine.llm.breaker import BreakerState, CircuitBreaker
from engine.llm.errors import AllProvidersFailed, ProviderHTTPError, ProviderUnavailable
from engine.llm.fallback import FallbackChain, RetryPolicy
from engine.llm.ollama import OllamaProvider
from engine.llm.openai_compat import OpenAICompatProvider
from engine.llm.scripted import ScriptedProvider, ScriptedReply
from tests.engine.llm.requests import ask
from tests.fakes.llm_server import FakeLLMServer, Reply, Status, free_port


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class WaitRecorder:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.waits: list[float] = []
        self._clock = clock

    def __call__(self, seconds: float, cancel: threading.Event | None) -> None:
        self.waits.append(seconds)
        if self._clock is not None:
            self._clock.now += seconds


def test_breaker_opens_after_n_failures_and_half_opens_after_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=30.0, monotonic=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    clock.now += 29.0
    assert not breaker.allow() and breaker.seconds_until_trial() == pytest.approx(1.0)
    clock.now += 1.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the one trial call
    assert not breaker.allow()  # nobody else while it runs
    breaker.record_failure()  # trial failed: open again for a full cool-down
    assert breaker.state is BreakerState.OPEN
    clock.now += 30.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.consecutive_failures == 0


def test_provider_down_falls_back_to_the_next(server: FakeLLMServer) -> None:
    server.script(Reply("from the fallback"))
    down = OllamaProvider("m", f"http://127.0.0.1:{free_port()}", name="ollama")
    up = OpenAICompatProvider(server.url, "m", name="openai_compat")
    chain = FallbackChain([down, up], wait=WaitRecorder())
    result = chain.chat(ask())
    assert result.text == "from the fallback" and result.provider == "openai_compat"
    assert [(a.provider, a.outcome, a.error_kind) for a in result.attempts] == [
        ("ollama", "failed", "ProviderUnavailable"),
        ("openai_compat", "ok", None),
    ]
    chain.close()


def test_5xx_then_success_retries_the_same_provider(server: FakeLLMServer) -> None:
    server.script(Status(502), Reply("second time lucky"))
    waits = WaitRecorder()
    chain = FallbackChain(
        [OpenAICompatProvider(server.url, "m")],
        policy=RetryPolicy(attempts_per_provider=2, backoff_initial_s=0.25),
        wait=waits,
    )
    result = chain.chat(ask())
    assert result.text == "second time lucky"
    assert waits.waits == [0.25]
    assert [a.outcome for a in result.attempts] == ["failed", "ok"]
    assert result.attempts[1].waited_s == 0.25
    chain.close()


def test_429_retry_after_is_honoured_up_to_the_cap(server: FakeLLMServer) -> None:
    server.script(Status(429, retry_after=2), Reply("after waiting"))
    waits = WaitRecorder()
    chain = FallbackChain(
        [OpenAICompatProvider(server.url, "m")],
        policy=RetryPolicy(max_retry_after_s=5.0),
        wait=waits,
    )
    assert chain.chat(ask()).text == "after waiting"
    assert waits.waits == [2.0]
    chain.close()


def test_429_asking_too_long_falls_through_at_once(server: FakeLLMServer) -> None:
    server.script(Status(429, retry_after=120))
    waits = WaitRecorder()
    limited = OpenAICompatProvider(server.url, "m", name="remote")
    backup = ScriptedProvider(["local answer"], name="local")
    chain = FallbackChain([limited, backup], policy=RetryPolicy(max_retry_after_s=5.0), wait=waits)
    result = chain.chat(ask())
    assert result.provider == "local" and waits.waits == []
    assert result.attempts[0].error_kind == "RateLimited"
    chain.close()


def test_open_breaker_is_skipped_then_half_opens() -> None:
    clock = FakeClock()
    flaky = ScriptedProvider(
        [ProviderUnavailable("down", "flaky")] * 3 + ["flaky is back"], name="flaky"
    )
    steady = ScriptedProvider(["steady 1", "steady 2", "steady 3", "steady 4"], name="steady")
    chain = FallbackChain(
        [flaky, steady],
        policy=RetryPolicy(failure_threshold=3, cooldown_s=60.0),
        wait=WaitRecorder(clock),
        monotonic=clock,
    )
    for _ in range(3):  # three failures open flaky's breaker
        assert chain.chat(ask()).provider == "steady"
    assert chain.breakers["flaky"].state is BreakerState.OPEN
    skipped = chain.chat(ask())
    assert (skipped.attempts[0].outcome, skipped.attempts[0].error_kind) == (
        "skipped",
        "CircuitOpen",
    )
    assert flaky.remaining == 1  # not called while open
    clock.now += 60.0
    trial = chain.chat(ask())
    assert trial.provider == "flaky" and trial.text == "flaky is back"
    assert chain.breakers["flaky"].state is BreakerState.CLOSED


def test_client_errors_fall_through_without_tripping_the_breaker() -> None:
    bad_request = ProviderHTTPError("HTTP 400: bad", "strict", status=400)
    strict = ScriptedProvider([bad_request], name="strict")
    lenient = ScriptedProvider(["fine"], name="lenient")
    chain = FallbackChain([strict, lenient], wait=WaitRecorder())
    assert chain.chat(ask()).provider == "lenient"
    assert chain.breakers["strict"].consecutive_failures == 0


def test_everything_failing_reports_every_attempt() -> None:
    first = ScriptedProvider([ProviderUnavailable("refused", "a")], name="a")
    second = ScriptedProvider(
        [ScriptedReply(error=ProviderHTTPError("boom", "b", 500))] * 2, name="b"
    )
    chain = FallbackChain([first, second], wait=WaitRecorder())
    with pytest.raises(AllProvidersFailed) as raised:
        chain.chat(ask())
    assert [(a.provider, a.error_kind) for a in raised.value.attempts] == [
        ("a", "ProviderUnavailable"),
        ("b", "ProviderHTTPError"),
        ("b", "ProviderHTTPError"),
    ]
    assert "a: ProviderUnavailable" in str(raised.value)


def test_deltas_carry_the_attempt_number(server: FakeLLMServer) -> None:
    server.script(Reply("partial text here", drop_after=2))
    dropped = OpenAICompatProvider(server.url, "m", name="remote")
    backup = ScriptedProvider(["clean answer"], name="local")
    deltas: list[TextDelta] = []
    chain = FallbackChain([dropped, backup], wait=WaitRecorder())
    chain.chat(ask(), on_delta=deltas.append)
    assert {d.attempt for d in deltas if d.provider == "remote"} == {0}
    assert {d.attempt for d in deltas if d.provider == "local"} == {1}
    chain.close()


def test_a_bug_during_the_half_open_trial_does_not_wedge_the_breaker() -> None:
    clock = FakeClock()
    buggy = ScriptedProvider([ProviderUnavailable("down", "buggy"), KeyError("bug")], name="buggy")
    chain = FallbackChain(
        [buggy], policy=RetryPolicy(failure_threshold=1, cooldown_s=10.0), monotonic=clock
    )
    with pytest.raises(AllProvidersFailed):
        chain.chat(ask())
    clock.now += 10.0
    with pytest.raises(KeyError):
        chain.chat(ask())
    assert chain.breakers["buggy"].allow()  # the trial slot was given back


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ValueError):
        FallbackChain([ScriptedProvider(), ScriptedProvider()])
