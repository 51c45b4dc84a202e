"""socket.io at the URL each dialect's client sets: the root, the dialect's namespace and the
dialect's own `<prefix>/socket.io` path; refusals that say why; each dialect's events only to
its own clients. The python-socketio client over a real server, both transports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import socketio
from pydantic import SecretStr

from menagerie.app import create_app
from menagerie.core.clock import utcnow
from menagerie.core.ops.alerts import Thresholds
from menagerie.core.tools.events import STATUS_TOPIC, ServerStatusChanged
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import serve

TOKEN = "test-master-key-0123456789abcdef"  # conftest's master key
TRANSPORTS = [["polling", "websocket"], ["websocket"]]


@pytest.fixture
def database_url(tmp_path) -> str:  # the routing of connections is the point: one engine
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


async def _serve(settings: Settings, **changes: Any) -> AsyncIterator[str]:
    changes.setdefault("offline_token_delay_ms", 0)
    platform = Platform.build(settings.model_copy(update=changes))
    async with serve(create_app(platform=platform)) as base:
        yield base


@pytest.fixture
async def url(settings: Settings) -> AsyncIterator[str]:
    async for base in _serve(settings):
        yield base


@pytest.fixture
async def gary_root_url(settings: Settings) -> AsyncIterator[str]:
    async for base in _serve(settings, root_dialect="gary"):
        yield base


class Client:
    """A socket.io client that keeps every event it hears, per namespace."""

    def __init__(self, namespace: str = "/") -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        self.refusals: list[Any] = []

        @self.sio.on("*", namespace=namespace)
        async def anything(event: str, data: Any = None) -> None:
            await self.events.put((event, data))

        @self.sio.on("connect_error", namespace=namespace)
        async def refused(data: Any = None) -> None:
            self.refusals.append(data)

    async def connect(self, url: str, *, path: str = "socket.io", **options: Any) -> Client:
        options.setdefault("transports", ["websocket"])
        await self.sio.connect(
            url, namespaces=[self.namespace], socketio_path=path, wait_timeout=10, **options
        )
        return self

    async def emit(self, event: str, data: Any) -> None:
        await self.sio.emit(event, data, namespace=self.namespace)

    async def next(self, name: str, timeout: float = 10) -> Any:
        while True:
            event, data = await asyncio.wait_for(self.events.get(), timeout=timeout)
            if event == name:
                return data

    async def silent(self, name: str, within: float = 1.0) -> bool:
        """Nothing called `name` arrives within `within` seconds."""
        try:
            await self.next(name, timeout=within)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        await self.sio.disconnect()


async def _podplay_round(client: Client) -> None:
    connected = await client.next("connected")
    assert connected["status"] == "success"
    assert connected["message"] == "Connected to Podplay Sanctuary"
    await client.emit("mama_bear_message", {"message": "hello from a client", "user_id": "u1"})
    answer = await client.next("mama_bear_response")
    assert answer["success"] is True, answer
    assert "hello from a client" in answer["response"]


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["polling+upgrade", "websocket"])
@pytest.mark.parametrize(
    ("namespace", "path"),
    [("/", "socket.io"), ("/podplay", "socket.io"), ("/", "podplay/socket.io")],
    ids=["root", "namespace", "path"],
)
async def test_podplay_at_every_url(
    url: str, namespace: str, path: str, transports: list[str]
) -> None:
    client = await Client(namespace).connect(
        url, path=path, auth={"token": TOKEN}, transports=transports
    )
    try:
        await _podplay_round(client)
    finally:
        await client.close()


async def test_typing_reaches_the_session_across_namespaces(url: str) -> None:
    """A client at the root and one on `/podplay` in the same chat session hear each other."""
    alice = await Client("/").connect(url, auth={"token": TOKEN})
    bob = await Client("/podplay").connect(url, path="podplay/socket.io", auth={"token": TOKEN})
    try:
        await bob.emit("typing_indicator", {"session_id": "s-1", "typing": False})
        await asyncio.sleep(0.2)  # bob joins the session's room with his first indicator
        await alice.emit("typing_indicator", {"session_id": "s-1", "user_id": "a", "typing": True})
        relayed = await bob.next("typing_indicator")
        assert relayed == {"user_id": "a", "session_id": "s-1", "typing": True}
        assert await alice.silent("typing_indicator", within=0.3)  # not echoed to its sender
    finally:
        await alice.close()
        await bob.close()


@pytest.mark.parametrize(
    ("namespace", "path", "how"),
    [
        ("/", "gary/socket.io", "query"),  # the seed's `<base>/socket.io/?token=<jwt>`
        ("/", "gary/socket.io", "auth"),
        ("/gary", "socket.io", "auth"),  # io("http://host:port/gary", {auth: {token}})
    ],
)
async def test_gary_connects_where_its_seed_says(
    url: str, namespace: str, path: str, how: str
) -> None:
    target = f"{url}?token={TOKEN}" if how == "query" else url
    auth = {"token": TOKEN} if how == "auth" else None
    client = await Client(namespace).connect(target, path=path, auth=auth)
    try:
        assert client.sio.connected
        assert namespace in client.sio.namespaces
        # PodPlay's events are PodPlay's: a Crazy Gary client is neither greeted nor answered
        await client.emit("mama_bear_message", {"message": "hello"})
        assert await client.silent("mama_bear_response")
        assert client.events.empty()
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("namespace", "path", "auth", "said", "code"),
    [
        ("/", "socket.io", None, "authentication required", "AUTHENTICATION_REQUIRED"),
        (
            "/podplay",
            "socket.io",
            {"token": "podplay_api_nope"},
            "invalid",
            "AUTHENTICATION_REQUIRED",
        ),
        ("/", "gary/socket.io", {"token": "not.a.jwt"}, "invalid", "AUTH_REQUIRED"),
        ("/nowhere", "socket.io", {"token": TOKEN}, "unknown namespace /nowhere", None),
    ],
)
async def test_a_refusal_says_why(
    url: str,
    namespace: str,
    path: str,
    auth: dict[str, str] | None,
    said: str,
    code: str | None,
) -> None:
    client = Client(namespace)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, path=path, auth=auth)
    # what a client's `connect_error` carries: a message that says why, and the error body
    [refusal] = client.refusals
    assert said in refusal["message"].lower(), refusal
    # the data is the dialect's error body: PodPlay's `error_code`, Crazy Gary's `code`
    data = refusal["data"]
    if code is None:
        assert data["reason"] == "UNKNOWN_NAMESPACE"
    else:
        assert code in (data.get("error_code"), data.get("code")), data


async def test_a_root_dialect_owns_the_root_namespace(gary_root_url: str) -> None:
    """`--dialect gary`: the root is Crazy Gary's; PodPlay keeps its namespace and path."""
    gary = await Client("/").connect(gary_root_url, auth={"token": TOKEN})
    podplay = await Client("/").connect(
        gary_root_url, path="podplay/socket.io", auth={"token": TOKEN}
    )
    try:
        await gary.emit("mama_bear_message", {"message": "hello"})
        assert await gary.silent("mama_bear_response")
        await _podplay_round(podplay)
    finally:
        await gary.close()
        await podplay.close()


SECRET = "socket-test-jwt-secret-0123456789abcdef"


@pytest.fixture
async def signed_url(settings: Settings) -> AsyncIterator[str]:
    async for base in _serve(settings, jwt_secret=SecretStr(SECRET)):
        yield base


async def test_gary_signs_in_and_connects_with_its_jwt(signed_url: str) -> None:
    """The seed's flow: register, take the JWT, `<base>/socket.io/?token=<jwt>`."""
    async with httpx.AsyncClient(base_url=f"{signed_url}/gary") as gary:
        registered = await gary.post(
            "/api/auth/register",
            json={"email": "ws@example.com", "password": "Sockets-4-all", "fullName": "W S"},
        )
        assert registered.status_code == 201, registered.text
        token = registered.json()["token"]
    client = await Client("/").connect(f"{signed_url}?token={token}", path="gary/socket.io")
    try:
        assert client.sio.connected
    finally:
        await client.close()

    expired = jwt.encode(
        {"sub": "usr_x", "iss": "menagerie", "iat": 1, "nbf": 1, "exp": 2, "typ": "access"},
        SECRET,
        algorithm="HS256",
    )
    refused = Client("/gary")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(signed_url, auth={"token": expired})
    [refusal] = refused.refusals
    assert "expired" in refusal["message"], refusal
    assert refusal["data"]["code"] == "TOKEN_EXPIRED"


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[str, Platform]]:
    platform = Platform.build(settings.model_copy(update={"offline_token_delay_ms": 0}))
    async with serve(create_app(platform=platform)) as base:
        yield base, platform


async def test_bus_events_reach_only_their_dialects_clients(
    served: tuple[str, Platform],
) -> None:
    """An MCP status change is PodPlay's event: its clients on the root, the namespace and the
    path hear it once; a Crazy Gary client in the same default namespace does not."""
    url, platform = served
    podplay = [
        await Client("/").connect(url, auth={"token": TOKEN}),
        await Client("/podplay").connect(url, auth={"token": TOKEN}),
        await Client("/").connect(url, path="podplay/socket.io", auth={"token": TOKEN}),
    ]
    gary = await Client("/").connect(url, path="gary/socket.io", auth={"token": TOKEN})
    try:
        for client in podplay:
            await client.next("connected")
        await asyncio.sleep(0.2)  # the relay subscribes when the server starts
        tenant = platform.settings.default_tenant
        change = ServerStatusChanged(tenant, "inst_1", "mcp-server-fetch", "running", utcnow())
        await platform.events.publish(STATUS_TOPIC, change.to_payload())
        for client in podplay:
            status = await client.next("mcp_server_status")
            [server] = status["servers"]
            assert (server["name"], server["status"]) == ("mcp-server-fetch", "online")
            assert await client.silent("mcp_server_status", within=0.3)  # once, not per path
        assert await gary.silent("mcp_server_status", within=0.3)
    finally:
        for client in (*podplay, gary):
            await client.close()


@pytest.fixture
async def alerting(settings: Settings) -> AsyncIterator[tuple[str, Platform]]:
    # nothing may alert before the test lowers the disk threshold: a busy CI machine's CPU
    # was over the default 90% and its alert arrived first
    changes = {
        "offline_token_delay_ms": 0,
        "alert_interval_s": 0.2,
        "alert_cpu_percent": 100.0,
        "alert_memory_percent": 100.0,
        "alert_disk_percent": 100.0,
    }
    platform = Platform.build(settings.model_copy(update=changes))
    async with serve(create_app(platform=platform)) as base:
        yield base, platform


async def test_system_alert_reaches_the_operators_clients(
    alerting: tuple[str, Platform],
) -> None:
    """An alert raised while clients are connected goes out as `system_alert` to PodPlay's
    and Crazy Gary's clients, each in its seed's shape; `/gary/api/monitoring/alerts` lists
    it. The condition is real: the disk is always fuller than a 0% threshold."""
    url, platform = alerting
    assert platform.alerts is not None
    podplay = await Client("/podplay").connect(url, auth={"token": TOKEN})
    gary = await Client("/").connect(url, path="gary/socket.io", auth={"token": TOKEN})
    try:
        await podplay.next("connected")
        await asyncio.sleep(0.3)  # the relays subscribe as the server starts
        platform.alerts.thresholds = Thresholds(100, 100, disk_percent=0.0, error_rate=1)
        shown = await podplay.next("system_alert")
        heard = await gary.next("system_alert")
        assert shown["alert_type"] in ("warning", "critical")
        assert shown["message"].startswith("High disk usage detected")
        assert shown["details"]["component"] == "system"
        assert shown["details"]["alert_id"] == heard["id"]
        assert set(heard) == {
            "id",
            "type",
            "severity",
            "message",
            "timestamp",
            "component",
            "acknowledged",
        }
        async with httpx.AsyncClient(base_url=f"{url}/gary") as http:
            listed = await http.get(
                "/api/monitoring/alerts", headers={"Authorization": f"Bearer {TOKEN}"}
            )
        assert [alert["id"] for alert in listed.json()] == [heard["id"]]
    finally:
        await podplay.close()
        await gary.close()
