"""The `menagerie` command: serve, worker, migrate, doctor, version, maintenance."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from menagerie import __version__, cli_doctor
from menagerie.core.clock import iso
from menagerie.settings import DIALECTS, Settings

if TYPE_CHECKING:
    from menagerie.core.identity.tokens import ApiTokenService

T = TypeVar("T")

app = typer.Typer(help="Menagerie: a self-hosted AI agent server.", no_args_is_help=True)
console = Console(stderr=True)

ROOT_DIALECTS = [name for name in DIALECTS if name != "openai"]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    dialect: Annotated[
        str | None, typer.Option(help=f"also mount one dialect at / ({', '.join(ROOT_DIALECTS)})")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="worker processes on the one port (MENAGERIE_WORKERS); default: one per core "
            "when MENAGERIE_REDIS_URL is set, else one. More than one needs Redis",
            show_default=False,
        ),
    ] = None,
    dev: Annotated[bool, typer.Option("--dev", help="dev mode: no auth needed")] = False,
    reload: Annotated[bool, typer.Option("--reload", help="restart on code changes")] = False,
) -> None:
    """Run the server (migrations first, unless MENAGERIE_MIGRATE_ON_START=false)."""
    import uvicorn

    from menagerie import serving

    if dialect is not None and dialect not in ROOT_DIALECTS:
        raise typer.BadParameter(f"unknown dialect {dialect!r}", param_hint="--dialect")
    # through the environment, so that a --reload child process builds the same settings
    if dialect:
        os.environ["MENAGERIE_ROOT_DIALECT"] = dialect
    if dev:
        os.environ["MENAGERIE_DEV_MODE"] = "true"
    settings = Settings()
    try:
        plan = serving.plan(settings, workers, reload=reload)
    except serving.WorkersRefused as refused:
        hint = "--workers" if workers is not None else "MENAGERIE_WORKERS"
        raise typer.BadParameter(str(refused), param_hint=hint) from None
    host, port = host or settings.host, port or settings.port
    console.print(
        f"menagerie serve: {plan.line}, on {host}:{port}", soft_wrap=True, highlight=False
    )
    _database_reachable_or_exit(settings)
    serve_id = None
    if plan.workers > 1:
        # what N workers starting together would race on is done here once; the workers
        # (spawned: they read the environment as it is now) skip it and know their number
        try:
            asyncio.run(serving.prepare_once(settings))
        except Exception as exc:  # a CLI answers with a sentence, not a traceback
            console.print(f"[red]cannot start:[/red] {type(exc).__name__}: {exc}")
            raise typer.Exit(1) from None
        serve_id = serving.new_serve_id()
        os.environ.update(
            {
                "MENAGERIE_MIGRATE_ON_START": "false",
                "MENAGERIE_WORKERS": str(plan.workers),
                serving.SERVE_ID_VARIABLE: serve_id,
            }
        )
    try:
        uvicorn.run(
            "menagerie.app:create_app",
            factory=True,
            host=host,
            port=port,
            reload=reload,
            workers=plan.workers,
            log_level=settings.log_level.lower(),
            proxy_headers=True,
            server_header=False,
        )
    finally:
        if serve_id is not None:
            serving.forget(settings, serve_id)


def _database_reachable_or_exit(settings: Settings) -> None:
    """Fail with one clear sentence, not a startup traceback, when the database is down."""
    from menagerie.core.errors import Unavailable
    from menagerie.core.redact import Redactor
    from menagerie.storage.database import Database

    async def check() -> None:
        database = Database(
            settings.effective_database_url, connect_timeout=settings.database_connect_timeout
        )
        try:
            await database.ping()
        finally:
            await database.dispose()

    try:
        asyncio.run(check())
    except Unavailable as exc:
        where = Redactor()(settings.effective_database_url)
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "unreachable"
        console.print(f"[red]cannot start:[/red] database {where} is unreachable ({cause})")
        raise typer.Exit(1) from None


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="runs executed at once (MENAGERIE_WORKER_CONCURRENCY)")
    ] = None,
) -> None:
    """Execute runs from the broker that MENAGERIE_BROKER_URL names, until stopped."""
    from menagerie.worker import run_worker

    settings = Settings()
    if not settings.broker_url:
        console.print(
            "[red]cannot start:[/red] no MENAGERIE_BROKER_URL: with the in-memory broker the "
            "server executes runs itself (set redis://, nats:// or amqp:// to use workers)"
        )
        raise typer.Exit(2)
    if concurrency is not None:
        if concurrency < 1:
            raise typer.BadParameter("must be at least 1", param_hint="--concurrency")
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    _database_reachable_or_exit(settings)
    asyncio.run(run_worker(settings))


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from menagerie.storage import migrate as migrations
    from menagerie.storage.database import Database

    settings = Settings()
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)

    async def run() -> str | None:
        database = Database(settings.effective_database_url)
        try:
            return await migrations.upgrade(database)
        finally:
            await database.dispose()

    try:
        revision = asyncio.run(run())
    except Exception as exc:  # a CLI answers with a sentence, not a traceback
        console.print(f"[red]migration failed:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    console.print(f"database at revision [bold]{revision}[/bold]")


app.command()(cli_doctor.doctor)
app.command("local-model")(cli_doctor.local_model)


@app.command()
def chat(
    agent: Annotated[str, typer.Argument(help="the agent to talk to")] = "chat-assistant-001",
    url: Annotated[
        str | None, typer.Option(help="a running server; default: this machine's serve address")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="MENAGERIE_TOKEN", help="API token for the server (or master key)"),
    ] = None,
    local: Annotated[bool, typer.Option("--local", help="never use a server")] = False,
) -> None:
    """Talk to an agent: through a running server when one answers, else in this process."""
    from menagerie import cli_chat

    settings = Settings()
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    credential = token or (settings.master_key.get_secret_value() if settings.master_key else None)

    async def main() -> None:
        backend: cli_chat.Backend
        if not local and await cli_chat.server_answers(base):
            if not credential:
                console.print(
                    "[red]error:[/red] the server at "
                    f"{base} needs a token: --token or MENAGERIE_TOKEN (or use --local)"
                )
                raise typer.Exit(1)
            console.print(f"talking to {agent} at {base}", style="dim")
            backend = cli_chat.RemoteBackend(base, credential, agent)
        else:
            console.print(f"talking to {agent} in this process", style="dim")
            backend = cli_chat.LocalBackend(settings, agent)
        try:
            await cli_chat.run(backend, console, cli_chat.read_line)
        finally:
            await backend.close()

    asyncio.run(main())


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


tokens_app = typer.Typer(
    help="API tokens (podplay_api_…): create, list, revoke.", no_args_is_help=True
)
app.add_typer(tokens_app, name="tokens")


def _with_tokens(action: Callable[[ApiTokenService], Awaitable[T]]) -> T:
    """Run `action` against the data directory's database, migrated first.

    Only the identity services are built, not the whole platform: a command answers quickly.
    """
    from menagerie.core.errors import MenagerieError
    from menagerie.core.identity.jwt import JwtCodec, load_or_create_secret
    from menagerie.core.identity.service import IdentityService
    from menagerie.core.identity.tokens import ApiTokenService
    from menagerie.storage import migrate as migrations
    from menagerie.storage.database import Database

    settings = Settings()
    data_dir = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)

    async def run() -> T:
        database = Database(
            settings.effective_database_url, connect_timeout=settings.database_connect_timeout
        )
        secret = (
            settings.jwt_secret.get_secret_value()
            if settings.jwt_secret
            else load_or_create_secret(data_dir)
        )
        identity = IdentityService(
            database, JwtCodec(secret), default_tenant=settings.default_tenant
        )
        try:
            if settings.migrate_on_start:
                await migrations.upgrade(database)
            return await action(ApiTokenService(database, identity))
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except MenagerieError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option("--name", help="a label for the token")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="tenant id; created with an admin if new")
    ] = None,
) -> None:
    """Issue a token for a tenant's admin; it is printed once, on stdout."""
    tenant_id = tenant or Settings().default_tenant
    issued = _with_tokens(lambda tokens: tokens.issue_for_tenant(tenant_id, name))
    console.print(
        f"created token [bold]{issued.id}[/bold] ({issued.name}) for tenant {issued.tenant_id}; "
        "it is shown once, store it now"
    )
    typer.echo(issued.token)


@tokens_app.command("list")
def tokens_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="only this tenant")] = None,
) -> None:
    """List tokens (never the tokens themselves: their first characters)."""
    found = _with_tokens(lambda tokens: tokens.list_all(tenant))
    table = Table(title="API tokens")
    for column in ("id", "tenant", "name", "prefix", "created", "last used", "status"):
        table.add_column(column)
    for info in found:
        table.add_row(
            info.id,
            info.tenant_id,
            info.name,
            info.prefix + "…",
            iso(info.created_at) or "",
            iso(info.last_used_at) or "never",
            "active" if info.active else f"revoked {iso(info.revoked_at)}",
        )
    Console().print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="the token's id (tok_…)")]) -> None:
    """Revoke a token: it stops working at once."""
    info = _with_tokens(lambda tokens: tokens.revoke_any(token_id))
    console.print(f"revoked token [bold]{info.id}[/bold] ({info.name}) of tenant {info.tenant_id}")


@app.command()
def maintenance(
    state: Annotated[str, typer.Argument(help="on or off")],
    message: Annotated[str, typer.Option("--message", help="what clients are told")] = "",
    until: Annotated[
        str | None, typer.Option("--until", help="expected back at (ISO 8601)")
    ] = None,
    services: Annotated[
        list[str] | None,
        typer.Option("--service", help="an affected service (repeat); none: every service"),
    ] = None,
) -> None:
    """Switch maintenance mode server-wide (PodPlay answers 503 SERVICE_UNAVAILABLE)."""
    from datetime import datetime

    from menagerie.core.events import create_event_bus
    from menagerie.core.ops.maintenance import Maintenance
    from menagerie.storage import migrate as migrations
    from menagerie.storage.database import Database

    if state not in ("on", "off"):
        raise typer.BadParameter("on or off", param_hint="STATE")
    try:
        back = datetime.fromisoformat(until.replace("Z", "+00:00")) if until else None
    except ValueError:
        raise typer.BadParameter("an ISO 8601 time", param_hint="--until") from None
    settings = Settings()
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)

    async def run() -> None:
        database = Database(
            settings.effective_database_url, connect_timeout=settings.database_connect_timeout
        )
        # with Redis, running servers hear the change at once; else within seconds
        events = create_event_bus(settings.redis_url)
        try:
            if settings.migrate_on_start:
                await migrations.upgrade(database)
            await events.start()
            await Maintenance(database, events, operator_tenant=settings.default_tenant).set(
                enabled=state == "on",
                message=message,
                affected_services=services or (),
                estimated_return=back,
            )
        finally:
            await events.stop()
            await database.dispose()

    try:
        asyncio.run(run())
    except Exception as exc:  # a CLI answers with a sentence, not a traceback
        console.print(f"[red]maintenance failed:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    console.print(f"maintenance [bold]{state}[/bold]" + (f": {message}" if message else ""))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
