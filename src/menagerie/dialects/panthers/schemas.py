"""Secret Panthers' wire models (seed 002): the fields, spelled and typed as the seed lists them.

The seed writes `number` for counts and seconds; they are JSON numbers here too (whole
numbers on the wire where the value is one). Constraints mirror what core accepts, so that a
request valid against this document is one the server takes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    WithJsonSchema,
)

from menagerie.core.chat.models import MAX_MESSAGE_CHARS

# a JSON number holding a whole value (the seed's `number`)
Number = Annotated[int, WithJsonSchema({"type": "number"})]
# an ERC-721 token id: a uint256 in decimal. The pattern stops a little short of 2**256 - 1
# (at 1.157e77), the largest bound a regular expression states simply
TOKEN_ID_PATTERN = r"^(?:[0-9]{1,77}|0[0-9]{77}|10[0-9]{76}|11[0-4][0-9]{75}|115[0-6][0-9]{74})$"
# as a JSON number only within I-JSON's exact integers (RFC 7493, up to 2**53 - 1): a larger
# number reaches most parsers rounded, so a larger id travels as a string
MAX_JSON_INT = 2**53 - 1


def _token_id_text(value: Any) -> Any:
    # JSON has one number type: 123.0 is the integer 123 to a JSON Schema validator too
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_JSON_INT:
            raise ValueError(f"a token id as a number must lie in 0..{MAX_JSON_INT}")
        return str(value)
    return value


# a string or a number on the wire (the seed writes `"123"`, clients send both), a canonical
# string once read; one type, so that errors name the field and not a branch of a union
TokenId = Annotated[
    StrictStr,
    BeforeValidator(_token_id_text),
    Field(pattern=TOKEN_ID_PATTERN),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": TOKEN_ID_PATTERN},
                {"type": "integer", "minimum": 0, "maximum": MAX_JSON_INT},
            ],
            "examples": ["123"],
        }
    ),
]
WalletAddress = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x" + "ab" * 20])]
Signature = Annotated[
    str, Field(min_length=1, max_length=300, description="65-byte signature, hex")
]
SignedMessage = Annotated[
    str, Field(min_length=1, max_length=4000, description="the challenge message, unchanged")
]
# as core's chat sessions spell their ids
ConversationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]

ErrorCode = Literal[
    "UNAUTHORIZED",
    "FORBIDDEN",
    "TOKEN_EXPIRED",
    "INVALID_SIGNATURE",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "CONFLICT",
    "INVALID_REQUEST",
    "MISSING_FIELD",
    "INVALID_FIELD",
    "RATE_LIMITED",
    "QUOTA_EXCEEDED",
    "INTERNAL_ERROR",
    "SERVICE_UNAVAILABLE",
    "TIMEOUT",
]


# -- errors (seed "Standard Error Format") ----------------------------------------------------


class ErrorInfo(BaseModel):
    code: ErrorCode
    message: str
    # `reason` (core's precise reason), `field`, `request_id` … where known
    details: dict[str, Any]


class ErrorBody(BaseModel):
    error: ErrorInfo


# -- orchestrator: authentication -------------------------------------------------------------


class ChallengeRequest(BaseModel):
    wallet_address: WalletAddress
    nft_token_id: TokenId


class ChallengeResponse(BaseModel):
    message: str
    nonce: str
    expires_at: str


class VerifyRequest(BaseModel):
    wallet_address: WalletAddress
    nft_token_id: TokenId
    signature: Signature
    message: SignedMessage


class VerifyResponse(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: Number
    session_id: str


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class RefreshResponse(BaseModel):
    access_token: str
    expires_in: Number
    # refresh tokens are single-use: the next refresh needs this one
    refresh_token: str


class MessageResponse(BaseModel):
    message: str


# -- orchestrator: monitoring -----------------------------------------------------------------


class HealthResponse(BaseModel):
    status: Literal["healthy", "unhealthy"]
    version: str
    uptime: float
    deployments_active: Number  # deployments running now, counted in the database
    # false only while the database cannot be read: `deployments_active` is then 0 and no count
    deployments_measured: bool
    checks: dict[str, str]


# -- orchestrator: deployments ----------------------------------------------------------------


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is expected, not a boolean")
    return value


# a count or size: `true` is none (a whole float such as 512.0 is taken as 512)
NotBool = BeforeValidator(_not_bool)

DeploymentProvider = Literal["local", "secret_vm", "akash"]
DeploymentState = Literal["deploying", "running", "stopped"]


class Resources(BaseModel):
    """What the deployment asks for; each field overrides the default. Provider `local` runs
    the agent beside the server and records these without enforcing them."""

    model_config = ConfigDict(extra="forbid")

    cpu: Annotated[float, Field(gt=0, le=64), NotBool] | None = Field(None, description="vCPUs")
    memory_mb: Annotated[int, Field(ge=128, le=262_144), NotBool] | None = None
    disk_gb: Annotated[int, Field(ge=1, le=4096), NotBool] | None = None
    gpu: Annotated[int, Field(ge=0, le=8), NotBool] | None = None


class DeployRequest(BaseModel):
    nft_token_id: TokenId
    provider: DeploymentProvider
    resources: Resources | None = None


class DeployResponse(BaseModel):
    deployment_id: str
    status: DeploymentState
    # the agent API's address: known as soon as its port is reserved, answering once running
    endpoint_url: str
    estimated_time: Number  # seconds until it runs; 0 once it does
    nft_token_id: str
    provider: DeploymentProvider
    message: str


class DeploymentHealth(BaseModel):
    """The deployment's process, asked now over HTTP (its own `/health`)."""

    status: Literal["healthy", "unhealthy", "unreachable", "stopped"]
    checked_at: str
    response_ms: float | None
    pid: int | None
    restarts: Number
    last_exit: str | None
    detail: str


class DeploymentSummary(BaseModel):
    deployment_id: str
    nft_token_id: str
    status: DeploymentState
    provider: DeploymentProvider
    endpoint_url: str | None
    created_at: str
    updated_at: str
    stopped_at: str | None
    resources: dict[str, Any]
    restarts: Number
    message: str


class DeploymentResponse(DeploymentSummary):
    health: DeploymentHealth


class Pagination(BaseModel):
    total: Number
    limit: Number
    offset: Number
    has_more: bool


class DeploymentList(BaseModel):
    deployments: list[DeploymentSummary]
    total: Number
    pagination: Pagination


class StopResponse(BaseModel):
    message: str
    status: DeploymentState
    deployment_id: str


# -- agent API --------------------------------------------------------------------------------


class AgentHealthResponse(BaseModel):
    status: Literal["healthy", "unhealthy"]
    version: str
    uptime: float


class AgentInfo(BaseModel):
    name: str
    nft_token_id: str
    capabilities: list[str]
    model: str
    # running: the NFT exists and its agent is served here; unknown: the NFT ownership
    # source cannot tell now whether the NFT exists
    status: Literal["running", "unknown"]
    status_basis: str


class AgentVerifyRequest(BaseModel):
    wallet_address: WalletAddress
    signature: Signature
    message: SignedMessage


class AgentVerifyResponse(BaseModel):
    access_token: str
    expires_in: Number


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=r"\S")]
    conversation_id: ConversationId | None = None
    stream: StrictBool = False


class ChatResponse(BaseModel):
    response: str
    conversation_id: str
    timestamp: str
    tokens_used: Number


class ChatChunk(BaseModel):
    """A `chat_chunk` (seed "Chat Streaming"), over SSE and the sockets alike; the last one
    (`done: true`) also names the conversation and the tokens the turn used."""

    type: Literal["chat_chunk"] = "chat_chunk"
    content: str
    done: bool
    conversation_id: str | None = None
    tokens_used: Number | None = None


class ChatStreamError(BaseModel):
    """The event that ends a stream which failed after it began."""

    type: Literal["error"] = "error"
    error: ErrorInfo
    retryable: bool


class HistoryMessage(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    content: str
    timestamp: str
    tokens_used: Number


class HistoryResponse(BaseModel):
    messages: list[HistoryMessage]
    total: Number
    conversation_id: str


class ClearRequest(BaseModel):
    conversation_id: ConversationId


class ClearResponse(BaseModel):
    message: str
    messages_removed: Number


# -- WebSocket messages (seed "WebSocket API") ------------------------------------------------


class SubscribeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["subscribe"]
    channel: Literal["deployment"]
    nft_token_id: TokenId


class Subscribed(BaseModel):
    """The answer to `subscribe`: the subscription holds; `message` says what will come."""

    type: Literal["subscribed"] = "subscribed"
    channel: Literal["deployment"] = "deployment"
    nft_token_id: str
    message: str


class DeploymentStatus(BaseModel):
    type: Literal["deployment_status"] = "deployment_status"
    deployment_id: str
    status: str
    progress: Number
    message: str


class ChatStreamRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["chat_stream"]
    message: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=r"\S")]
    conversation_id: ConversationId | None = None
    # at the orchestrator's socket: which NFT's agent answers (default: the session's NFT)
    nft_token_id: TokenId | None = None


class SocketError(BaseModel):
    type: Literal["error"] = "error"
    error: ErrorInfo
