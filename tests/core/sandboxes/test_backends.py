"""Both backends run a command the same way: output, exit codes, cwd, environment, limits."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from menagerie.core.sandboxes.backends import BwrapBackend, ProcessBackend, select_backend
from menagerie.core.sandboxes.backends.base import Backend, ExecRequest
from menagerie.core.sandboxes.backends.bwrap import NOT_INSTALLED
from menagerie.core.sandboxes.backends.cgroups import Cgroup, Cgroups
from menagerie.core.sandboxes.backends.launcher import Launcher
from tests.core.sandboxes.support import (
    MOUNT,
    SMALL,
    Layout,
    layout,
    marker,
    processes_with,
    require_bwrap,
    require_root,
)


@pytest.fixture
def box() -> Iterator[Layout]:
    with layout() as made:
        yield made


@pytest.fixture(params=["bwrap", "process"])
async def backend(request: pytest.FixtureRequest, box: Layout) -> AsyncIterator[Backend]:
    chosen: Backend
    if request.param == "bwrap":
        require_bwrap()
        chosen = BwrapBackend()
    else:
        chosen = ProcessBackend()
    status = await chosen.self_test()
    assert status.available, status.reason
    yield chosen
    await chosen.release(box.request(["true"]).group)


async def test_output_and_exit_code(backend: Backend, box: Layout) -> None:
    outcome = await backend.run(box.request(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]))
    assert (outcome.stdout, outcome.stderr, outcome.exit_code) == ("out\n", "err\n", 3)
    assert not outcome.timed_out
    assert not outcome.truncated


async def test_killed_by_a_signal(backend: Backend, box: Layout) -> None:
    outcome = await backend.run(box.request(["/bin/sh", "-c", "kill -9 $$"]))
    # bwrap reports its command's death by signal N the way a shell does: 128 + N
    assert outcome.exit_code == (137 if backend.name == "bwrap" else -9)


async def test_cwd_is_inside_the_workspace(backend: Backend, box: Layout) -> None:
    sub = box.workspace / "sub"
    sub.mkdir()
    if box.uid is not None:
        os.chown(sub, box.uid, box.uid)
    outcome = await backend.run(
        box.request(["/bin/sh", "-c", "pwd; echo hi > made"], cwd=f"{MOUNT}/sub")
    )
    assert outcome.exit_code == 0, outcome.stderr
    inside = f"{MOUNT}/sub" if backend.name == "bwrap" else str(sub)
    assert outcome.stdout == f"{inside}\n"
    assert (sub / "made").read_text() == "hi\n"


async def test_environment_is_only_the_sandboxes(
    backend: Backend, box: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MENAGERIE_SERVER_SECRET", "hunter2")
    outcome = await backend.run(box.request(["/usr/bin/env"], env={"GREETING": "hello world"}))
    assert outcome.exit_code == 0, outcome.stderr
    variables = dict(line.split("=", 1) for line in outcome.stdout.splitlines())
    assert variables["GREETING"] == "hello world"
    assert variables["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert "MENAGERIE_SERVER_SECRET" not in variables
    assert "hunter2" not in outcome.stdout


async def test_stdin_is_given(backend: Backend, box: Layout) -> None:
    outcome = await backend.run(box.request(["/bin/cat"], stdin=b"from stdin"))
    assert outcome.stdout == "from stdin"


async def test_timeout_kills_the_command_and_its_children(backend: Backend, box: Layout) -> None:
    mark = marker()
    argv = ["/bin/sh", "-c", f"sleep {mark} & sleep {mark} & echo started; wait"]
    outcome = await backend.run(box.request(argv, timeout_s=0.5))
    assert outcome.timed_out
    assert outcome.exit_code == 124
    assert outcome.stdout == "started\n"  # what it wrote before the timeout is kept
    assert processes_with(mark) == []


async def test_background_children_do_not_outlive_the_command(
    backend: Backend, box: Layout
) -> None:
    mark = marker()
    outcome = await backend.run(box.request(["/bin/sh", "-c", f"sleep {mark} & echo left"]))
    assert outcome.stdout == "left\n"
    assert not outcome.timed_out
    assert processes_with(mark) == []


async def test_output_past_the_cap_is_cut(backend: Backend, box: Layout) -> None:
    limits = replace(SMALL, output_bytes=10)
    argv = ["/bin/sh", "-c", "printf 0123456789abcdef; printf é >&2"]
    outcome = await backend.run(box.request(argv, limits=limits))
    assert outcome.stdout == "0123456789"
    assert outcome.stderr == "é"
    assert outcome.truncated
    assert outcome.exit_code == 0


async def test_invalid_environment_names_are_refused(backend: Backend, box: Layout) -> None:
    with pytest.raises(ValueError, match="environment variable name"):
        await backend.run(box.request(["/bin/true"], env={"-i": "x"}))


async def test_release_kills_what_a_terminal_left_running(box: Layout) -> None:
    require_root()
    backend = ProcessBackend()
    group = box.request(["true"]).group
    mark = marker()
    argv = backend.argv(box.request(["/bin/sh", "-c", f"setsid sleep {mark} & echo up; wait"]))
    # a terminal starts the command line itself; its escaped child is found by its cgroup
    process = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert await process.stdout.readline() == b"up\n"
    await backend.release(group)
    await process.wait()
    assert processes_with(mark) == []
    assert not any(path.exists() for path in backend.launcher.cgroups.paths(group))


def test_status_names_how_each_limit_holds() -> None:
    status = ProcessBackend().status()
    assert status.strength == "weak"
    assert status.available
    assert status.limits["network"] is None
    expected = {"memory", "processes", "cpu_time", "file_size", "open_files", "vcpus"}
    assert expected | {"network", "filesystem", "user"} <= set(status.limits)


def test_bwrap_missing_is_reported() -> None:
    status = BwrapBackend(bwrap="/nonexistent/bwrap").status()
    assert not status.available
    assert status.reason == NOT_INSTALLED


def test_a_bwrap_that_does_not_work_fails_closed() -> None:
    status = BwrapBackend(bwrap="/bin/false").check()
    assert not status.available
    assert status.reason is not None
    assert "self-test failed" in status.reason


def test_auto_prefers_bwrap_and_falls_back_to_process() -> None:
    chosen = select_backend("auto")
    assert chosen.name in ("bwrap", "process")
    if chosen.name == "process":
        require_bwrap()  # bwrap is here but failed its self-test: say why
        pytest.fail(f"bwrap is installed but unusable: {BwrapBackend().check().reason}")
    assert chosen.status().available
    assert select_backend("process").name == "process"
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        select_backend("docker")


def test_without_cgroups_nothing_claims_them(tmp_path: Path) -> None:
    cgroups = Cgroups(mount=tmp_path / "none", self_cgroup=tmp_path / "none")
    assert cgroups.controllers == frozenset()
    assert cgroups.leaf("sandbox", SMALL) is None
    status = ProcessBackend(Launcher(cgroups)).status()
    assert status.limits["vcpus"] is None
    assert status.limits["memory"] == "rlimit"


async def test_a_cgroup_that_cannot_be_joined_stops_the_command(box: Layout) -> None:
    backend = ProcessBackend()
    unjoinable = Cgroup((box.base / "no-such-cgroup",))

    def build(request: ExecRequest, _: Cgroup | None) -> list[str]:
        return backend._command(request, unjoinable)

    outcome = await backend.launcher.run(box.request(["/bin/echo", "ran"]), build)
    assert outcome.exit_code == 125
    assert "ran" not in outcome.stdout
    await backend.release(box.request(["true"]).group)


async def test_each_command_gets_a_leaf_of_its_sandboxes_cgroup(box: Layout) -> None:
    require_root()
    cgroups = Cgroups()
    if "pids" not in cgroups.controllers:
        pytest.skip("no pids cgroup can be made on this machine")
    backend = ProcessBackend(Launcher(cgroups))
    outcome = await backend.run(box.request(["/bin/cat", "/proc/self/cgroup"]))
    group = box.request(["true"]).group
    assert f"/menagerie/{group}/run-" in outcome.stdout
    assert cgroups.paths(group)
    await backend.release(group)
    assert not any(path.exists() for path in cgroups.paths(group))
