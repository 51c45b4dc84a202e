"""The Redis list broker, listening in bounded waits so that an idle worker keeps listening.

taskiq-redis's `ListQueueBroker` waits for a message with one `BRPOP` that blocks forever,
while redis-py (since 6) reads every reply within a 5-second socket timeout: a worker that
saw no message for five seconds got a `TimeoutError`, which ended its listening for good and
left the process running but taking no run. Here each `BRPOP` gives up after
`WAIT_S` (well inside the socket timeout) and is asked again, and a lost connection is
retried after a pause, so listening ends only when the worker stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq_redis import ListQueueBroker

log = logging.getLogger(__name__)

WAIT_S = 2  # one BRPOP's wait (whole seconds: Redis < 6 takes no fraction)
RETRY_S = 1.0  # pause before asking a Redis that failed again


class RedisQueueBroker(ListQueueBroker):
    """`ListQueueBroker` whose listening survives quiet queues and Redis restarts."""

    async def listen(self) -> AsyncGenerator[bytes, None]:
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    popped = await redis.brpop([self.queue_name], timeout=WAIT_S)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("runs broker: Redis unreachable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(RETRY_S)
                continue
            if popped is not None:
                yield popped[1]
