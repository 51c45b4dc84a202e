"""`menagerie worker`: a process that executes runs from the broker, beside the servers.

It builds the same Platform as a server (its jobs use chat, tools and sandboxes) but serves
no HTTP, and leaves the operator's schedules (alerts, health changes) to the servers. SIGTERM
or SIGINT stops it gracefully: runs it was executing go back to the queue for another worker.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from menagerie.logs import configure_logging
from menagerie.platform import Platform
from menagerie.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    platform = Platform.build(settings.model_copy(update={"server_worker": True}))
    configure_logging(settings.log_level, platform.redactor)
    platform.alerts = None
    platform.health_watch = None
    platform.supervises_deployments = False  # the servers run the deployed agents
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await platform.start()
    status = platform.runs.status()
    log.info(
        "worker %s executing runs from the %s broker, %d at once",
        status.worker_id,
        status.broker,
        status.concurrency,
    )
    try:
        await stop.wait()
    finally:
        log.info("worker %s stopping: its runs go back to the queue", status.worker_id)
        await platform.stop()
