"""Another process on the Redis event bus, for tests that cross a process boundary.

    python event_bus_peer.py publish URL TOPIC PAYLOAD_JSON [PAYLOAD_JSON ...]
        start a RedisEventBus, publish each payload on TOPIC in order, stop, exit 0.

    python event_bus_peer.py subscribe URL PATTERN COUNT
        start a RedisEventBus, subscribe to PATTERN, print a line `ready`, then print each
        event received as a JSON line `{"topic": ..., "payload": ...}`; exit 0 after COUNT
        events, or 3 when none arrives for 15 seconds.

Run as a script (by path), so it needs nothing but the installed `menagerie` package.
"""

from __future__ import annotations

import asyncio
import json
import sys

from menagerie.core.events import RedisEventBus

IDLE_LIMIT_S = 15.0


async def publish(url: str, topic: str, payloads: list[str]) -> int:
    bus = RedisEventBus(url)
    await bus.start()
    try:
        for payload in payloads:
            await bus.publish(topic, json.loads(payload))
    finally:
        await bus.stop()
    return 0


async def subscribe(url: str, pattern: str, count: int) -> int:
    bus = RedisEventBus(url)
    await bus.start()
    try:
        subscription = await bus.subscribe(pattern)
        print("ready", flush=True)
        for _ in range(count):
            event = await subscription.get(within=IDLE_LIMIT_S)
            if event is None:
                return 3
            print(json.dumps({"topic": event.topic, "payload": event.payload}), flush=True)
    finally:
        await bus.stop()
    return 0


def main(argv: list[str]) -> int:
    match argv:
        case ["publish", url, topic, *payloads]:
            return asyncio.run(publish(url, topic, payloads))
        case ["subscribe", url, pattern, count]:
            return asyncio.run(subscribe(url, pattern, int(count)))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
