"""The Platform: every service, built once from settings and shared by all surfaces."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import cached_property

from menagerie import __version__
from menagerie.core.agents.definitions import AgentCatalog
from menagerie.core.agents.runtime import AgentRuntime
from menagerie.core.agents.tools import BuiltinTools, Toolbox
from menagerie.core.chat.service import ChatService
from menagerie.core.crypto import SecretBox, load_or_create_key
from menagerie.core.deployments.launch import AgentLauncher
from menagerie.core.deployments.service import DeploymentService
from menagerie.core.events import EventBus, create_event_bus
from menagerie.core.events.journal import EventJournal
from menagerie.core.identity.accounts import AccountService
from menagerie.core.identity.bootstrap import announce_admin_token
from menagerie.core.identity.jwt import JwtCodec, load_or_create_secret
from menagerie.core.identity.models import BootstrapResult
from menagerie.core.identity.oauth import OAuthService, providers_from_settings
from menagerie.core.identity.service import IdentityService
from menagerie.core.identity.sessions import SessionService
from menagerie.core.identity.tokens import ApiTokenService
from menagerie.core.identity.vaults import VaultVerifier
from menagerie.core.identity.wallet.service import WalletService
from menagerie.core.llm.endpoints import EndpointManager
from menagerie.core.llm.local.service import LocalModel
from menagerie.core.llm.service import LlmService
from menagerie.core.memory.backfill import EmbeddingBackfill
from menagerie.core.memory.service import MemoryService
from menagerie.core.ops.alerts import AlertMonitor, Thresholds
from menagerie.core.ops.health import HealthService
from menagerie.core.ops.health_watch import HealthWatcher
from menagerie.core.ops.incidents import IncidentService
from menagerie.core.ops.logbook import Logbook
from menagerie.core.ops.maintenance import Maintenance
from menagerie.core.ops.metrics import Metrics
from menagerie.core.ops.ratelimit import RateLimiter
from menagerie.core.ops.stats import RequestStats
from menagerie.core.ops.tracing import Tracing
from menagerie.core.orchestration.analyzer import CodeAnalyzer
from menagerie.core.orchestration.reports import ReportGenerator
from menagerie.core.orchestration.service import Orchestrations
from menagerie.core.orchestration.tools import ToolRegistry
from menagerie.core.projects.config import ProjectConfigs
from menagerie.core.projects.layout import ProjectLayout
from menagerie.core.redact import Redactor
from menagerie.core.runs.agent_tasks import AgentTasks
from menagerie.core.runs.chat_turns import ChatTasks
from menagerie.core.runs.service import Runs
from menagerie.core.runs.tasks import TaskService
from menagerie.core.runs.worker import InProcessWorker
from menagerie.core.sandboxes.agent import SandboxAgents, SandboxTools
from menagerie.core.sandboxes.backends import select_backend
from menagerie.core.sandboxes.service import SandboxService
from menagerie.core.sandboxes.settings import sandbox_settings_from
from menagerie.core.sandboxes.terminals import Terminals
from menagerie.core.scout.service import ScoutService
from menagerie.core.sync.service import SyncService
from menagerie.core.tools.agent_tools import McpTools
from menagerie.core.tools.catalog import Catalog
from menagerie.core.tools.models import McpSettings
from menagerie.core.tools.service import ToolService
from menagerie.core.workflows.definitions import WorkflowCatalog
from menagerie.core.workflows.service import WorkflowService
from menagerie.core.workflows.states import WorkflowStates
from menagerie.logs import RequestIdFilter
from menagerie.realtime import madace_sync
from menagerie.settings import Settings
from menagerie.storage import migrate
from menagerie.storage.database import Database

log = logging.getLogger(__name__)


@dataclass
class Platform:
    settings: Settings
    database: Database
    events: EventBus
    worker: InProcessWorker
    identity: IdentityService
    health: HealthService
    request_stats: RequestStats
    redactor: Redactor
    llm: LlmService
    endpoints: EndpointManager
    local: LocalModel
    secrets: SecretBox
    vaults: VaultVerifier  # Metamorph: vault JWTs (or X-Vault-Id in dev mode) -> tenants
    oauth: OAuthService  # OAuth connections to other services (Vercel), tokens sealed
    wallets: WalletService  # Sign-In with Ethereum + NFT ownership (Panthers)
    accounts: AccountService
    api_tokens: ApiTokenService
    chat: ChatService
    memory: MemoryService
    agents: AgentRuntime  # the agent loop; its `catalog` holds the agent definitions
    tasks: TaskService
    mcp: ToolService  # MCP: the marketplace catalogue, installations, sessions, tool calls
    sandboxes: SandboxService  # workspaces, their backend, commands, files, tier limits
    terminals: Terminals  # shells inside running sandboxes (PodPlay's terminal sessions)
    runs: Runs  # background work on taskiq workers, its state in the database
    agent_tasks: AgentTasks  # tasks that run the agent loop as runs (Crazy Gary's /api/tasks)
    orchestrations: Orchestrations  # steps of tools as one run (Crazy Gary's /api/heavy)
    scout: ScoutService  # PodPlay's Scout projects: a workspace, a plan run, deploys
    # request counters per route category and caller; in Redis when configured, so that
    # replicas share them
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    metrics: Metrics = field(default_factory=Metrics)  # Prometheus, per platform
    logbook: Logbook | None = None  # answered requests, warnings and errors
    alerts: AlertMonitor | None = None  # conditions checked on a schedule
    health_watch: HealthWatcher | None = None  # health changes published on the bus
    maintenance: Maintenance | None = None  # the operator's maintenance mode, server-wide
    memory_backfill: EmbeddingBackfill | None = None  # older memories embedded in the background
    tracing: Tracing = field(default_factory=Tracing)  # OpenTelemetry, spans kept in process
    journal: EventJournal | None = None  # the bus's events this process saw, the latest kept
    version: str = __version__
    # this process supervises `local` deployments (a server does; a worker leaves them to it)
    supervises_deployments: bool = True
    bootstrap_result: BootstrapResult | None = field(default=None, init=False)

    @classmethod
    def build(cls, settings: Settings) -> Platform:
        data_dir = settings.resolved_data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(
            settings.effective_database_url,
            pool_size=settings.database_pool_size,
            connect_timeout=settings.database_connect_timeout,
        )
        jwt_secret = (
            settings.jwt_secret.get_secret_value()
            if settings.jwt_secret
            else load_or_create_secret(data_dir)
        )
        encryption_key = (
            settings.encryption_key.get_secret_value()
            if settings.encryption_key
            else load_or_create_key(data_dir)
        )
        redactor = Redactor([*settings.secret_values(), jwt_secret, encryption_key])
        events = create_event_bus(settings.redis_url)
        worker = InProcessWorker()
        stats = RequestStats()
        jwt_codec = JwtCodec(jwt_secret)
        sessions = SessionService(
            database,
            jwt_codec,
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
            reuse_grace_s=settings.refresh_reuse_grace_s,
        )
        identity = IdentityService(
            database,
            jwt_codec,
            default_tenant=settings.default_tenant,
            master_key=settings.master_key.get_secret_value() if settings.master_key else None,
            dev_mode=settings.dev_mode,
            sessions=sessions,
        )
        health = HealthService(
            version=__version__,
            database=database,
            events=events,
            worker=worker,
            request_stats=stats,
            data_dir=data_dir,
            providers=settings.configured_providers(),
        )
        local = LocalModel(settings, events)
        endpoints = EndpointManager.from_settings(
            settings, events, [local.backend] if local.backend is not None else []
        )
        # a chat routed to a sleeping endpoint wakes it through the router
        llm = LlmService(settings, database, events, endpoints=endpoints, local=local)
        health.watch_models(llm.router, llm.ledger)  # provider health now, not at boot
        health.watch_local_model(local.status)
        metrics = Metrics()
        if settings.metrics_enabled:
            llm.ledger.on_record(metrics.model_call)
            events.observe_lag(metrics.bus_delivered)
            metrics.watch_database(lambda: database.engine.pool)
        tracing = Tracing(otlp_endpoint=settings.otlp_endpoint, enabled=settings.tracing_enabled)
        if settings.tracing_enabled:
            llm.ledger.on_record(tracing.model_call)
        logbook = Logbook(
            database,
            redactor,
            operator_tenant=settings.default_tenant,
            retention_days=settings.ops_log_retention_days,
            max_rows=settings.ops_log_max_rows,
        )
        logbook.handler.addFilter(RequestIdFilter())
        alerts = AlertMonitor(
            health,
            stats,
            events,
            operator_tenant=settings.default_tenant,
            thresholds=Thresholds(
                cpu_percent=settings.alert_cpu_percent,
                memory_percent=settings.alert_memory_percent,
                disk_percent=settings.alert_disk_percent,
                error_rate=settings.alert_error_rate,
                p99_latency_ms=settings.alert_p99_latency_ms,
                worker_heartbeat_s=settings.alert_worker_heartbeat_s,
                worker_queued=settings.alert_worker_queued,
            ),
            interval_s=settings.alert_interval_s,
        )
        secret_box = SecretBox(encryption_key)
        chat = ChatService(database)
        memory = MemoryService.from_settings(database, settings)
        memory_backfill = EmbeddingBackfill(memory, interval_s=settings.memory_backfill_interval_s)
        health.watch_memory(memory_backfill.status)
        # one backend for sandboxes and for the MCP servers that run inside it
        sandbox_backend = select_backend(settings.sandbox_backend)
        mcp = ToolService(
            database,
            secret_box,
            events,
            worker,
            redactor,
            Catalog.load(settings.mcp_servers_file or data_dir / "mcp_servers.json"),
            McpSettings.from_settings(settings),
            sandbox_backend=sandbox_backend,
        )
        alerts.watch_tools(mcp)
        sandboxes = SandboxService(
            database,
            secret_box,
            events,
            worker,
            sandbox_backend,
            sandbox_settings_from(settings),
            tracer=tracing.tracer,
        )
        if settings.metrics_enabled:
            mcp.on_tool_call(metrics.tool_call)
            sandboxes.on_exec(metrics.sandbox_exec)
            metrics.watch_sandboxes(lambda: len(sandboxes.running_ids))
        health.watch_sandboxes(lambda: sandboxes.status)
        agents = AgentRuntime(
            AgentCatalog(data_dir / "agents", documents_root=data_dir),
            chat,
            memory,
            llm.router,
            Toolbox(
                [BuiltinTools(memory), McpTools(mcp), SandboxTools(sandboxes)],
                tracer=tracing.tracer,
            ),
            tracer=tracing.tracer,
        )
        tasks = TaskService(database)
        runs = Runs(
            database,
            events,
            broker_url=settings.broker_url,
            broker_queue=settings.broker_queue,
            execute=settings.server_worker,
            concurrency=settings.worker_concurrency,
            heartbeat_s=settings.run_heartbeat_s,
            lapse_s=settings.run_lapse_s,
            max_attempts=settings.run_max_attempts,
            tracer=tracing.tracer,
        )
        if settings.metrics_enabled:
            runs.on_transition(metrics.task_transition)
        health.watch_runs(runs.status)
        oauth = OAuthService(database, secret_box, providers_from_settings(settings))
        return cls(
            settings,
            database,
            events,
            worker,
            identity,
            health,
            stats,
            redactor,
            llm=llm,
            endpoints=endpoints,
            local=local,
            secrets=secret_box,
            vaults=VaultVerifier.from_settings(database, settings),
            oauth=oauth,
            wallets=WalletService.from_settings(settings, database, sessions),
            accounts=AccountService(database, sessions, default_tenant=settings.default_tenant),
            api_tokens=ApiTokenService(database, identity),
            chat=chat,
            memory=memory,
            agents=agents,
            tasks=tasks,
            mcp=mcp,
            sandboxes=sandboxes,
            terminals=Terminals(sandboxes, events),
            runs=runs,
            agent_tasks=AgentTasks(tasks, runs, agents, events),
            orchestrations=Orchestrations(
                database,
                runs,
                events,
                ToolRegistry([CodeAnalyzer(sandboxes), ReportGenerator(data_dir / "reports")], mcp),
            ),
            scout=ScoutService(database, events, runs, sandboxes, agents, llm.router, oauth),
            rate_limiter=RateLimiter(
                settings.redis_url,
                enabled=settings.rate_limits_enabled,
                overrides=settings.rate_limits,
            ),
            metrics=metrics,
            logbook=logbook,
            alerts=alerts,
            maintenance=Maintenance(database, events, operator_tenant=settings.default_tenant),
            memory_backfill=memory_backfill,
            tracing=tracing,
            journal=EventJournal(events),
            health_watch=HealthWatcher(
                health,
                events,
                operator_tenant=settings.default_tenant,
                interval_s=settings.alert_interval_s,
            ),
        )

    @cached_property
    def projects(self) -> ProjectLayout:
        """Where MADACE-style project files live under the data directory."""
        settings = self.settings
        return ProjectLayout(
            settings.resolved_data_dir,
            settings.default_tenant,
            status_path=settings.madace_status_file,
        )

    @cached_property
    def project_configs(self) -> ProjectConfigs:
        """Each tenant's project configuration (`config.yaml`, secrets in `.env`)."""
        return ProjectConfigs(self.projects)

    @cached_property
    def workflows(self) -> WorkflowService:
        """Workflow definitions and each tenant's runs of them, steps in the agent loop."""
        return WorkflowService(
            WorkflowCatalog(self.projects.workflows_dir),
            WorkflowStates(self.database, self.projects),
            self.agents,
        )

    @cached_property
    def sync(self) -> SyncService:
        """The sync service: file changes to WebSocket clients, on a port of its own."""
        return SyncService(
            self.projects,
            host=self.settings.madace_sync_host,
            default_port=self.settings.madace_sync_port,
            listen=madace_sync.listen_with(self.identity),
            operator_tenant=self.settings.default_tenant,
        )

    @cached_property
    def deployments(self) -> DeploymentService:
        """NFT agents deployed as processes of their own (Panthers' `/deployments`)."""
        return DeploymentService(
            self.database,
            self.wallets,
            self.events,
            AgentLauncher(self.settings, "menagerie.dialects.panthers.agent_app"),
            max_local=self.settings.deployments_max_local,
        )

    @property
    def incidents(self) -> IncidentService:
        """Incidents operators open (Crazy Gary's `/api/monitoring/incidents`)."""
        return IncidentService(self.database)

    @property
    def sandbox_agents(self) -> SandboxAgents:
        """The agent attached to a sandbox (Metamorph's `agent/attach` and `agent/chat`)."""
        return SandboxAgents(self.sandboxes, self.agents)

    @property
    def chat_tasks(self) -> ChatTasks:
        """Chat turns recorded as tasks (Crazy Gary's `POST /api/chat`)."""
        return ChatTasks(self.tasks, self.agents)

    async def start(self) -> None:
        # a database starting beside us is normal: retry the first connection for a while
        await self.database.wait_until_reachable(max(self.settings.database_connect_timeout, 1))
        if self.settings.migrate_on_start:
            await migrate.upgrade(self.database)
        self.bootstrap_result = await self.identity.bootstrap()
        if self.bootstrap_result.admin_token is not None:
            announce_admin_token(self.bootstrap_result)
        await self.events.start()
        if self.journal is not None:
            await self.journal.start()
        await self.worker.start()
        await self.llm.start()
        await self.endpoints.start()
        await self.local.start()  # builds its runtime in the background the first time
        await self.mcp.start()
        await self.sandboxes.start()
        await self.runs.start()  # after the services its jobs use
        for schedule in self._schedules():
            await schedule.start()
        if self.supervises_deployments:
            await self.deployments.start()  # resumes what a stopped server left deploying
            self.metrics.watch_deployments(lambda: self.deployments.supervised)

    def _schedules(
        self,
    ) -> list[Logbook | AlertMonitor | HealthWatcher | Maintenance | EmbeddingBackfill]:
        """The optional loops this process runs, in the order they start."""
        loops = (
            self.logbook,
            self.alerts,
            self.health_watch,
            self.maintenance,
            self.memory_backfill,
        )
        return [loop for loop in loops if loop is not None]

    async def stop(self) -> None:
        if "deployments" in self.__dict__:  # their processes first: they use the database
            await self.deployments.close()
        if "sync" in self.__dict__:  # started only if it was ever asked for
            await self.sync.stop()
        for schedule in reversed(self._schedules()):
            await schedule.stop()
        await self.scout.stop()  # its local sites read workspaces: before those stop
        await self.runs.stop()  # its jobs use the services below: stopped (and requeued) first
        await self.terminals.stop()  # their shells run in sandboxes: before those stop
        await self.sandboxes.stop()
        await self.mcp.stop()  # its servers are child processes: take them down first
        await self.local.stop()
        await self.endpoints.stop()  # first: it takes down the model servers it started
        await self.llm.stop()
        await self.worker.stop()
        if self.journal is not None:
            await self.journal.stop()
        await self.events.stop()
        await asyncio.to_thread(self.tracing.shutdown)  # flushes the OTLP export, if any
        await self.rate_limiter.close()
        await self.database.dispose()
