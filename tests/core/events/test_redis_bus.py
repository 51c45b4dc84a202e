"""The Redis event bus for real: events cross process boundaries, patterns filter, outages
surface as `Unavailable`.

Redis is shared by every test run, so each test uses topics under its own `test.<uuid>.`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest

from menagerie.core.errors import Unavailable
from menagerie.core.events import Event, RedisEventBus, Subscription

pytestmark = pytest.mark.redis

PEER = Path(__file__).resolve().parents[2] / "utils" / "event_bus_peer.py"
# generous: the bound on waiting for something that should arrive, never a measurement
ARRIVAL_S = 10.0
PROCESS_EXIT_S = 20.0
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def prefix() -> str:
    return f"test.{uuid4().hex}"


@pytest.fixture
async def bus(redis_url: str) -> AsyncIterator[RedisEventBus]:
    bus = RedisEventBus(redis_url)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.stop()


async def _next(subscription: Subscription) -> Event:
    event = await subscription.get(within=ARRIVAL_S)
    assert event is not None, "an expected event never arrived"
    return event


async def _run_peer(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(PEER),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_events_published_by_another_process_arrive_in_order(
    bus: RedisEventBus, redis_url: str, prefix: str
) -> None:
    topic = f"{prefix}.ping"
    subscription = await bus.subscribe(f"{prefix}.*")
    payloads = [{"n": 1, "text": "first"}, {"n": 2, "nested": {"ok": True}}, {"n": 3}]

    peer = await _run_peer("publish", redis_url, topic, *(json.dumps(p) for p in payloads))
    _, stderr = await asyncio.wait_for(peer.communicate(), PROCESS_EXIT_S)
    assert peer.returncode == 0, stderr.decode()

    received = [await _next(subscription) for _ in payloads]
    assert [event.topic for event in received] == [topic] * len(payloads)
    assert [event.payload for event in received] == payloads
    assert all(event.published_at for event in received)  # the publisher's timestamp travels
    # exactly those: nothing else matched the pattern
    assert await subscription.get(within=0.2) is None
    assert subscription.dropped == 0


async def test_events_published_here_reach_a_subscriber_in_another_process(
    bus: RedisEventBus, redis_url: str, prefix: str
) -> None:
    payloads = [{"n": 1}, {"n": 2, "text": "zwei"}, {"n": 3, "list": [1, 2, 3]}]
    topic = f"{prefix}.to-peer.ping"
    peer = await _run_peer("subscribe", redis_url, f"{prefix}.to-peer.*", str(len(payloads)))
    assert peer.stdout is not None
    try:
        ready = await asyncio.wait_for(peer.stdout.readline(), PROCESS_EXIT_S)
        assert ready.decode().strip() == "ready"

        await bus.publish(f"{prefix}.elsewhere", {"n": 0})  # outside the peer's pattern
        for payload in payloads:
            await bus.publish(topic, payload)
        stdout, stderr = await asyncio.wait_for(peer.communicate(), PROCESS_EXIT_S)
    finally:
        if peer.returncode is None:
            peer.kill()
            await peer.wait()

    assert peer.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    assert lines == [{"topic": topic, "payload": payload} for payload in payloads]


async def test_a_subscriber_gets_only_topics_matching_its_pattern(
    bus: RedisEventBus, prefix: str
) -> None:
    a_events = await bus.subscribe(f"{prefix}.a.*")
    b_events = await bus.subscribe(f"{prefix}.b.*")
    everything = await bus.subscribe(f"{prefix}.*")

    await bus.publish(f"{prefix}.b.x", {"to": "b"})
    await bus.publish(f"{prefix}.a.y", {"to": "a"})
    await bus.publish(f"{prefix}.ab", {"to": "neither"})
    await bus.publish(f"{prefix}.a.end", {"to": "a", "last": True})

    # Redis delivers in publish order, so `a.*` seeing a.y first means b.x was skipped
    assert [(await _next(a_events)).topic for _ in range(2)] == [
        f"{prefix}.a.y",
        f"{prefix}.a.end",
    ]
    b_first = await _next(b_events)
    assert (b_first.topic, b_first.payload) == (f"{prefix}.b.x", {"to": "b"})
    assert [(await _next(everything)).topic for _ in range(4)] == [
        f"{prefix}.b.x",
        f"{prefix}.a.y",
        f"{prefix}.ab",
        f"{prefix}.a.end",
    ]
    # everything published has been delivered to `everything`; nothing more is queued for a/b
    assert await a_events.get(within=0.2) is None
    assert await b_events.get(within=0.2) is None


async def test_unsubscribed_subscription_is_closed_and_gets_nothing(
    bus: RedisEventBus, prefix: str
) -> None:
    gone = await bus.subscribe(f"{prefix}.*")
    kept = await bus.subscribe(f"{prefix}.*")
    await bus.unsubscribe(gone)

    await bus.publish(f"{prefix}.after", {"n": 1})
    assert (await _next(kept)).payload == {"n": 1}
    assert gone.closed
    assert await gone.get(within=0.2) is None


async def test_ping_reports_a_round_trip(bus: RedisEventBus) -> None:
    latency = await bus.ping()
    assert isinstance(latency, float)
    assert latency >= 0


async def test_unreachable_redis_raises_unavailable() -> None:
    bus = RedisEventBus(UNREACHABLE_REDIS, reconnect_delay=0.05)
    # start() does not fail on an unreachable server (the listener keeps retrying); it gives
    # up waiting for its subscription after a bounded wait and returns
    await asyncio.wait_for(bus.start(), timeout=15)
    try:
        with pytest.raises(Unavailable) as pinged:
            await bus.ping()
        assert pinged.value.service == "event_bus"
        assert pinged.value.reason == "SERVICE_UNAVAILABLE"

        with pytest.raises(Unavailable) as published:
            await bus.publish("test.unreachable", {"n": 1})
        assert published.value.service == "event_bus"
        assert published.value.details == {"service": "event_bus"}
    finally:
        await asyncio.wait_for(bus.stop(), timeout=15)


async def test_a_bus_that_was_never_started_is_unavailable() -> None:
    bus = RedisEventBus(UNREACHABLE_REDIS)
    with pytest.raises(Unavailable):
        await bus.ping()
    with pytest.raises(Unavailable):
        await bus.publish("test.not-started", {})
