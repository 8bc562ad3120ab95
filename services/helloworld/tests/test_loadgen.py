"""The load generator: its seeded request mix, its pacing and bounds (on a manual clock), its settings."""

from __future__ import annotations

import logging
import random
import statistics
from collections import Counter

import pytest

from helloworld.loadgen.driver import SettingsError, Settings, load_settings, run
from helloworld.loadgen.mix import BAD_REQUESTS, RequestMix
from helloworld.query import MAX_WORLD_SIZE, BadRequest, parse_world_size

DRAWS = 20_000


def draw(mix: RequestMix, n: int = DRAWS) -> list:
    return [mix.next() for _ in range(n)]


def test_the_mix_is_reproducible_from_its_seed() -> None:
    assert draw(RequestMix(random.Random(7)), 500) == draw(RequestMix(random.Random(7)), 500)
    assert draw(RequestMix(random.Random(7)), 500) != draw(RequestMix(random.Random(8)), 500)


@pytest.mark.parametrize("bad_fraction", [0.0, 0.02, 0.3, 1.0])
def test_bad_fraction_is_honoured(bad_fraction: float) -> None:
    planned = draw(RequestMix(random.Random(1), bad_fraction=bad_fraction))
    bad = sum(request.expected_status != 200 for request in planned)
    # Binomial: 5 standard deviations, so a correct mix essentially never fails and a wrong one always does.
    assert abs(bad - bad_fraction * DRAWS) <= 5 * (DRAWS * bad_fraction * (1 - bad_fraction)) ** 0.5 + 1


def test_every_kind_of_bad_request_is_drawn() -> None:
    kinds = Counter(request.kind for request in draw(RequestMix(random.Random(2), bad_fraction=0.5)))
    assert {request.kind for request in BAD_REQUESTS} <= set(kinds)


def test_world_sizes_are_lognormal_around_the_median() -> None:
    mix = RequestMix(random.Random(3), bad_fraction=0.0, plain_fraction=0.0, median_world_size=1000.0)
    sizes = [parse_world_size(request.path.partition("?")[2].encode()) for request in draw(mix)]
    assert all(size is not None and 0 <= size <= MAX_WORLD_SIZE for size in sizes)
    assert 900 <= statistics.median(sizes) <= 1100  # type: ignore[type-var]
    assert max(sizes) > 20 * 1000  # type: ignore[type-var]  # a long right tail, unlike a normal


def test_the_planned_status_matches_the_query_rules() -> None:
    for request in draw(RequestMix(random.Random(4), bad_fraction=0.5), 2000):
        path, _, query = request.path.partition("?")
        try:
            parse_world_size(query.encode())
            status = 200 if path == "/" else 404
        except BadRequest:
            status = 400
        assert status == request.expected_status, request


@pytest.mark.parametrize("bad", [{"bad_fraction": -0.1}, {"plain_fraction": 1.5}, {"median_world_size": 0}])
def test_mix_refuses_bad_parameters(bad: dict) -> None:
    with pytest.raises(ValueError):
        RequestMix(random.Random(0), **bad)


class FakeTime:
    """A manual clock whose sleep advances it; requests take ``latency`` seconds."""

    def __init__(self, latency: float = 0.001) -> None:
        self.now = 1000.0
        self.latency = latency
        self.sent_at: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds

    def send(self, path: str) -> str:
        self.sent_at.append(self.now)
        self.now += self.latency
        return "400" if "world_size=-" in path else "200"


def mix() -> RequestMix:
    return RequestMix(random.Random(5), bad_fraction=0.1)


def test_requests_are_paced_at_the_rate() -> None:
    fake = FakeTime()
    tally = run(Settings(rate=50.0, max_requests=200), mix(), fake.send, fake.clock, fake.sleep)
    assert tally.sent == 200
    gaps = [b - a for a, b in zip(fake.sent_at, fake.sent_at[1:])]
    assert min(gaps) == pytest.approx(1 / 50.0) and max(gaps) == pytest.approx(1 / 50.0)


def test_duration_bounds_the_run() -> None:
    fake = FakeTime()
    tally = run(Settings(rate=10.0, duration=30.0), mix(), fake.send, fake.clock, fake.sleep)
    assert tally.sent == 300
    assert fake.now - 1000.0 == pytest.approx(30.0, abs=0.2)


def test_stopping_ends_the_run() -> None:
    fake = FakeTime()
    tally = run(Settings(rate=10.0), mix(), fake.send, fake.clock, fake.sleep, stopping=lambda: fake.now > 1005)
    assert 45 <= tally.sent <= 52


def test_a_stall_does_not_cause_a_catch_up_burst() -> None:
    fake = FakeTime()

    def stalling_send(path: str) -> str:
        if len(fake.sent_at) == 10:
            fake.now += 5.0  # the server hangs for 5 s once
        return fake.send(path)

    run(Settings(rate=10.0, max_requests=30), mix(), stalling_send, fake.clock, fake.sleep)
    gaps = [b - a for a, b in zip(fake.sent_at[11:], fake.sent_at[12:])]
    assert min(gaps) == pytest.approx(0.1)


def test_tally_counts_statuses_and_unexpected_answers(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    with caplog.at_level(logging.INFO, logger="helloworld.loadgen"):
        tally = run(Settings(rate=10.0, max_requests=1000), mix(), fake.send, fake.clock, fake.sleep)
    assert sum(tally.statuses.values()) == 1000
    # FakeTime answers 200 to every bad request but the negative one: the others are unexpected.
    planned = draw(mix(), 1000)
    assert tally.unexpected == sum(1 for r in planned if r.expected_status != 200 and r.kind != "negative") > 0
    assert tally.statuses["400"] == sum(1 for r in planned if r.kind == "negative")
    # 1000 requests at 10/s is 100 s: one minute summary plus the final one.
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2 and lines[0].startswith("sent=") and lines[1].startswith("finished: sent=1000 ")


def test_settings_from_the_environment() -> None:
    settings = load_settings(
        {"TARGET_URL": "http://lb:8001/", "RATE": "5", "DURATION": "60", "MAX_REQUESTS": "10",
         "BAD_FRACTION": "0.1", "SEED": "9"}
    )
    assert settings == Settings("http://lb:8001/", 5.0, 60.0, 10, 0.1, 9)
    assert load_settings({}) == Settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TARGET_URL", "lb:8001"), ("TARGET_URL", "ftp://lb/"), ("RATE", "0"), ("RATE", "fast"),
     ("DURATION", "-1"), ("MAX_REQUESTS", "0"), ("BAD_FRACTION", "2"), ("BAD_FRACTION", "nan")],
)
def test_bad_settings(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})
