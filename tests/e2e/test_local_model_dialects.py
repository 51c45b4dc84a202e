"""A real chat turn through every dialect, answered by the embedded model (SmolLM2-135M-Instruct
on llama.cpp) over a real HTTP server: PodPlay's Mama Bear, MADACE chat v3, a Secret Panther's
agent, Metamorph's sandbox agent, Crazy Gary and the OpenAI-compatible API. Each turn must be
the local model's (a new `local` row in the usage ledger, never the offline echo) and must
carry its dialect's documented fields. One platform, on SQLite, serves the whole module."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt as pyjwt
import openai
import pytest
import pytest_asyncio
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from sqlalchemy import select

from menagerie.app import create_app
from menagerie.core.clock import utcnow
from menagerie.core.llm.tables import UsageRow
from menagerie.platform import Platform
from tests.dialects.panthers.conftest import Env
from tests.utils.http import bearer
from tests.utils.local_model import local_settings, wait_for_runtime
from tests.utils.server import serve

pytestmark = [pytest.mark.local_model, pytest.mark.asyncio(loop_scope="module")]

MASTER_KEY = "test-master-key-0123456789abcdef"  # local_settings' master key
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
LOCAL_MODEL = "smollm2-135m-instruct"
OFFLINE = "[offline model]"
VAULT_SECRET = "metamorph-vault-secret-0123456789abcdef"
NFT = "77"


@dataclass
class Live:
    url: str
    client: httpx.AsyncClient  # no credentials of its own: each test adds its dialect's
    platform: Platform
    holder: LocalAccount  # the wallet holding NFT `NFT`


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    await wait_for_runtime()
    home = tmp_path_factory.mktemp("local-dialects")
    (home / "data").mkdir()
    holder = Account.create()
    owners = home / "owners.json"
    owners.write_text(json.dumps({NFT: holder.address}))
    settings = local_settings(
        home / "data",
        f"sqlite+aiosqlite:///{home / 'menagerie.db'}",
        rate_limits_enabled=False,
        nft_owners_file=owners,
        vault_jwt_secret=SecretStr(VAULT_SECRET),
    )
    platform = Platform.build(settings)
    await platform.start()
    try:
        assert await platform.local.wait_ready(120), platform.local.status()
        async with (
            serve(create_app(platform=platform)) as url,
            httpx.AsyncClient(base_url=url, timeout=120) as client,
        ):
            yield Live(url, client, platform, holder)
    finally:
        await platform.stop()


async def local_calls(platform: Platform) -> list[UsageRow]:
    """The usage ledger's successful calls to the local provider, oldest first."""
    await platform.llm.ledger.flush()
    async with platform.database.session() as session:
        rows = (await session.scalars(select(UsageRow).where(UsageRow.provider == "local"))).all()
    return sorted((row for row in rows if row.outcome == "ok"), key=lambda row: row.created_at)


class LocalTurn:
    """Asserts that what ran inside it called the local model; `rows` are those calls."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.before: set[str] = set()
        self.rows: list[UsageRow] = []

    async def __aenter__(self) -> LocalTurn:
        self.before = {row.id for row in await local_calls(self.platform)}
        return self

    async def __aexit__(self, kind: object, *_: object) -> None:
        if kind is not None:
            return
        self.rows = [row for row in await local_calls(self.platform) if row.id not in self.before]
        assert self.rows, "the turn made no call to the local model"


def assert_local_text(text: Any) -> None:
    assert isinstance(text, str)
    assert text.strip(), "the answer is empty"
    assert not text.startswith(OFFLINE), text
    assert OFFLINE not in text


async def sse_events(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200, (await response.aread()).decode()
    assert response.headers["content-type"].startswith("text/event-stream")
    events: list[Any] = []
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            payload = line.removeprefix("data: ")
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


async def test_podplay_mama_bear(live: Live) -> None:
    async with LocalTurn(live.platform) as turn:
        response = await live.client.post(
            "/podplay/api/chat/mama-bear",
            json={
                "user_id": "nathan_sanctuary",
                "message": "Say hello in one short sentence.",
                "session_id": "sess_local",
                "stream": False,
            },
            headers=AUTH,
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {
        "success",
        "response",
        "session_id",
        "message_id",
        "model_used",
        "tokens_used",
        "cost",
        "timestamp",
        "metadata",
    }
    assert answer["success"] is True
    assert_local_text(answer["response"])
    assert answer["session_id"] == "sess_local"
    assert answer["model_used"] == LOCAL_MODEL
    assert answer["tokens_used"] > 0
    assert answer["cost"] == 0.0
    assert answer["timestamp"]
    assert answer["metadata"]["context_used"] is False

    # the turn's usage: the local provider, its model, its own token counts, free (the
    # answer is the first call; memory extraction may make a second one after it)
    for row in turn.rows:
        assert (row.provider, row.model, row.cost) == ("local", LOCAL_MODEL, 0.0)
    answered = turn.rows[0]
    assert answered.input_tokens > 0
    assert answered.output_tokens > 0
    assert answer["tokens_used"] == answered.input_tokens + answered.output_tokens

    history = await live.client.get(
        "/podplay/api/chat/history", params={"user_id": "nathan_sanctuary"}, headers=AUTH
    )
    newest = history.json()["messages"][0]
    assert newest["ai_response"] == answer["response"]
    assert newest["model_used"] == LOCAL_MODEL


async def test_madace_chat_v3_stream(live: Live) -> None:
    base = "/madace/api/v3/chat"
    created = await live.client.post(
        f"{base}/sessions",
        json={"userId": "default-user", "agentId": "chat-assistant-001"},
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    session = created.json()["session"]
    posted = await live.client.post(
        f"{base}/sessions/{session['id']}/messages",
        json={"role": "user", "content": "Say hello in one short sentence."},
        headers=AUTH,
    )
    assert posted.status_code == 201, posted.text
    async with (
        LocalTurn(live.platform),
        live.client.stream(
            "POST",
            f"{base}/stream",
            json={"sessionId": session["id"], "agentId": "chat-assistant-001"},
            headers=AUTH,
        ) as response,
    ):
        events = await sse_events(response)
    assert events[-1] == "[DONE]"
    assert not [e for e in events if isinstance(e, dict) and e["type"] == "error"], events
    chunks = [e["content"] for e in events if isinstance(e, dict) and e["type"] == "chunk"]
    assert chunks
    assert_local_text("".join(chunks))

    messages = (
        await live.client.get(f"{base}/sessions/{session['id']}/messages", headers=AUTH)
    ).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "agent"]
    reply = messages[1]
    assert set(reply) == {
        "id",
        "sessionId",
        "role",
        "content",
        "replyToId",
        "timestamp",
        "metadata",
    }
    assert reply["content"] == "".join(chunks).strip()
    assert reply["metadata"]["model"] == LOCAL_MODEL
    assert reply["metadata"]["tokens"] > 0


async def test_secret_panthers_agent_chat(live: Live) -> None:
    panthers = Env(live.client, live.url, live.platform)
    mine = await panthers.agent_sign_in(live.holder, NFT)
    info = (await live.client.get(f"/panthers/agents/{NFT}/info")).json()
    assert info["model"] == LOCAL_MODEL
    async with LocalTurn(live.platform):
        response = await live.client.post(
            f"/panthers/agents/{NFT}/chat",
            json={"message": "Say hello in one short sentence."},
            headers=mine,
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"response", "conversation_id", "timestamp", "tokens_used"}
    assert_local_text(answer["response"])
    assert answer["conversation_id"]
    assert answer["timestamp"]
    assert answer["tokens_used"] > 0
    history = (
        await live.client.get(
            f"/panthers/agents/{NFT}/chat/history",
            params={"conversation_id": answer["conversation_id"]},
            headers=mine,
        )
    ).json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]


def vault(vault_id: str) -> dict[str, str]:
    now = utcnow()
    claims = {"vaultId": vault_id, "sub": "someone", "iat": now, "exp": now + timedelta(minutes=5)}
    return bearer(pyjwt.encode(claims, VAULT_SECRET, algorithm="HS256"))


async def test_metamorph_sandbox_agent_chat(live: Live) -> None:
    # Metamorph's sessions keep no messages of their own: its chat is the sandbox's agent
    mine = vault("local-vault")
    base = "/metamorph/api/sandboxes"
    created = await live.client.post(base, json={"name": "local-chat"}, headers=mine)
    assert created.status_code == 201, created.text
    sandbox_id = created.json()["id"]
    started = await live.client.post(f"{base}/{sandbox_id}/start", headers=mine)
    assert started.status_code == 200, started.text
    attached = await live.client.post(f"{base}/{sandbox_id}/agent/attach", json={}, headers=mine)
    assert attached.status_code == 200, attached.text
    async with LocalTurn(live.platform):
        response = await live.client.post(
            f"{base}/{sandbox_id}/agent/chat",
            json={"message": "Say hello in one short sentence."},
            headers=mine,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"response", "sessionId", "executionTimeMs"}
    reply = body["response"]
    assert set(reply) == {"message", "userMessage", "sessionId", "sandboxId", "timestamp"}
    assert_local_text(reply["message"])
    assert reply["userMessage"] == "Say hello in one short sentence."
    assert reply["sandboxId"] == sandbox_id
    assert reply["sessionId"] == body["sessionId"] == attached.json()["sessionId"]
    assert body["executionTimeMs"] >= 0
    await live.client.delete(f"{base}/{sandbox_id}", headers=mine)


async def test_crazy_gary_chat(live: Live) -> None:
    registered = await live.client.post(
        "/gary/api/auth/register",
        json={"email": "local@example.com", "password": "Correct-Horse-Battery-9", "name": "Fan"},
    )
    assert registered.status_code == 201, registered.text
    me = bearer(registered.json()["token"])
    async with LocalTurn(live.platform):
        response = await live.client.post(
            "/gary/api/chat", json={"message": "Say hello in one short sentence."}, headers=me
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"response", "task_id"}
    assert_local_text(body["response"])
    task = (await live.client.get(f"/gary/api/tasks/{body['task_id']}", headers=me)).json()
    assert task["status"] == "completed"
    assert task["result"]["response"] == body["response"]
    assert task["model"] == LOCAL_MODEL
    assert task["error"] is None


async def test_openai_chat_completions(live: Live) -> None:
    # `model` is required, as OpenAI requires it: the local model's id
    async with LocalTurn(live.platform) as turn:
        response = await live.client.post(
            "/v1/chat/completions",
            json={
                "model": LOCAL_MODEL,
                "messages": [{"role": "user", "content": "Say hello."}],
                "max_tokens": 24,
            },
            headers=AUTH,
        )
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["object"] == "chat.completion"
    assert done["model"] == LOCAL_MODEL
    assert done["id"]
    choice = done["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert_local_text(choice["message"]["content"])
    assert choice["finish_reason"] in ("stop", "length")
    usage = done["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert 0 < usage["completion_tokens"] <= 24
    assert turn.rows[-1].input_tokens == usage["prompt_tokens"]
    assert turn.rows[-1].output_tokens == usage["completion_tokens"]


async def test_openai_sdk_streams_from_the_local_model(live: Live) -> None:
    async with (
        openai.AsyncOpenAI(
            base_url=f"{live.url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=120
        ) as sdk,
        LocalTurn(live.platform),
    ):
        stream = await sdk.chat.completions.create(
            model=LOCAL_MODEL,
            messages=[{"role": "user", "content": "Name a colour."}],
            max_tokens=16,
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces, usage, named = [], None, set()
        async for chunk in stream:
            named.add(chunk.model)
            if chunk.usage is not None:
                usage = chunk.usage
            pieces += [c.delta.content for c in chunk.choices if c.delta.content]
        models = {m.id: m async for m in sdk.models.list()}
    assert named == {LOCAL_MODEL}
    assert len(pieces) > 1  # streamed token by token
    assert_local_text("".join(pieces))
    assert usage is not None
    assert 0 < usage.completion_tokens <= 16
    assert models[LOCAL_MODEL].owned_by == "local"
