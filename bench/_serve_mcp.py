"""The uvicorn factory for the MCP benchmark: Menagerie with its packages in a shared cache.

Settings come from `BENCH_*` variables only (no `.env`), so the run touches nothing else.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from pydantic import SecretStr


def create_menagerie() -> FastAPI:
    from menagerie.app import create_app
    from menagerie.platform import Platform
    from menagerie.settings import Settings

    settings = Settings(
        data_dir=os.environ["BENCH_DATA_DIR"],
        master_key=SecretStr(os.environ["BENCH_MASTER_KEY"]),
        mcp_packages_dir=os.environ["BENCH_PACKAGES_DIR"],
        log_level="WARNING",
        # no llama.cpp build in the background of a measurement (minutes of both cores)
        local_model="off",
        rate_limits_enabled=False,  # the load would trip PodPlay's 25/minute MCP limit
        _env_file=None,
    )
    return create_app(platform=Platform.build(settings))
