"""A platform whose MCP packages come from the shared test cache and whose health checks are
quick, so that a killed server is noticed within a second."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.mcp_servers import PACKAGES_DIR


@pytest.fixture
def mcp_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "mcp_packages_dir": PACKAGES_DIR,
            "mcp_health_interval_s": 0.3,
            "offline_token_delay_ms": 0,
        }
    )


@pytest.fixture
async def mcp_platform(mcp_settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.build(mcp_settings)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()
