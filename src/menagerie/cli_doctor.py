"""`menagerie doctor` (what is configured, what is missing) and `menagerie local-model`."""

from __future__ import annotations

import asyncio
import contextlib
import shutil

import typer
from rich.console import Console
from rich.table import Table

from menagerie import __version__
from menagerie.settings import Settings


async def broker_ok(settings: Settings) -> tuple[bool, str]:
    """Connects to the runs' broker as a server would (the URL's password is never shown)."""
    from menagerie.core.runs.broker import broker_kind, create_broker

    kind = broker_kind(settings.broker_url)
    broker = create_broker(settings.broker_url, concurrency=1, queue=settings.broker_queue)
    try:
        async with asyncio.timeout(5):
            await broker.startup()
            if kind == "redis":
                await broker.connection_pool.get_connection("PING")  # type: ignore[attr-defined]
        return True, f"{kind}, queue {settings.broker_queue}"
    except Exception as exc:
        return False, f"{kind}: {type(exc).__name__}"
    finally:
        with contextlib.suppress(Exception):
            await broker.shutdown()


def doctor() -> None:
    """Show what is configured and what is missing."""
    from menagerie.core.errors import Unavailable
    from menagerie.storage.database import Database

    settings = Settings()
    table = Table(title=f"Menagerie {__version__}")
    table.add_column("check")
    table.add_column("state")
    table.add_column("detail")

    def row(name: str, ok: bool | None, detail: str, label: str | None = None) -> None:
        state = {
            True: "[green]ok[/green]",
            False: "[red]missing[/red]",
            None: f"[yellow]{label or 'off'}[/yellow]",
        }
        table.add_row(name, state[ok], detail)

    async def database_ok() -> tuple[bool, str]:
        database = Database(settings.effective_database_url, connect_timeout=3)
        try:
            latency = await database.ping()
            return True, f"{database.backend}, {latency * 1000:.1f} ms"
        except Unavailable as exc:
            return False, f"{database.backend}: {type(exc.__cause__).__name__}"
        finally:
            await database.dispose()

    async def redis_ok(url: str) -> tuple[bool, str]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(url, socket_connect_timeout=3)
        try:
            await client.ping()
            return True, "reachable"
        except Exception as exc:
            return False, type(exc).__name__
        finally:
            await client.aclose()

    row("data directory", settings.resolved_data_dir.exists(), str(settings.resolved_data_dir))
    ok, detail = asyncio.run(database_ok())
    row("database", ok, detail)
    if settings.redis_url:
        ok, detail = asyncio.run(redis_ok(settings.redis_url))
        row("redis", ok, detail)
    else:
        row("redis", None, "not set: in-process event bus (one server process)")
    if settings.broker_url:
        ok, detail = asyncio.run(broker_ok(settings))
        row("runs broker", ok, detail)
    else:
        row("runs broker", None, "not set: in-memory broker, the server executes runs")
    from menagerie.core.sandboxes.backends import BwrapBackend

    bwrap = BwrapBackend().check()  # a real sandboxed command, as the server runs it at start
    held = ", ".join(f"{k} by {v}" for k, v in bwrap.limits.items() if v)
    row(
        "sandboxes (bubblewrap)",
        bwrap.available,
        f"works; {held}"
        if bwrap.available
        else f"{bwrap.reason}: sandboxes use the weaker process backend "
        "(default tenant only unless MENAGERIE_SANDBOX_ALLOW_WEAK=true)",
    )
    npm = shutil.which("npm")
    row(
        "node.js / npm",
        bool(npm and shutil.which("node")),
        npm or "not installed: npm MCP servers cannot be installed (PyPI and remote ones can)",
    )
    for provider, ready in settings.configured_providers().items():
        row(f"provider {provider}", ready if ready else None, "configured" if ready else "no key")
    row(*_local_model_row(settings))
    missing = settings.missing_env()
    row("required settings", not missing, ", ".join(missing) or "all present")
    row("dev mode", None if not settings.dev_mode else True, "on" if settings.dev_mode else "off")
    Console().print(table)


def _local_model_row(settings: Settings) -> tuple[str, bool | None, str, str | None]:
    from menagerie.core.llm.local.runtime import LocalRuntime
    from menagerie.core.llm.local.service import LocalModel

    local = LocalModel(settings)
    status = local.status()
    name = f"local model ({status.model})" if status.model else "local model"
    if status.state == "off":
        return name, None, status.detail, None
    if status.state == "preparing" and local.runtime.status().state == "absent":
        problem = LocalRuntime.preflight()
        if problem is not None:
            return name, False, f"{problem}; the offline model answers instead", None
        detail = "not built yet: the server builds it in the background at start"
        return name, None, detail, "not built"
    if status.state == "preparing":
        return name, None, status.detail, "building"
    return name, status.state == "ready", status.detail, None


def local_model() -> None:
    """Build the embedded model's runtime now (the server otherwise does it in the background)."""
    from menagerie.core.llm.local.runtime import LocalRuntime, RuntimeStatus
    from menagerie.core.llm.local.service import LocalModel

    settings = Settings()
    local = LocalModel(settings)
    if local.path is None:
        typer.echo(f"local model: {local.status().detail}", err=True)
        raise typer.Exit(1)

    def show(status: RuntimeStatus) -> None:
        typer.echo(f"local model: {status.describe()}")

    runtime = LocalRuntime(local.root, index_url=settings.mcp_pip_index_url, on_change=show)
    status = asyncio.run(runtime.prepare())
    show(status)
    if status.state != "ready":
        raise typer.Exit(1)
