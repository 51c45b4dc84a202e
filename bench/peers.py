"""The gateway benchmark with LiteLLM's proxy beside Menagerie, in the same run.

`python -m bench peers` (`make bench-peers`; not part of `make bench`) installs LiteLLM's proxy
(`litellm[proxy]`, pinned) into a virtual environment of its own under `.cache/bench-peers/`
the first time, then runs `bench/gateway.py` with one more target: the same fake upstream, the
same client, request, concurrencies and rounds, and `litellm JSON` / `litellm stream` rows
beside the gateway's, each compared with the direct call of the same run.

LiteLLM runs as a normal user would run it for a benchmark: `litellm --config ... --num_workers
1` on loopback, one model (`gpt-4o-mini` -> `openai/gpt-4o-mini` at the fake upstream's `/v1`),
a master key and no database, errors-only logging, the model cost map read from its package
instead of fetched, and an environment without proxies, provider keys or LiteLLM settings of
the caller's. Its CPU is its process's and its children's.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from bench import gateway
from bench.gateway import MODEL, PeerServer, Upstream, server_env, wait_upstream
from bench.middleware import REPO_ROOT, STOP_TIMEOUT_S, Server, free_port

TITLE = f"{gateway.TITLE}, beside LiteLLM's proxy"

LITELLM_VERSION = "1.106.12"  # the newest whose `proxy` extra resolves on PyPI (see README)
LITELLM_REQUIREMENT = f"litellm[proxy]=={LITELLM_VERSION}"
VENV = REPO_ROOT / ".cache" / "bench-peers" / "litellm"
STAMP = VENV / ".installed"
# its first start imports a large package tree; on the 2-core VM under load that is slow
READY_TIMEOUT_S = 180.0
# the anchor, from an earlier measurement on the development VM
ANCHOR = (
    "the issue's anchor, measured earlier: LiteLLM +176 ms p50 at 32, Menagerie about +22..+77 ms"
)

# a caller's LiteLLM settings, database or cache would change what is measured
_SCRUBBED_PREFIXES = ("LITELLM_", "AZURE_", "AWS_", "REDIS_", "OTEL_", "LANGFUSE_")
_SCRUBBED = {"DATABASE_URL", "DIRECT_URL", "OPENAI_API_BASE", "NO_PROXY"}


def installed() -> bool:
    """Whether the pinned LiteLLM is installed (the stamp names the requirement)."""
    return STAMP.is_file() and STAMP.read_text().strip() == LITELLM_REQUIREMENT


def install() -> None:
    """Create the virtual environment and install the pinned LiteLLM into it, unless done."""
    if installed():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        _progress(f"creating {VENV.relative_to(REPO_ROOT)}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    _progress(f"installing {LITELLM_REQUIREMENT} (a minute or two)")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, LITELLM_REQUIREMENT], check=True)
    STAMP.write_text(LITELLM_REQUIREMENT + "\n")
    _progress("installed")


def _progress(message: str) -> None:
    print(f"bench-peers: {message}", flush=True)


def litellm_config(upstream: Upstream, master_key: str) -> dict[str, object]:
    """One model routed to the fake upstream; the master key authenticates the client."""
    return {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": f"{upstream.base_url}/v1",
                    "api_key": upstream.key,
                },
            }
        ],
        "litellm_settings": {"set_verbose": False, "json_logs": False},
        "general_settings": {"master_key": master_key},
    }


def litellm_env() -> dict[str, str]:
    """The benchmark servers' scrubbed environment, less LiteLLM's own settings, plus the
    quiet, offline ones a benchmark would use."""
    env = {
        key: value
        for key, value in server_env({}).items()
        if not key.upper().startswith(_SCRUBBED_PREFIXES) and key.upper() not in _SCRUBBED
    }
    env.update(
        {
            "LITELLM_LOG": "ERROR",
            # no fetch of the price list from GitHub at import: this machine reaches none
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            # no .env read from the working directory
            "LITELLM_MODE": "PRODUCTION",
        }
    )
    return env


def stop_group(server: Server) -> None:
    """SIGTERM to the process group we started it in (it may have forked), then SIGKILL."""
    process = server.process
    if process.poll() is not None:
        return
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


@dataclass(frozen=True)
class LiteLLM:
    """LiteLLM's proxy as a peer of bench/gateway.py (see `bench.gateway.Peer`)."""

    name: str = "litellm"

    def start(self, stack: ExitStack, upstream: Upstream, workdir: Path) -> PeerServer:
        # LiteLLM refuses a master key that does not start with `sk-`
        master_key = f"sk-bench-{secrets.token_hex(16)}"
        config = workdir / "litellm.yaml"
        config.write_text(
            json.dumps(litellm_config(upstream, master_key), indent=2)
        )  # JSON is YAML
        server = self._spawn(config, workdir)
        stack.callback(stop_group, server)
        headers: Mapping[str, str] = {
            "Authorization": f"Bearer {master_key}",
            "Content-Type": "application/json",
        }
        return PeerServer(
            server, headers, lambda: wait_upstream(server, master_key, READY_TIMEOUT_S)
        )

    def _spawn(self, config: Path, workdir: Path) -> Server:
        port = free_port()
        log_path = workdir / f"{self.name}.log"
        command = [
            str(VENV / "bin" / "litellm"),
            "--config", str(config),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--num_workers", "1",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=litellm_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches us only; we stop its group ourselves
            )
        return Server(self.name, process, f"http://127.0.0.1:{port}", log_path)


def run() -> Table:
    install()
    return gateway.run(peers=(LiteLLM(),), title=TITLE, notes=(ANCHOR,), benchmark="peers")
