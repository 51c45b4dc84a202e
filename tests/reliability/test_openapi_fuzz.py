"""Schemathesis fuzzes every dialect's OpenAPI document against a real server with all of its
checks: whatever it sends, authenticated, nothing answers a server error, a status the
document does not list, or a body that does not fit the documented schema."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from menagerie.app import create_app
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.server import serve

SCHEMATHESIS = shutil.which("st", path=str(Path(sys.executable).parent))
# what the documents cannot say, each entry with its reason
CONFIG = Path(__file__).with_name("schemathesis.toml")
KEY = "fuzz-master-key-0123456789abcdef"
# documented to answer 500 when the provider cannot be reached, which the fuzzer's
# made-up keys and models make it every time
DOCUMENTED_500 = {"madace": ["/api/llm/test"]}
# a stream that lasts as long as the page is open: nothing for a fuzzer to finish
ENDLESS = {"console": ["/events"]}
SPECS = {
    "podplay": "/podplay/openapi.json",
    "madace": "/madace/openapi.json",
    "panthers": "/panthers/openapi.json",
    "metamorph": "/metamorph/openapi.json",
    "gary": "/gary/openapi.json",
    "openai": "/v1/openapi.json",
    "console": "/console/api/openapi.json",
}

pytestmark = pytest.mark.skipif(SCHEMATHESIS is None, reason="schemathesis is not installed")


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(
        data_dir=tmp_path / "data",
        master_key=KEY,
        offline_token_delay_ms=0,
        rate_limits_enabled=False,
        llm_timeout_s=2.0,
        llm_retries=0,
        # each Panthers deploy starts a real agent process: one at a time keeps the run short
        deployments_max_local=1,
        _env_file=None,
    )
    async with serve(create_app(platform=Platform.build(settings))) as url:
        yield url


@pytest.mark.parametrize("dialect", list(SPECS))
async def test_fuzzing_finds_no_server_error(base_url: str, dialect: str) -> None:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}{SPECS[dialect]}",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {KEY}",
        # bounded per operation: the suite's time grows with every route a dialect gains (the
        # coverage phase's boundary cases come on top, whatever this says)
        "--max-examples",
        "5",
        "--generation-deterministic",
        "--request-timeout",
        "10",
    ]
    for path in DOCUMENTED_500.get(dialect, []) + ENDLESS.get(dialect, []):
        command += ["--exclude-path", path]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    text = output.decode(errors="replace")
    # a dialect whose routes have not landed yet has nothing to fuzz (exit code 0 or "no ops")
    if "defines no API operations" in text:
        pytest.skip(f"{dialect} has no operations yet")
    assert process.returncode == 0, text[-4000:]
    _record(dialect, text)


def _record(dialect: str, text: str) -> None:
    """The run's figures for the README (`MENAGERIE_RELIABILITY_DIR`): cases run, failures."""
    folder = os.environ.get("MENAGERIE_RELIABILITY_DIR")
    cases = re.search(r"(\d+) generated", text)
    if not folder or cases is None:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    figures = {"dialect": dialect, "cases": int(cases.group(1)), "failures": 0}
    (Path(folder) / f"fuzz-{dialect}.json").write_text(json.dumps(figures))
