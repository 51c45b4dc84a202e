"""The in-process event bus: topics, glob patterns, isolation of slow subscribers."""

from __future__ import annotations

from menagerie.core.events import InProcessEventBus, create_event_bus
from menagerie.core.events.bus import Event, Subscription


async def test_subscriber_gets_matching_topics_in_order() -> None:
    bus = InProcessEventBus()
    await bus.start()
    tasks = await bus.subscribe("task.*")
    everything = await bus.subscribe()
    await bus.publish("task.created", {"id": 1})
    await bus.publish("chat.message", {"id": 2})
    await bus.publish("task.done", {"id": 3})

    got = [await tasks.get(within=1), await tasks.get(within=1)]
    assert [(e.topic, e.payload) for e in got if e] == [
        ("task.created", {"id": 1}),
        ("task.done", {"id": 3}),
    ]
    assert await tasks.get(within=0.05) is None
    assert [(await everything.get(within=1)).topic for _ in range(3)] == [  # type: ignore[union-attr]
        "task.created",
        "chat.message",
        "task.done",
    ]
    await bus.stop()


async def test_unsubscribe_stops_delivery_and_ends_iteration() -> None:
    bus = InProcessEventBus()
    sub = await bus.subscribe("x")
    await bus.publish("x", {"n": 1})
    await bus.unsubscribe(sub)
    await bus.publish("x", {"n": 2})
    received = [event.payload async for event in sub]
    assert received == [{"n": 1}]


async def test_slow_subscriber_drops_oldest_and_counts_it() -> None:
    sub = Subscription(("t",), max_queue=3)
    for n in range(5):
        sub.deliver(Event("t", {"n": n}))
    assert sub.dropped == 2
    assert [(await sub.get(within=1)).payload["n"] for _ in range(3)] == [2, 3, 4]  # type: ignore[union-attr]


async def test_ping_and_factory() -> None:
    bus = create_event_bus(None)
    assert isinstance(bus, InProcessEventBus)
    assert await bus.ping() >= 0
