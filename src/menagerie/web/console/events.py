"""`/console/api/events`: the bus's events for the signed-in caller, as Server-Sent Events.

Pages subscribe to the topics they show (an installation's progress, a server's status, a
task's state) and redraw as they come. Only the caller's tenant's events pass, and of those
that name a user, only the caller's own unless the caller is an admin; operator topics
(alerts, health) only to the operator's admins (the default tenant's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from starlette.responses import StreamingResponse

from menagerie.core.errors import Invalid
from menagerie.core.events import EventBus
from menagerie.core.identity.models import Principal
from menagerie.realtime import sse
from menagerie.web.console.deps import ConsolePrincipalDep, PlatformDep

router = APIRouter(tags=["events"])

USER_TOPICS = (
    "mcp.*",
    "task.*",
    "orchestration.*",
    "sandbox.status",
    "sandbox.terminal_output",
    "scout.*",
    "deployment.status",
    "llm.local",
    "llm.endpoints",
)
ADMIN_TOPICS = ("ops.alert", "ops.health", "ops.maintenance")
KEEPALIVE_S = 15.0


def _visible(
    principal: Principal, payload: dict[str, Any], operator_topic: bool, operator_tenant: str
) -> bool:
    if operator_topic:  # the server's own state: for the operator's admins, no one else's
        owner = payload.get("tenant_id", operator_tenant)
        return principal.is_admin and owner == principal.tenant_id
    tenant = payload.get("tenant_id")
    if tenant is not None and tenant != principal.tenant_id:
        return False
    user = payload.get("user_id")
    return user is None or user == principal.user_id or principal.is_admin


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    platform: PlatformDep,
    principal: ConsolePrincipalDep,
    topics: Annotated[str, Query(max_length=500, description="comma-separated patterns")],
) -> Response:
    """Each event is `data: {"topic", "payload"}`; a comment every 15 s keeps proxies from
    closing an idle stream."""
    wanted = tuple(t.strip() for t in topics.split(",") if t.strip())
    allowed = USER_TOPICS + (ADMIN_TOPICS if principal.is_admin else ())
    refused = [t for t in wanted if t not in allowed]
    if refused or not wanted:
        raise Invalid(
            f"Topics must be some of: {', '.join(allowed)}.",
            field="topics",
            received=topics,
            expected="a comma-separated list of known topics",
        )
    subscription = await platform.events.subscribe(*wanted)
    operator = platform.settings.default_tenant
    return sse.response(_stream(platform.events, subscription, principal, operator))


async def _stream(
    bus: EventBus, subscription: Any, principal: Principal, operator_tenant: str
) -> AsyncIterator[str]:
    try:
        yield ": connected\n\n"
        while True:
            event = await subscription.get(within=KEEPALIVE_S)
            if event is None:
                if subscription.closed:
                    return
                yield ": keepalive\n\n"
                continue
            operator_topic = event.topic.startswith("ops.")
            if _visible(principal, event.payload, operator_topic, operator_tenant):
                yield sse.data({"topic": event.topic, "payload": event.payload})
    finally:
        await bus.unsubscribe(subscription)
