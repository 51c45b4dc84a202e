"""The taskiq broker a deployment's settings name: in memory, Redis, NATS JetStream or RabbitMQ.

A message carries only "a run is waiting"; the run itself is in the database. So a broker
that loses a message (a worker killed between taking it and claiming its run) or delivers
one twice changes nothing that a later kick or claim does not repair.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from taskiq import AsyncBroker, InMemoryBroker

from menagerie.core.errors import Invalid

QUEUE = "menagerie-runs"
SCHEMES = ("redis", "rediss", "nats", "tls", "amqp", "amqps")


def broker_kind(url: str | None) -> str:
    """`memory`, `redis`, `nats` or `rabbitmq`, for health and `doctor`."""
    if not url:
        return "memory"
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss"):
        return "redis"
    if scheme in ("nats", "tls"):
        return "nats"
    if scheme in ("amqp", "amqps"):
        return "rabbitmq"
    raise Invalid(
        f"MENAGERIE_BROKER_URL must start with one of {', '.join(s + '://' for s in SCHEMES)}",
        field="broker_url",
        reason="INVALID_BROKER_URL",
    )


def create_broker(url: str | None, *, concurrency: int, queue: str = QUEUE) -> AsyncBroker:
    kind = broker_kind(url)
    if kind == "memory":
        # messages run as tasks of this event loop; failures are the run's, never the kicker's
        return InMemoryBroker(max_async_tasks=concurrency, propagate_exceptions=False)
    assert url is not None
    if kind == "redis":
        from menagerie.core.runs.redis_queue import RedisQueueBroker

        return RedisQueueBroker(url, queue_name=queue)
    if kind == "nats":
        from taskiq_nats import PullBasedJetStreamBroker

        # durable: a message waits in the stream until a worker acknowledges it
        return PullBasedJetStreamBroker(
            url, subject=queue, stream_name=queue, durable=f"{queue}-workers"
        )
    from taskiq_aio_pika import AioPikaBroker
    from taskiq_aio_pika.queue import Queue

    return AioPikaBroker(url, task_queues=[Queue(name=queue)], qos=concurrency)
