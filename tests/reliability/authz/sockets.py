"""The socket rows of the table: each WebSocket opened, and each socket.io surface connected,
as every caller; PodPlay's client events that name an object (a chat session, a workspace)
sent by user B and by the other tenant's admin with A's: refused, and nothing of A's (its
answers, its marker) ever reaches them, nor anything of theirs A's clients across tenants."""

from __future__ import annotations

import contextlib

import socketio
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.reliability.authz.checks import Tally
from tests.reliability.authz.model import OWNER, Caller, SocketRow
from tests.reliability.authz.table_panthers import MINE
from tests.reliability.authz.world import MARKER, World
from tests.utils.model_server import free_port
from tests.utils.principals import admin
from tests.utils.socket_events import EventClient

CALLERS = (Caller.ANONYMOUS, Caller.USER_B, Caller.OTHER_ADMIN, Caller.USER_A)


async def _token(world: World, dialect: str, caller: Caller) -> str | None:
    headers = await world.credential(dialect, caller)
    return headers["Authorization"].removeprefix("Bearer ") if headers else None


def _allowed(row: SocketRow, caller: Caller) -> bool:
    return caller is not Caller.ANONYMOUS and (row.access is not OWNER or caller is Caller.USER_A)


async def _websocket(world: World, row: SocketRow, tally: Tally) -> None:
    path = row.name.replace("{nft_token_id}", MINE)
    base = world.url.replace("http://", "ws://") + path
    for caller in CALLERS:
        token = await _token(world, row.dialect, caller)
        try:
            async with connect(base + (f"?token={token}" if token else ""), open_timeout=10):
                opened = True
        except InvalidStatus as refused:
            opened, status = False, refused.response.status_code
        wanted = _allowed(row, caller)
        problem = None
        if opened != wanted:
            problem = "opened" if opened else f"refused ({status})"
        elif not opened and status >= 500:
            problem = f"refused with {status}"
        tally.record(str(row), caller, problem)


async def _sio_connect(
    world: World, dialect: str, caller: Caller
) -> tuple[EventClient | None, str | None]:
    """A connected client of the dialect's surface, or None and why it was refused."""
    client = EventClient()
    token = await _token(world, dialect, caller)
    try:
        await client.sio.connect(
            world.url,
            socketio_path=f"{dialect}/socket.io",
            auth={"token": token} if token else None,
            transports=["websocket"],
            wait_timeout=10,
        )
    except socketio.exceptions.ConnectionError as refused:
        return None, str(refused)
    return client, None


async def _connect_row(world: World, row: SocketRow, tally: Tally) -> None:
    for caller in CALLERS:
        client, refusal = await _sio_connect(world, row.dialect, caller)
        problem = None
        if caller is Caller.ANONYMOUS and client is not None:
            problem = "connected without credentials"
        elif caller is not Caller.ANONYMOUS and client is None:
            problem = f"refused: {refusal}"
        if client is not None:
            await client.sio.disconnect()
        tally.record(str(row), caller, problem)


async def _join(client: EventClient, session: str) -> None:
    """A turn in the session: answered once the client is in the session's room."""
    await client.sio.emit("mama_bear_message", {"message": "hello", "session_id": session})
    answer = await client.next("mama_bear_response")
    assert answer["success"] is True, answer


async def _podplay_events(world: World, rows: list[SocketRow], tally: Tally) -> None:
    """B and the other tenant's admin name A's session and A's workspace."""
    session = await world.object("session")
    workspace = await world.object("workspace")
    owner, refusal = await _sio_connect(world, "podplay", Caller.USER_A)
    second, _ = await _sio_connect(world, "podplay", Caller.USER_A)
    assert owner is not None, refusal
    assert second is not None
    try:
        await _join(owner, session)
        await _join(second, session)
        for caller in (Caller.USER_B, Caller.OTHER_ADMIN):
            intruder, refusal = await _sio_connect(world, "podplay", caller)
            assert intruder is not None, refusal
            try:
                found = await _intrude(
                    world,
                    owner,
                    second,
                    intruder,
                    session,
                    workspace,
                    same_tenant=caller is Caller.USER_B,
                )
            finally:
                await intruder.sio.disconnect()
            for row in rows:
                tally.record(str(row), caller, found.get(row.name))
    finally:
        await owner.sio.disconnect()
        await second.sio.disconnect()


async def _intrude(
    world: World,
    owner: EventClient,
    second: EventClient,
    intruder: EventClient,
    session: str,
    workspace: str,
    *,
    same_tenant: bool,
) -> dict[str, str | None]:
    """What reached the intruder (or A, from the intruder) that must not, by event name.

    Typing indicators are relayed among the tenant's clients that name the same session id
    (seed 000; tests/e2e/test_scale_out.py uses one as a marker across users): user B may
    hear A type, never A's answers; another tenant hears nothing at all."""
    found: dict[str, str | None] = {}
    await intruder.sio.emit("typing_indicator", {"session_id": session, "typing": True})
    # answered once the turn was refused, so after any room it joined on the way
    await intruder.sio.emit("mama_bear_message", {"message": "hi", "session_id": session})
    answer = await intruder.next("mama_bear_response")
    found["mama_bear_message"] = f"answered {answer}" if answer.get("success") else None
    await intruder.sio.emit(
        "terminal_input",
        {"workspace_id": workspace, "session_id": "t1", "command": "echo hello"},
    )
    output = await intruder.next("terminal_output")
    found["terminal_input"] = (
        None if output.get("success") is False and output.get("error_code") else f"{output}"
    )
    # A talks and types in the session: A's other client hears the typing (after the answer)
    await owner.sio.emit("mama_bear_message", {"message": f"{MARKER} again", "session_id": session})
    assert (await owner.next("mama_bear_response"))["success"] is True
    await owner.sio.emit("typing_indicator", {"session_id": session, "typing": True})
    await second.next("typing_indicator", session_id=session, typing=True)
    await intruder.sio.emit("mama_bear_message", {})  # answered after anything sent before
    await intruder.next("mama_bear_response")
    heard = [(event, data) for event, data in intruder.heard if event != "connected"]
    answers = [data for event, data in heard if event == "mama_bear_response" and data["success"]]
    if answers or MARKER in str(heard):
        found["mama_bear_message"] = f"A's answers reached the intruder: {heard}"
    typing = [data for event, data in heard if event == "typing_indicator"]
    crossed = [
        data
        for client in (owner, second)
        for event, data in client.heard
        if event == "typing_indicator" and data.get("user_id") != world.alice.user_id
    ]
    if not same_tenant and (typing or crossed):
        found["typing_indicator"] = f"typing crossed tenants: {typing or crossed}"
    owner.heard.clear()
    second.heard.clear()
    return found


async def run_sockets(world: World, rows: list[SocketRow], tally: Tally) -> None:
    platform = world.platform
    # MADACE's clients are accepted while the sync service runs; a refused one never is
    await platform.sync.start(
        admin(platform),
        port=free_port(),
        state_paths=["madace-data/workflow-states"],
        config_path="madace-data/config/config.yaml",
    )
    try:
        for row in rows:
            if row.kind == "websocket":
                await _websocket(world, row, tally)
            elif row.name == "connect":
                await _connect_row(world, row, tally)
        await _podplay_events(
            world, [r for r in rows if r.kind == "socket.io" and r.name != "connect"], tally
        )
    finally:
        with contextlib.suppress(Exception):
            await platform.sync.stop()
