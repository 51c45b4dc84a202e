"""uvicorn factories for the gateway benchmark, each run in a process of its own.

- `create_fake_llm`: the test suite's fake OpenAI upstream with a fixed latency before every
  answer (`BENCH_FAKE_KEY`, `BENCH_FAKE_LATENCY_S`). It keeps no record of the requests, so
  that a long run does not grow its memory.
- `create_gateway`: Menagerie pointed at that upstream as provider `openai`, with settings
  passed explicitly (`BENCH_*`), no `.env` file, and the SQLite database in
  `BENCH_DATA_DIR`.

The parent (`bench/gateway.py`) strips every `MENAGERIE_*` variable and provider key from
the environment before it starts these, so nothing but the upstream can be reached.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr
from tests.utils.fake_llm import FakeLLM


class _Discard(list[Any]):
    """A request log that forgets: the fake appends every request it records."""

    def append(self, _: Any) -> None:
        return None


def create_fake_llm() -> FastAPI:
    fake = FakeLLM(
        api_key=os.environ["BENCH_FAKE_KEY"],
        latency_s=float(os.environ["BENCH_FAKE_LATENCY_S"]),
    )
    fake.requests = _Discard()
    return fake.app


def create_gateway() -> FastAPI:
    from menagerie.app import create_app
    from menagerie.platform import Platform
    from menagerie.settings import Settings

    settings = Settings(
        data_dir=os.environ["BENCH_DATA_DIR"],
        master_key=SecretStr(os.environ["BENCH_MASTER_KEY"]),
        openai_api_key=SecretStr(os.environ["BENCH_FAKE_KEY"]),
        openai_base_url=os.environ["BENCH_OPENAI_BASE_URL"],
        llm_primary_model=os.environ["BENCH_MODEL"],
        offline_token_delay_ms=0,
        log_level="WARNING",
        # no llama.cpp build in the background of a measurement (minutes of both cores)
        local_model="off",
        # the load would trip /v1's 1000/min: the bench measures the gateway, not 429s
        rate_limits_enabled=False,
        # bench/instrumentation.py: the same gateway with metrics and tracing on, and off
        metrics_enabled=os.environ.get("BENCH_INSTRUMENTATION", "on") == "on",
        tracing_enabled=os.environ.get("BENCH_INSTRUMENTATION", "on") == "on",
        _env_file=None,
    )
    return create_app(platform=Platform.build(settings))
