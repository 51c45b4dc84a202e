"""Managed model endpoints: model servers that sleep when idle and wake on demand."""

from menagerie.core.llm.endpoints.base import EndpointBackend, EndpointFailure
from menagerie.core.llm.endpoints.models import EndpointState, EndpointStatus
from menagerie.core.llm.endpoints.service import TOPIC, EndpointManager, create_backend

__all__ = [
    "TOPIC",
    "EndpointBackend",
    "EndpointFailure",
    "EndpointManager",
    "EndpointState",
    "EndpointStatus",
    "create_backend",
]
