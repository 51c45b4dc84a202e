"""The rate limiter on its own, in memory: limit notation, several limits at once, what the
headers get, what a refusal says."""

from __future__ import annotations

import asyncio
import time

import pytest

from menagerie.core.errors import RateLimited
from menagerie.core.ops.ratelimit import RateLimiter, digest, parse_limits


def test_notation() -> None:
    assert [(i.amount, i.get_expiry()) for i in parse_limits("1000/hour;50/minute")] == [
        (1000, 3600),
        (50, 60),
    ]
    assert [(i.amount, i.get_expiry()) for i in parse_limits("10 per hour")] == [(10, 3600)]
    assert [(i.amount, i.get_expiry()) for i in parse_limits("5/2 minutes, 1/second")] == [
        (5, 120),
        (1, 1),
    ]
    for unlimited in ("unlimited", "None", "off", ""):
        assert parse_limits(unlimited) == ()


@pytest.mark.parametrize("bad", ["lots", "10/fortnight", "0/minute"])
def test_unreadable_limits_are_refused_at_once(bad: str) -> None:
    with pytest.raises(ValueError, match=r"podplay\.chat"):
        RateLimiter(overrides={"podplay.chat": bad})


def test_overrides_replace_defaults() -> None:
    limiter = RateLimiter(overrides={"podplay.chat": "5/minute", "gary.auth": "unlimited"})
    assert [i.amount for i in limiter.policy("podplay.chat", "1000/hour;50/minute").items] == [5]
    assert limiter.policy("gary.auth", "10/hour").unlimited
    assert [i.amount for i in limiter.policy("podplay.mcp", "500/hour").items] == [500]


def test_keys_never_hold_the_secret() -> None:
    key = digest("Bearer podplay_api_secret")
    assert "secret" not in key
    assert len(key) == 32
    assert key == digest("Bearer podplay_api_secret") != digest("Bearer other")


async def test_remaining_counts_down_and_a_spent_limit_refuses() -> None:
    limiter = RateLimiter()
    policy = limiter.policy("t.cat", "3/minute")
    before = time.time()
    statuses = [await limiter.hit(policy, "caller") for _ in range(3)]
    assert [s.remaining for s in statuses if s] == [2, 1, 0]
    first = statuses[0]
    assert first is not None
    assert (first.limit, first.window_seconds) == (3, 60)
    assert before + 60 <= first.reset <= before + 62
    with pytest.raises(RateLimited) as refused:
        await limiter.hit(policy, "caller")
    error = refused.value
    assert (error.limit, error.window_seconds) == (3, 60)
    # when the first request leaves the window (its timestamp is taken a moment after `now`)
    assert first.reset <= error.reset_at.timestamp() <= first.reset + 1
    assert error.message == "Rate limit exceeded"
    assert error.details["limit"] == 3
    assert error.details["window_seconds"] == 60
    # another key has its own counter
    other = await limiter.hit(policy, "someone-else")
    assert other is not None
    assert other.remaining == 2


async def test_refused_requests_are_not_counted() -> None:
    limiter = RateLimiter()
    # a window that outlasts the seven hits even on a loaded machine
    policy = limiter.policy("t.cat", "2/3 seconds")
    for _ in range(2):
        await limiter.hit(policy, "k")
    for _ in range(5):
        with pytest.raises(RateLimited):
            await limiter.hit(policy, "k")
    await asyncio.sleep(3.05)  # the two counted requests leave the window; the refused never
    status = await limiter.hit(policy, "k")
    assert status is not None
    assert status.remaining == 1


async def test_every_limit_applies_and_headers_describe_the_closest_to_exhaustion() -> None:
    limiter = RateLimiter()
    burst_first = limiter.policy("t.a", "5/hour;2/minute")
    status = await limiter.hit(burst_first, "k")
    assert status is not None
    assert (status.limit, status.remaining, status.window_seconds) == (2, 1, 60)
    await limiter.hit(burst_first, "k")
    with pytest.raises(RateLimited) as refused:
        await limiter.hit(burst_first, "k")
    assert (refused.value.limit, refused.value.window_seconds) == (2, 60)

    hourly_first = limiter.policy("t.b", "2/hour;5/minute")
    status = await limiter.hit(hourly_first, "k")
    assert status is not None
    assert (status.limit, status.remaining, status.window_seconds) == (2, 1, 3600)
    await limiter.hit(hourly_first, "k")
    with pytest.raises(RateLimited) as refused:
        await limiter.hit(hourly_first, "k")
    assert (refused.value.limit, refused.value.window_seconds) == (2, 3600)


async def test_disabled_or_unlimited_counts_nothing() -> None:
    off = RateLimiter(enabled=False)
    policy = off.policy("t.cat", "1/hour")
    assert [await off.hit(policy, "k") for _ in range(3)] == [None, None, None]
    on = RateLimiter()
    unlimited = on.policy("t.cat", "unlimited")
    assert await on.hit(unlimited, "k") is None
    await on.close()
