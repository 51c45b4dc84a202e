"""The endpoint manager: wakes model servers on demand and puts idle ones to sleep.

Every change of an endpoint's state goes through one lock per endpoint, so concurrent wakes
start one server, and a sleep waits for (or cancels) a wake in flight instead of racing it.
Each change is published on the event bus under `llm.endpoints`.

The endpoints are the installation's: they belong to the operator's tenant (the default
tenant). Callers see and command them through the `*_for` methods: only that tenant's users
see them, and only its admins wake or sleep them; for any other tenant they do not exist
(404), though its chats are still served by them through the router.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from menagerie.core.clock import utcnow
from menagerie.core.errors import Invalid, NotFound, Unavailable
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.core.llm.endpoints.base import EndpointBackend, EndpointFailure
from menagerie.core.llm.endpoints.models import EndpointState, EndpointStatus
from menagerie.core.llm.endpoints.process import ProcessBackend
from menagerie.settings import EndpointSettings

if TYPE_CHECKING:
    from menagerie.settings import Settings

log = logging.getLogger(__name__)

TOPIC = "llm.endpoints"
PROBE_TIMEOUT_S = 30.0
Operation = Literal["wake", "sleep"]
BackendFactory = Callable[[EndpointSettings], EndpointBackend]


def create_backend(
    settings: EndpointSettings, *, huggingface_token: str | None = None, stop_grace_s: float = 10.0
) -> EndpointBackend:
    if settings.kind == "process":
        return ProcessBackend(settings, stop_grace_s=stop_grace_s)
    # imported here: huggingface_hub costs half a second at startup and most setups lack it
    from menagerie.core.llm.endpoints.huggingface import HuggingFaceBackend

    return HuggingFaceBackend(settings, token=huggingface_token)


@dataclass(eq=False)
class _Endpoint:
    settings: EndpointSettings
    backend: EndpointBackend
    state: EndpointState = "sleeping"
    error: str | None = None
    last_activity: datetime | None = None
    wake_time: datetime | None = None
    sleep_time: datetime | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # requested operations not finished yet, oldest first; they run in order under `lock`
    pending: list[tuple[Operation, asyncio.Task[None]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.settings.name

    def busy(self) -> bool:
        self.pending = [(op, task) for op, task in self.pending if not task.done()]
        return bool(self.pending)

    def sleep_in(self, now: datetime) -> float | None:
        """Seconds until the idle sleep, while running."""
        if self.state != "running":
            return None
        marks = [mark for mark in (self.wake_time, self.last_activity) if mark is not None]
        if not marks:
            return None
        idle = (now - max(marks)).total_seconds()
        return max(0.0, round(self.settings.idle_timeout_s - idle, 3))


class EndpointManager:
    def __init__(
        self,
        endpoints: Sequence[EndpointSettings],
        events: EventBus,
        *,
        huggingface_token: str | None = None,
        backend_factory: BackendFactory | None = None,
        watch_interval_s: float | None = None,
        operator_tenant: str = "default",
        built: Sequence[ProcessBackend] = (),
    ) -> None:
        """`built`: endpoints whose backend the caller made (the embedded model's)."""
        self._events = events
        self.operator_tenant = operator_tenant
        factory = backend_factory or (
            lambda settings: create_backend(settings, huggingface_token=huggingface_token)
        )
        given = {backend.settings.name: backend for backend in built}
        endpoints = [*endpoints, *(backend.settings for backend in built)]
        self._endpoints: dict[str, _Endpoint] = {}
        for settings in endpoints:
            if settings.name in self._endpoints:
                raise Invalid(
                    f"endpoint name {settings.name!r} is configured twice",
                    field="llm_endpoints.name",
                    received=settings.name,
                    expected="unique endpoint names",
                )
            endpoint = _Endpoint(settings, given.get(settings.name) or factory(settings))
            endpoint.backend.on_exit = self._exit_callback(endpoint)
            self._endpoints[settings.name] = endpoint
        shortest_idle = min((e.idle_timeout_s for e in endpoints), default=60.0)
        # a tenth of the shortest idle timeout keeps the sleep late by at most 10%
        self._interval = watch_interval_s or min(max(shortest_idle / 10, 0.05), 5.0)
        self._watchdog: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(
        cls, settings: Settings, events: EventBus, built: Sequence[ProcessBackend] = ()
    ) -> EndpointManager:
        key = settings.huggingface_api_key
        return cls(
            settings.llm_endpoints,
            events,
            huggingface_token=key.get_secret_value() if key is not None else None,
            operator_tenant=settings.default_tenant,
            built=built,
        )

    # ---- reading

    def names(self) -> list[str]:
        return list(self._endpoints)

    def statuses(self) -> list[EndpointStatus]:
        now = utcnow()
        return [self._snapshot(endpoint, now) for endpoint in self._endpoints.values()]

    def status(self, name: str) -> EndpointStatus:
        return self._snapshot(self._get(name), utcnow())

    def backend(self, name: str) -> EndpointBackend:
        return self._get(name).backend

    # ---- what a caller sees and commands

    def _visible(self, principal: Principal) -> bool:
        return principal.tenant_id == self.operator_tenant

    def _for(self, principal: Principal, name: str | None) -> list[_Endpoint]:
        if not self._visible(principal):
            if name is None:
                return []
            raise self._unknown(name, [])
        return self._select(name)

    def statuses_for(self, principal: Principal) -> list[EndpointStatus]:
        now = utcnow()
        return [self._snapshot(endpoint, now) for endpoint in self._for(principal, None)]

    def status_for(self, principal: Principal, name: str) -> EndpointStatus:
        return self._snapshot(self._for(principal, name)[0], utcnow())

    def wake_for(self, principal: Principal, name: str | None = None) -> int:
        """An admin wakes one endpoint (or all it sees); how many were asked to wake."""
        principal.require_admin("waking model endpoints")
        chosen = self._for(principal, name)
        for endpoint in chosen:
            self._request(endpoint, "wake")
        return len(chosen)

    def sleep_for(self, principal: Principal, name: str | None = None) -> int:
        """An admin puts one endpoint (or all it sees) to sleep; how many were asked to."""
        principal.require_admin("putting model endpoints to sleep")
        chosen = self._for(principal, name)
        for endpoint in chosen:
            self._request(endpoint, "sleep")
        return len(chosen)

    def _get(self, name: str) -> _Endpoint:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise self._unknown(name, list(self._endpoints))
        return endpoint

    @staticmethod
    def _unknown(name: str, known: list[str]) -> NotFound:
        listed = ", ".join(known) or "none configured"
        return NotFound(
            f"unknown endpoint {name!r} (known: {listed})",
            reason="ENDPOINT_NOT_FOUND",
            details={"endpoint": name, "known": known},
        )

    def _snapshot(self, endpoint: _Endpoint, now: datetime) -> EndpointStatus:
        return EndpointStatus(
            name=endpoint.name,
            kind=endpoint.backend.kind,
            status=endpoint.state,
            url=endpoint.backend.url,
            model=endpoint.settings.model,
            last_activity=endpoint.last_activity,
            wake_time=endpoint.wake_time,
            sleep_time=endpoint.sleep_time,
            auto_sleep_in=endpoint.sleep_in(now),
            error=endpoint.error,
        )

    # ---- commands

    def wake(self, name: str | None = None) -> None:
        """Start waking one endpoint (or all) in the background; awake ones are left alone."""
        for endpoint in self._select(name):
            self._request(endpoint, "wake")

    def sleep(self, name: str | None = None) -> None:
        """Start putting one endpoint (or all) to sleep in the background; cancels wakes."""
        for endpoint in self._select(name):
            self._request(endpoint, "sleep")

    def touch(self, name: str) -> None:
        """Record use, which pushes back the idle sleep."""
        self._get(name).last_activity = utcnow()

    async def ensure_awake(self, name: str, timeout_s: float | None = None) -> str:
        """Wake if needed and wait until running; the endpoint's base URL.

        Raises `Unavailable` (reason ENDPOINT_UNAVAILABLE) when it fails or is not running
        within `timeout_s` (default: the endpoint's `wake_timeout_s`). A wake that outlives
        the caller's deadline goes on, for the next caller.
        """
        endpoint = self._get(name)
        timeout = endpoint.settings.wake_timeout_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._awake(endpoint) and not endpoint.busy():
                endpoint.last_activity = utcnow()
                url = endpoint.backend.url
                assert url is not None  # a running backend knows its URL
                return url
            task = self._request(endpoint, "wake")
            remaining = deadline - loop.time()
            if task is None:  # running, nothing queued: the top of the loop returns it
                continue
            if remaining <= 0:
                raise self._unavailable(endpoint, f"not running within {timeout:g}s")
            done, _ = await asyncio.wait({task}, timeout=remaining)
            if not done:
                raise self._unavailable(endpoint, f"not running within {timeout:g}s")
            if task.cancelled():
                raise self._unavailable(endpoint, "put to sleep while waking")
            if endpoint.state == "failed":
                raise self._unavailable(endpoint, endpoint.error or "failed to start")

    def _select(self, name: str | None) -> list[_Endpoint]:
        return list(self._endpoints.values()) if name is None else [self._get(name)]

    @staticmethod
    def _awake(endpoint: _Endpoint) -> bool:
        return endpoint.state == "running" and endpoint.backend.alive

    @staticmethod
    def _unavailable(endpoint: _Endpoint, reason: str) -> Unavailable:
        return Unavailable(
            f"endpoint {endpoint.name!r} is unavailable: {reason}",
            service=f"endpoint:{endpoint.name}",
            reason="ENDPOINT_UNAVAILABLE",
            details={"status": endpoint.state},
        )

    def _request(self, endpoint: _Endpoint, op: Operation) -> asyncio.Task[None] | None:
        """Queue `op` unless it is already the last thing queued or already true."""
        if endpoint.busy():
            last_op, last_task = endpoint.pending[-1]
            if last_op == op:
                return last_task
        elif self._already(endpoint, op):
            return None
        if op == "sleep":
            for queued, task in endpoint.pending:
                if queued == "wake":
                    task.cancel()
        task = asyncio.create_task(self._run(endpoint, op), name=f"endpoint-{endpoint.name}-{op}")
        endpoint.pending.append((op, task))
        return task

    def _already(self, endpoint: _Endpoint, op: Operation) -> bool:
        if op == "wake":
            return self._awake(endpoint)
        return endpoint.state == "sleeping"

    async def _run(self, endpoint: _Endpoint, op: Operation) -> None:
        async with endpoint.lock:
            try:
                if op == "wake":
                    await self._bring_up(endpoint)
                else:
                    await self._bring_down(endpoint)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not leave the endpoint stuck in a transition
                log.exception("endpoint %s: %s failed unexpectedly", endpoint.name, op)
                await self._set(endpoint, "failed", error=f"{op} failed: {exc}")

    async def _bring_up(self, endpoint: _Endpoint) -> None:
        if self._awake(endpoint):
            return
        await self._set(endpoint, "starting", error=None)
        try:
            await endpoint.backend.start(endpoint.settings.wake_timeout_s)
        except asyncio.CancelledError:
            # a sleep (or shutdown) overtook this wake: leave nothing half started behind
            await self._set(endpoint, "stopping")
            await self._stop_quietly(endpoint)
            await self._asleep(endpoint)
            raise
        except EndpointFailure as exc:
            log.warning("endpoint %s failed to wake: %s", endpoint.name, exc)
            await self._stop_quietly(endpoint)
            await self._set(endpoint, "failed", error=str(exc))
            return
        endpoint.wake_time = utcnow()
        endpoint.sleep_time = None
        await self._set(endpoint, "running", error=None)

    async def _bring_down(self, endpoint: _Endpoint) -> None:
        if endpoint.state == "sleeping":
            return
        await self._set(endpoint, "stopping")
        try:
            await endpoint.backend.stop()
        except EndpointFailure as exc:
            log.warning("endpoint %s failed to sleep: %s", endpoint.name, exc)
            await self._set(endpoint, "failed", error=str(exc))
            return
        await self._asleep(endpoint)

    async def _asleep(self, endpoint: _Endpoint) -> None:
        endpoint.sleep_time = utcnow()
        endpoint.wake_time = None
        await self._set(endpoint, "sleeping", error=None)

    @staticmethod
    async def _stop_quietly(endpoint: _Endpoint) -> None:
        try:
            await endpoint.backend.stop()
        except EndpointFailure as exc:
            log.warning("endpoint %s: cleanup failed: %s", endpoint.name, exc)

    async def _set(self, endpoint: _Endpoint, state: EndpointState, **changes: Any) -> None:
        previous = endpoint.state
        endpoint.state = state
        if "error" in changes:
            endpoint.error = changes["error"]
        payload = {**self._snapshot(endpoint, utcnow()).to_payload(), "previous": previous}
        try:
            await self._events.publish(TOPIC, payload)
        except Exception as exc:  # the bus being down must not wedge an endpoint mid-change
            log.warning("endpoint %s: could not publish its state: %s", endpoint.name, exc)

    # ---- dying on its own

    def _exit_callback(self, endpoint: _Endpoint) -> Callable[[str], None]:
        def on_exit(reason: str) -> None:
            self._spawn(self._died(endpoint, reason), f"endpoint-{endpoint.name}-died")

        return on_exit

    async def _died(self, endpoint: _Endpoint, reason: str) -> None:
        async with endpoint.lock:
            # a wake or sleep that got the lock first has already dealt with it
            if endpoint.state != "running" or endpoint.backend.alive:
                return
            await self._stop_quietly(endpoint)
            await self._set(endpoint, "failed", error=reason)

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    # ---- lifecycle

    async def start(self) -> None:
        if self._watchdog is not None:
            return
        self._watchdog = asyncio.create_task(self._watch(), name="endpoint-watchdog")
        for endpoint in self._endpoints.values():
            self._spawn(self._probe(endpoint), f"endpoint-{endpoint.name}-probe")

    async def stop(self) -> None:
        """Stop the watchdog, abandon queued changes, and stop every server this process runs."""
        tasks = [task for e in self._endpoints.values() for _, task in e.pending]
        tasks += [*self._helpers, *([self._watchdog] if self._watchdog else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._watchdog = None
        for endpoint in self._endpoints.values():
            endpoint.pending.clear()
            if endpoint.backend.stops_with_server and endpoint.state != "sleeping":
                await self._stop_quietly(endpoint)
                await self._asleep(endpoint)

    async def _probe(self, endpoint: _Endpoint) -> None:
        """Learn the state of endpoints that live on without us (a hosted one may be running)."""
        async with endpoint.lock:
            try:
                found = await asyncio.wait_for(endpoint.backend.probe(), PROBE_TIMEOUT_S)
            except (EndpointFailure, TimeoutError) as exc:
                log.warning("endpoint %s: could not learn its state: %s", endpoint.name, exc)
                return
            if found is None or found == endpoint.state:
                return
            if found == "running":
                endpoint.wake_time = utcnow()
                await self._set(endpoint, "running", error=None)
            elif found == "failed":
                await self._set(endpoint, "failed", error="found failed at startup")
            elif found == "starting":
                self._request(endpoint, "wake")  # follow it until it runs (queued behind us)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            now = utcnow()
            for endpoint in self._endpoints.values():
                if endpoint.busy():
                    continue
                left = endpoint.sleep_in(now)
                if left is not None and left <= 0:
                    log.info(
                        "endpoint %s idle for %gs; putting it to sleep",
                        endpoint.name,
                        endpoint.settings.idle_timeout_s,
                    )
                    self._request(endpoint, "sleep")
