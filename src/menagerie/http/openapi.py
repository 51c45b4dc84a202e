"""Error responses in a dialect's OpenAPI document, each with that dialect's envelope.

A route names the error statuses its own logic can answer (`responses=errors(404, 409)`);
`document_errors` adds the ones every route of the kind can answer (a failed validation, a
missing credential, an admin-only refusal, a rate limit, a body too large, a server error)
and gives every error status the dialect's envelope model as its schema, so that a generated
client knows the shape of each answer and a fuzzer holds the server to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from pydantic import BaseModel

from menagerie.http.deps import require_admin, require_principal


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error statuses it answers (the schema is filled in)."""
    return {status: {"description": HTTPStatus(status).phrase} for status in statuses}


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is not None:
            found.add(current.call)
        stack.extend(current.dependencies)
    return found


def api_routes(routers: Iterable[APIRouter]) -> list[APIRoute]:
    """The HTTP routes of a dialect's routers (each router is flat: it includes no other)."""
    return [route for router in routers for route in router.routes if isinstance(route, APIRoute)]


def document_errors(
    routers: Iterable[APIRouter],
    error_model: type[BaseModel],
    *,
    validation_status: int,
    rate_limited: bool,
    auth_dependencies: Iterable[Callable[..., Any]] = (),
) -> None:
    authenticated = {require_principal, require_admin, *auth_dependencies}
    # FastAPI builds each app's view of a route lazily from the router's own route, so the
    # responses are set there, once, before any app serves its document
    for route in api_routes(routers):
        statuses = {int(key) for key in route.responses if str(key).isdigit()}
        calls = _calls(route.dependant)
        if route.dependant.query_params or route.dependant.path_params or route.body_field:
            statuses.add(validation_status)
        if route.body_field is not None:
            statuses |= {400, 413}  # a body that is not JSON; a body over the size limit
        if calls & authenticated:
            statuses.add(401)
        if require_admin in calls:
            statuses.add(403)
        if rate_limited:
            statuses.add(429)
        statuses.add(500)
        for status in sorted(statuses):
            if status < 400:
                continue
            entry = route.responses.setdefault(status, {})
            entry.setdefault("description", HTTPStatus(status).phrase)
            model = entry.setdefault("model", error_model)
            route.response_fields[status] = create_model_field(
                name=f"Response_{status}_{route.unique_id}", type_=model, mode="serialization"
            )


def drop_unanswered_validation_errors(app: FastAPI) -> None:
    """FastAPI documents a 422 with its own body on every route with parameters; a dialect
    whose seed answers a failed validation with another status never sends it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                ref = str(responses.get("422", {}).get("content", {}))
                if "HTTPValidationError" in ref:
                    del responses["422"]
        components = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" not in str(schema.get("paths")):
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    return schema


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema with its definitions inlined, for a media type FastAPI does
    not register components for (text/event-stream)."""
    schema = model.model_json_schema()
    return _inlined(schema, schema.get("$defs", {}))


def sse_event_schema(*payloads: type[BaseModel]) -> dict[str, Any]:
    """One server-sent event whose `data:` holds JSON: one of `payloads` (or a closing
    `[DONE]`). Before OpenAPI 3.2's `itemSchema`, an event stream's `schema` is each event."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"anyOf": [inline_schema(payload) for payload in payloads]},
            },
        },
    }


def sse_response(description: str, *payloads: type[BaseModel]) -> dict[str, Any]:
    """`responses=` entry for a route that answers server-sent events of `payloads`."""
    return {
        "description": description,
        "content": {"text/event-stream": {"schema": sse_event_schema(*payloads)}},
    }
