"""Installed MCP servers inside the sandbox backend, for real: `mcp-server-time` from PyPI and
`server-everything` from npm answer tool calls from inside bwrap, as a user of their own,
seeing their work directory as the only writable place, and leave nothing behind.

What the server can reach is checked from its own view: a shell entered into its mount
namespace as its user (nsenter) tries to read and write where the server could.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import psutil
import pytest

from menagerie.core.identity.models import Principal
from menagerie.core.sandboxes.backends import BwrapBackend
from menagerie.core.sandboxes.backends.base import ExecRequest
from menagerie.core.tools.models import Installation
from menagerie.core.tools.sandboxing import group_of, uid_of
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.utils.mcp_servers import descendants, eventually, pids_running, require_npm
from tests.utils.principals import admin

TIME = "mcp-server-time"
CANARY = "canary-sandboxed-env-7d3f0b2a9e"
ROOT = os.geteuid() == 0


def require_sandbox(platform: Platform) -> None:
    if platform.mcp.sandbox.backend is None:
        pytest.skip(f"no isolated sandbox backend here: {platform.sandboxes.backend.status()}")


async def install_and_wait(
    platform: Platform, principal: Principal, name: str, configuration: dict | None = None
) -> Installation:
    """Install, then wait (bounded) for the background install and the first start."""
    await platform.mcp.install(principal, name, configuration or {})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while (item := await platform.mcp.installation(principal, name)).status not in (
        "running",
        "failed",
    ):
        assert loop.time() < deadline, f"{name} is still {item.status}"
        await asyncio.sleep(0.05)
    assert item.status == "running", item.error
    return item


def server_pid(word: str) -> int:
    """The server's own process: the sandbox's wrappers never name it on their command line."""
    [pid] = pids_running(word)
    return pid


def as_the_server(pid: int, uid: int | None, script: str) -> str:
    """Run `script` in the server's mount namespace (and root), as the server's user."""
    user = ["--setuid", str(uid), "--setgid", str(uid)] if uid is not None else []
    done = subprocess.run(
        ["/usr/bin/nsenter", "--target", str(pid), "--mount", "--root", *user, "/bin/sh", "-c",
         script],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )  # fmt: skip
    return done.stdout


def left_behind(uid: int) -> list[int]:
    found = []
    for process in psutil.process_iter(["uids"]):
        uids = process.info["uids"]
        if uids is not None and uids.real == uid:
            found.append(process.pid)
    return found


async def test_pypi_server_runs_sandboxed(mcp_platform: Platform) -> None:
    require_sandbox(mcp_platform)
    if shutil.which("nsenter") is None:
        pytest.skip("nsenter (util-linux) is not installed")
    me = admin(mcp_platform)
    data_dir = mcp_platform.settings.resolved_data_dir
    secret = data_dir / "canary-secret.txt"
    secret.write_text(CANARY)
    item = await install_and_wait(mcp_platform, me, TIME, {"env": {"MY_API_TOKEN": CANARY}})
    assert item.isolation == "bwrap"

    result = await mcp_platform.mcp.execute(me, TIME, "get_current_time", {"timezone": "UTC"})
    assert not result.is_error
    assert result.content["timezone"] == "UTC"

    pid = server_pid(TIME)
    uid = uid_of(item.id) if ROOT else None
    if uid is not None:
        assert psutil.Process(pid).uids().real == uid
    for namespace in ("mnt", "pid", "net"):
        assert os.readlink(f"/proc/{pid}/ns/{namespace}") != os.readlink(
            f"/proc/self/ns/{namespace}"
        )
    # its configured variable reached it, and no command line anyone may read holds it
    assert CANARY in Path(f"/proc/{pid}/environ").read_text(errors="replace")
    assert not [p for p, command in descendants().items() if CANARY in command]

    workdir = mcp_platform.mcp.settings.root / item.id
    package = mcp_platform.mcp.installer.home(mcp_platform.mcp.catalog.get(TIME).packages[0])
    seen = as_the_server(
        pid,
        uid,
        f"cat {secret} 2>/dev/null && echo read-secret;"
        f" ls -A {data_dir};"  # only the way to its work directory
        f" (echo x > {package.path}/probe) 2>/dev/null && echo wrote-package;"
        f" (echo x > {data_dir}/probe) 2>/dev/null && echo wrote-data;"
        " (echo x > /probe) 2>/dev/null && echo wrote-root;"
        f" (echo x > {workdir}/probe) 2>/dev/null && echo wrote-workdir;"
        " exit 0",
    )
    assert seen.split() == ["mcp", "wrote-workdir"], seen
    assert (workdir / "probe").read_text() == "x\n"
    assert not (package.path / "probe").exists()

    await mcp_platform.mcp.uninstall(me, TIME)
    assert not pids_running(TIME)
    assert not [p for p, command in descendants().items() if "bwrap" in command]
    if uid is not None:
        assert left_behind(uid) == []
    backend = mcp_platform.sandboxes.backend
    if isinstance(backend, BwrapBackend):
        assert not [p for p in backend.launcher.cgroups.paths(group_of(item.id)) if p.exists()]


async def test_npm_server_runs_sandboxed(mcp_platform: Platform) -> None:
    require_npm()
    require_sandbox(mcp_platform)
    me = admin(mcp_platform)
    item = await install_and_wait(mcp_platform, me, "server-everything")
    assert item.isolation == "bwrap"
    [listed] = await mcp_platform.mcp.installations(me)
    assert listed.isolation == "bwrap"
    echoed = await mcp_platform.mcp.execute(me, "server-everything", "echo", {"message": "hi"})
    assert echoed.content == [{"type": "text", "text": "Echo: hi"}]
    pid = server_pid("mcp-server-everything")
    if ROOT:
        assert psutil.Process(pid).uids().real == uid_of(item.id)
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")

    # stopped, it says what it would run under; the sandbox goes with the session
    stopped = await mcp_platform.mcp.stop_server(me, "server-everything")
    assert (stopped.status, stopped.isolation) == ("stopped", "bwrap")
    assert not pids_running("mcp-server-everything")
    await mcp_platform.mcp.uninstall(me, "server-everything")
    if ROOT:
        assert left_behind(uid_of(item.id)) == []


async def test_sandbox_off_runs_servers_as_before(mcp_settings: Settings) -> None:
    platform = Platform.build(mcp_settings.model_copy(update={"mcp_sandbox": "off"}))
    await platform.start()
    try:
        me = admin(platform)
        item = await install_and_wait(platform, me, TIME)
        assert item.isolation == "none"
        pid = server_pid(TIME)
        assert psutil.Process(pid).uids().real == os.geteuid()
        assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
        await platform.mcp.uninstall(me, TIME)
        await eventually(lambda: not pids_running(TIME), within=10, what="the server to stop")
    finally:
        await platform.stop()


async def test_a_spawned_command_line_names_nothing_of_the_request(tmp_path: Path) -> None:
    """/proc/PID/cmdline is readable by every host user for as long as a server lives."""
    backend = BwrapBackend()
    if backend.bwrap is None or backend.launcher.missing:
        pytest.skip("bubblewrap or its tools are not installed")
    request = ExecRequest(
        argv=["/opt/some-server/bin/server-name", "--flag"],
        workspace=tmp_path,
        mount_point=str(tmp_path),
        cwd=str(tmp_path),
        env={"API_TOKEN": CANARY},
        uid=1_300_001 if ROOT else None,
        group="mcp-test-cmdline",
        ro_binds=(Path("/opt/some-server"),),
    )
    try:
        spawn = backend.spawn(request)
    finally:
        await backend.release(request.group)
    line = " ".join(spawn.argv)
    for word in (CANARY, "server-name", "/opt/some-server", str(tmp_path)):
        assert word not in line
    assert CANARY in " ".join(spawn.env.values())  # in its environment: root's eyes only
