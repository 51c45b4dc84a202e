"""The endpoint manager with real model server processes, and the Hugging Face backend
against a loopback fake of the Inference Endpoints API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from menagerie.core.errors import Invalid, NotFound, Unavailable
from menagerie.core.events import InProcessEventBus
from menagerie.core.llm.endpoints import EndpointManager, EndpointStatus
from menagerie.core.llm.endpoints.huggingface import HuggingFaceBackend
from menagerie.core.llm.endpoints.process import ProcessBackend
from menagerie.settings import EndpointSettings
from tests.utils.model_server import command, free_port, pid_alive
from tests.utils.server import serve


def endpoint(name: str = "tiny", *flags: str, **overrides: Any) -> EndpointSettings:
    values: dict[str, Any] = {
        "name": name,
        "model": "tiny-model",
        "command": command(*flags),
        "port": free_port(),
        "idle_timeout_s": 60.0,
        "wake_timeout_s": 10.0,
    }
    values.update(overrides)
    return EndpointSettings(**values)


def quick_stop(settings: EndpointSettings) -> ProcessBackend:
    return ProcessBackend(settings, stop_grace_s=0.5)


@pytest.fixture
def bus() -> InProcessEventBus:
    return InProcessEventBus()


@pytest.fixture
async def make_manager(
    bus: InProcessEventBus,
) -> AsyncIterator[Callable[..., EndpointManager]]:
    managers: list[EndpointManager] = []

    def make(*endpoints: EndpointSettings, **options: Any) -> EndpointManager:
        options.setdefault("backend_factory", quick_stop)
        manager = EndpointManager(list(endpoints), bus, **options)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        await manager.stop()


async def until(
    manager: EndpointManager, name: str, *states: str, within: float = 10.0
) -> EndpointStatus:
    deadline = time.monotonic() + within
    while True:
        status = manager.status(name)
        if status.status in states:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} stayed {status.status} ({status.error}), not {states}")
        await asyncio.sleep(0.02)


async def gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def pid_of(manager: EndpointManager, name: str) -> int:
    backend = manager.backend(name)
    assert isinstance(backend, ProcessBackend)
    assert backend.pid is not None
    return backend.pid


async def test_wake_runs_a_healthy_server_and_sleep_stops_it(make_manager, bus) -> None:
    settings = endpoint()
    manager = make_manager(settings)
    await manager.start()
    events = await bus.subscribe("llm.endpoints")
    assert manager.status("tiny").status == "sleeping"

    started = time.monotonic()
    manager.wake("tiny")
    assert time.monotonic() - started < 0.1  # initiated, not awaited
    status = await until(manager, "tiny", "running")
    assert status.url == f"http://127.0.0.1:{settings.port}/v1"
    assert status.wake_time is not None
    assert status.sleep_time is None
    assert 59 < status.auto_sleep_in <= 60  # type: ignore[operator]
    pid = pid_of(manager, "tiny")
    assert pid_alive(pid)
    async with httpx.AsyncClient(base_url=status.url) as client:
        health = await client.get(f"http://127.0.0.1:{settings.port}/health")
        assert health.json() == {"status": "ok", "pid": pid}
        reply = await client.post(
            "/chat/completions", json={"model": "tiny", "messages": [{"content": "hi"}]}
        )
        assert reply.json()["choices"][0]["message"]["content"] == "echo: hi"

    manager.wake("tiny")  # already running: nothing happens
    await asyncio.sleep(0.05)
    assert pid_of(manager, "tiny") == pid

    manager.sleep("tiny")
    status = await until(manager, "tiny", "sleeping")
    assert await gone(pid)
    assert status.sleep_time is not None
    assert status.wake_time is None
    assert status.auto_sleep_in is None
    with pytest.raises(httpx.ConnectError):
        await httpx.AsyncClient().get(f"http://127.0.0.1:{settings.port}/health")

    seen = []
    while (event := await events.get(within=0.1)) is not None:
        seen.append((event.payload["previous"], event.payload["status"]))
    assert seen == [
        ("sleeping", "starting"),
        ("starting", "running"),
        ("running", "stopping"),
        ("stopping", "sleeping"),
    ]


async def test_idle_endpoint_is_put_to_sleep(make_manager) -> None:
    manager = make_manager(endpoint(idle_timeout_s=1.0))
    await manager.start()
    url = await manager.ensure_awake("tiny")
    assert url.startswith("http://127.0.0.1:")
    pid = pid_of(manager, "tiny")
    await asyncio.sleep(0.5)
    left = manager.status("tiny").auto_sleep_in
    assert left is not None
    assert left < 0.7
    manager.touch("tiny")  # activity pushes the sleep back
    assert manager.status("tiny").auto_sleep_in > 0.9  # type: ignore[operator]
    assert manager.status("tiny").last_activity is not None
    await until(manager, "tiny", "sleeping", within=3.0)
    assert await gone(pid)


async def test_a_server_that_exits_on_its_own_is_failed(make_manager) -> None:
    manager = make_manager(endpoint("flaky", "--exit-after", "0.5", "--exit-code", "7"))
    await manager.start()
    await manager.ensure_awake("flaky")
    status = await until(manager, "flaky", "failed", within=5.0)
    assert "code 7" in (status.error or "")
    assert "exiting with code 7" in (status.error or "")  # the tail of its output
    assert status.auto_sleep_in is None
    # a failed endpoint can be woken again
    manager.wake("flaky")
    await until(manager, "flaky", "running")


async def test_ensure_awake_wakes_a_sleeping_endpoint(make_manager) -> None:
    settings = endpoint("slow", "--startup-delay", "0.3")
    manager = make_manager(settings)
    await manager.start()
    url = await manager.ensure_awake("slow")
    assert url == f"http://127.0.0.1:{settings.port}/v1"
    status = manager.status("slow")
    assert status.status == "running"
    assert status.last_activity is not None
    assert await manager.ensure_awake("slow") == url  # running: straight back


async def test_never_healthy_is_unavailable_past_the_deadline(make_manager) -> None:
    manager = make_manager(endpoint("stuck", "--unhealthy", wake_timeout_s=1.0))
    await manager.start()
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"not running within 0\.4s") as caught:
        await manager.ensure_awake("stuck", timeout_s=0.4)
    assert time.monotonic() - started >= 0.3
    assert caught.value.reason == "ENDPOINT_UNAVAILABLE"
    assert caught.value.service == "endpoint:stuck"
    pid = pid_of(manager, "stuck")
    # the wake goes on to its own deadline, then gives up and leaves no process behind
    status = await until(manager, "stuck", "failed", within=3.0)
    assert "within 1s" in (status.error or "")
    assert "503" in (status.error or "")
    assert await gone(pid)
    with pytest.raises(Unavailable, match="within 1s"):
        await manager.ensure_awake("stuck")  # the default deadline is wake_timeout_s


async def test_concurrent_wakes_start_one_process(make_manager, tmp_path: Path) -> None:
    pid_log = tmp_path / "pids"
    manager = make_manager(endpoint("one", "--pid-log", str(pid_log), "--startup-delay", "0.2"))
    await manager.start()
    manager.wake("one")
    manager.wake()
    urls = await asyncio.gather(*(manager.ensure_awake("one") for _ in range(5)))
    manager.wake("one")
    await asyncio.sleep(0.1)
    assert len(set(urls)) == 1
    assert len(pid_log.read_text().split()) == 1


async def test_sleep_cancels_a_wake_in_flight(make_manager) -> None:
    manager = make_manager(endpoint("late", "--startup-delay", "5"))
    await manager.start()
    waiter = asyncio.create_task(manager.ensure_awake("late"))
    await until(manager, "late", "starting")
    backend = manager.backend("late")
    assert isinstance(backend, ProcessBackend)
    while backend.pid is None:  # spawned right after the state turns to starting
        await asyncio.sleep(0.01)
    pid = backend.pid
    manager.sleep("late")
    with pytest.raises(Unavailable, match="put to sleep"):
        await waiter
    assert manager.status("late").status == "sleeping"
    assert await gone(pid)


async def test_sleep_kills_the_whole_group_even_if_sigterm_is_ignored(
    make_manager, tmp_path: Path
) -> None:
    child_file = tmp_path / "child"
    manager = make_manager(
        endpoint("stubborn", "--ignore-sigterm", "--child-pid-file", str(child_file))
    )
    await manager.start()
    await manager.ensure_awake("stubborn")
    pid = pid_of(manager, "stubborn")
    child = int(child_file.read_text())
    assert pid_alive(child)
    manager.sleep("stubborn")
    await until(manager, "stubborn", "sleeping", within=5.0)
    assert await gone(pid)
    assert await gone(child)


async def test_stop_takes_down_every_process(make_manager) -> None:
    manager = make_manager(endpoint("a"), endpoint("b"))
    await manager.start()
    await asyncio.gather(manager.ensure_awake("a"), manager.ensure_awake("b"))
    pids = [pid_of(manager, "a"), pid_of(manager, "b")]
    await manager.stop()
    assert all([await gone(pid) for pid in pids])
    assert {s.status for s in manager.statuses()} == {"sleeping"}


async def test_unknown_names_list_the_known_ones(make_manager) -> None:
    manager = make_manager(endpoint("120b"), endpoint("20b"))
    for call in (manager.status, manager.wake, manager.sleep, manager.touch):
        with pytest.raises(NotFound, match="120b, 20b"):
            call("7b")
    with pytest.raises(NotFound):
        await manager.ensure_awake("7b")


def test_configuration_mistakes_are_refused() -> None:
    bus = InProcessEventBus()
    with pytest.raises(Invalid, match="twice"):
        EndpointManager([endpoint("x"), endpoint("x")], bus)
    with pytest.raises(Invalid, match="needs a command"):
        EndpointManager([EndpointSettings(name="x", port=free_port())], bus)
    with pytest.raises(Invalid, match="needs a port"):
        EndpointManager([EndpointSettings(name="x", command=["true"])], bus)


# ---- Hugging Face, against a loopback fake of https://api.endpoints.huggingface.cloud/v2


class FakeInferenceEndpoints:
    """The few routes huggingface_hub calls, with a resume that takes two fetches to finish."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.state = "paused"
        self.fetches_until_running = 0
        self.calls: list[str] = []
        self.app = FastAPI()
        prefix = "/v2/endpoint/{namespace}/{name}"
        self.app.get(prefix)(self.get)
        self.app.post(prefix + "/resume")(self.resume)
        self.app.post(prefix + "/pause")(self.pause)

    def _check(self, authorization: str | None) -> None:
        if authorization != f"Bearer {self.token}":
            raise HTTPException(401, "bad token")

    def body(self, namespace: str, name: str) -> dict[str, Any]:
        running = self.state == "running"
        return {
            "name": name,
            "type": "protected",
            "healthRoute": "/health",
            "model": {
                "repository": "openai/gpt-oss-20b",
                "framework": "pytorch",
                "revision": "main",
                "task": "text-generation",
            },
            "status": {
                "state": self.state,
                "url": f"https://{name}.{namespace}.example.cloud" if running else None,
                "createdAt": "2026-01-01T00:00:00.000Z",
                "updatedAt": "2026-01-01T00:00:00.000Z",
            },
        }

    async def get(
        self, namespace: str, name: str, authorization: str | None = Header(None)
    ) -> dict[str, Any]:
        self._check(authorization)
        self.calls.append("get")
        if self.state == "initializing":
            self.fetches_until_running -= 1
            if self.fetches_until_running <= 0:
                self.state = "running"
        return self.body(namespace, name)

    async def resume(
        self, namespace: str, name: str, authorization: str | None = Header(None)
    ) -> dict[str, Any]:
        self._check(authorization)
        self.calls.append("resume")
        if self.state == "paused":
            self.state, self.fetches_until_running = "initializing", 2
        return self.body(namespace, name)

    async def pause(
        self, namespace: str, name: str, authorization: str | None = Header(None)
    ) -> dict[str, Any]:
        self._check(authorization)
        self.calls.append("pause")
        self.state = "paused"
        return self.body(namespace, name)


@pytest.fixture
async def fake_hf(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeInferenceEndpoints]:
    from huggingface_hub import constants

    fake = FakeInferenceEndpoints(token="hf_test_token")
    async with serve(fake.app) as base_url:
        # huggingface_hub reads this module constant on every call, and offers no setting for it
        monkeypatch.setattr(constants, "INFERENCE_ENDPOINTS_ENDPOINT", f"{base_url}/v2")
        yield fake


async def test_huggingface_endpoint_resumes_and_pauses(make_manager, fake_hf) -> None:
    settings = EndpointSettings(
        name="20b",
        kind="huggingface",
        model="openai/gpt-oss-20b",
        hf_endpoint="gpt-oss-20b-crazy-gary",
        hf_namespace="GaryOcean",
        wake_timeout_s=5.0,
    )
    manager = make_manager(
        settings,
        backend_factory=lambda s: HuggingFaceBackend(
            s, token="hf_test_token", poll_interval_s=0.05
        ),
    )
    await manager.start()
    await asyncio.sleep(0.3)  # the startup probe finds it paused
    assert manager.status("20b").status == "sleeping"
    url = await manager.ensure_awake("20b")
    assert url == "https://gpt-oss-20b-crazy-gary.GaryOcean.example.cloud/v1"
    assert fake_hf.state == "running"
    assert "resume" in fake_hf.calls
    manager.sleep("20b")
    await until(manager, "20b", "sleeping")
    assert fake_hf.state == "paused"
    fake_hf.calls.clear()
    await manager.stop()  # a hosted endpoint is not paused just because we shut down
    assert fake_hf.calls == []


async def test_huggingface_failure_is_reported(make_manager, fake_hf) -> None:
    settings = EndpointSettings(name="20b", kind="huggingface", hf_namespace="GaryOcean")
    manager = make_manager(
        settings, backend_factory=lambda s: HuggingFaceBackend(s, token="wrong-token")
    )
    with pytest.raises(Unavailable) as caught:
        await manager.ensure_awake("20b", timeout_s=5)
    assert caught.value.reason == "ENDPOINT_UNAVAILABLE"
    assert "lookup failed" in caught.value.message
    assert "wrong-token" not in caught.value.message
    assert manager.status("20b").status == "failed"
