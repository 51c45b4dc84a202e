"""Holding a dialect's OpenAPI document to its seed: routes served, example fields present
with their JSON types, request examples accepted, error codes from the seed's own list.

The checks read the app's OpenAPI document, which FastAPI builds from each route's
`response_model` and request model; so a field missing from a wire model, a mistyped
field or an untyped response fails here, before any client sees it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import WebSocketRoute
from tests.contract import seeds
from tests.contract.seeds import Endpoint, Example

from menagerie.dialects.registry import DIALECTS
from menagerie.http.dialect import build_dialect_app
from menagerie.platform import Platform
from menagerie.settings import Settings


@dataclass(frozen=True)
class Contract:
    """What one dialect promises about one seed, and the few documented exceptions."""

    seed: str
    dialect: str
    # seed endpoints not served yet: "METHOD /normalized/path" -> the issue that builds it
    pending: dict[str, str]
    # the error codes the seed lists; a dialect's `code` holds only these
    codes: frozenset[str]
    # codes of a documented pattern (Metamorph's MISSING_<FIELD>), beside `codes`
    code_pattern: str | None = None
    # seed path -> served path, for seeds whose paths sit under a prefix of their own
    route_of: Callable[[Endpoint], str] = lambda endpoint: endpoint.route
    # fields ("METHOD /path", "a.b[].c") that may be null although the seed shows a value,
    # each with the reason (listed in docs/contract.md)
    nullable: dict[tuple[str, str], str] = field(default_factory=dict)
    # fields whose value is a free-form object: keys are the caller's, not the seed's
    free_form: frozenset[str] = frozenset()
    # endpoints whose examples are not JSON bodies (SSE streams, Prometheus text …)
    not_json: frozenset[str] = frozenset()

    def key(self, endpoint: Endpoint) -> str:
        return f"{endpoint.method} {self.route_of(endpoint)}"

    def allows_code(self, code: str) -> bool:
        return code in self.codes or bool(
            self.code_pattern and re.fullmatch(self.code_pattern, code)
        )


@cache
def dialect_app(name: str) -> FastAPI:
    """The dialect's app as the server builds it (never started: its document only)."""
    data = Path(tempfile.mkdtemp(prefix="menagerie-contract-"))
    settings = Settings(data_dir=data, master_key="contract-key-0123456789abcdef", _env_file=None)
    return build_dialect_app(DIALECTS[name], Platform.build(settings))


@cache
def openapi(name: str) -> dict[str, Any]:
    return dialect_app(name).openapi()


def served(name: str) -> set[str]:
    """ "METHOD /normalized/path" of every route the dialect serves ("WS …" for sockets)."""
    found: set[str] = set()
    for route in (r for router in DIALECTS[name].routers for r in router.routes):
        if isinstance(route, APIRoute):
            found |= {f"{method} {seeds.normalize(route.path)}" for method in route.methods}
        elif isinstance(route, WebSocketRoute | APIWebSocketRoute):
            found.add(f"WS {seeds.normalize(route.path)}")
    return found


def operation(name: str, key: str) -> dict[str, Any] | None:
    method, route = key.split(" ", 1)
    for path, operations in openapi(name)["paths"].items():
        if seeds.normalize(path) == route and method.lower() in operations:
            return operations[method.lower()]
    return None


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _variants(schema: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, document)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [v for option in schema[key] for v in _variants(option, document)]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _variants(schema["allOf"][0], document)
    return [schema]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _admits(schema: dict[str, Any], kind: str) -> bool:
    declared = schema.get("type")
    if declared is None:
        if "const" in schema:
            return _json_type(schema["const"]) == kind or (
                kind == "number" and _json_type(schema["const"]) == "integer"
            )
        if "enum" in schema:
            return any(_json_type(v) == kind for v in schema["enum"])
        return False  # untyped: `Any` says nothing to a client
    types = declared if isinstance(declared, list) else [declared]
    return kind in types or (kind == "integer" and "number" in types)


@dataclass
class ShapeCheck:
    """Compares a seed example with a JSON schema, collecting every difference."""

    document: dict[str, Any]
    key: str
    contract: Contract
    problems: list[str] = field(default_factory=list)

    def value(self, example: Any, schema: dict[str, Any], where: str) -> None:
        variants = _variants(schema, self.document)
        kind = _json_type(example)
        if kind == "null":
            return  # the seed shows no value: any type is its stand-in
        nullable = any(_admits(v, "null") for v in variants)
        if nullable and (self.key, where) not in self.contract.nullable:
            self.problems.append(f"{where or '<body>'}: may be null where the seed shows {kind}")
        matching = [v for v in variants if _admits(v, kind)]
        if not matching:
            shown = [v.get("type", "untyped") for v in variants]
            self.problems.append(f"{where or '<body>'}: seed shows {kind}, schema says {shown}")
            return
        chosen = matching[0]
        if kind == "object":
            self.object(example, chosen, matching, where)
        elif kind == "array" and example:
            items = chosen.get("items")
            if not items:
                self.problems.append(f"{where}[]: items are untyped")
                return
            for item in example[:3]:
                self.value(item, items, f"{where}[]")

    def object(
        self,
        example: dict[str, Any],
        schema: dict[str, Any],
        options: list[dict[str, Any]],
        where: str,
    ) -> None:
        if where in self.contract.free_form:
            return
        properties: dict[str, Any] = {}
        for option in options:
            properties.update(option.get("properties", {}))
        extra = schema.get("additionalProperties")
        for name, item in example.items():
            path = f"{where}.{name}" if where else name
            if name in properties:
                self.value(item, properties[name], path)
            elif isinstance(extra, dict) and extra:
                self.value(item, extra, path)
            else:
                self.problems.append(f"{path}: shown by the seed, missing from the schema")

    def fields(self, listed: dict[str, str], schema: dict[str, Any]) -> None:
        """A `- name: type` list: each name a property of the schema, of that JSON type."""
        options = _variants(schema, self.document)
        properties: dict[str, Any] = {}
        for option in options:
            properties.update(option.get("properties", {}))
        for name, kind in listed.items():
            if name not in properties:
                self.problems.append(f"{name}: listed by the seed, missing from the schema")
                continue
            variants = _variants(properties[name], self.document)
            if not any(_admits(v, kind) for v in variants):
                self.problems.append(
                    f"{name}: seed lists {kind}, schema says "
                    f"{[v.get('type', 'untyped') for v in variants]}"
                )


def success_schema(op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The first 2xx response's JSON schema (status, schema), if the route declares one."""
    for status, response in sorted(op.get("responses", {}).items()):
        if status.startswith("2"):
            content = response.get("content", {})
            # JSON and event streams first; a text format (Prometheus metrics) counts too
            for media in ("application/json", "text/event-stream", *content):
                if media in content and content[media].get("schema"):
                    return status, content[media]["schema"]
    return None


def response_problems(contract: Contract, endpoint: Endpoint, example: Example) -> list[str]:
    key = contract.key(endpoint)
    op = operation(contract.dialect, key)
    if op is None:
        return [f"{key}: not in the OpenAPI document"]
    declared = success_schema(op)
    if declared is None:
        return [f"{key}: no response schema for a 2xx status"]
    check = ShapeCheck(openapi(contract.dialect), key, contract)
    if example.fields:
        check.fields(example.fields, declared[1])
    else:
        check.value(example.value, declared[1], "")
    return check.problems


def error_problems(contract: Contract, endpoint: Endpoint, example: Example) -> list[str]:
    """An error example's fields against the dialect's envelope model; its code listed."""
    model = DIALECTS[contract.dialect].error_model
    if model is None:
        return [f"{contract.dialect}: no error_model on its DialectSpec"]
    document = {"components": {"schemas": {}}}
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    document["components"]["schemas"].update(schema.pop("$defs", {}))
    check = ShapeCheck(document, contract.key(endpoint), contract)
    check.value(example.value, schema, "")
    return check.problems


def request_problems(contract: Contract, endpoint: Endpoint, example: Example) -> list[str]:
    key = contract.key(endpoint)
    op = operation(contract.dialect, key)
    if op is None:
        return [f"{key}: not in the OpenAPI document"]
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    if not body.get("schema"):
        return [f"{key}: the seed shows a request body, the route declares none"]
    document = openapi(contract.dialect)
    schema = {**body["schema"], "components": document.get("components", {})}
    if example.fields:
        # a field list says which fields exist, not their values: each must be declared
        check = ShapeCheck(document, key, contract)
        check.fields(example.fields, body["schema"])
        return check.problems
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}"
        for e in validator.iter_errors(example.value)
    ]


def undocumented_operations(name: str) -> list[str]:
    """Operations with no 2xx schema, or an error status without the envelope as schema."""
    problems: list[str] = []
    for path, operations in openapi(name)["paths"].items():
        for method, op in operations.items():
            responses = op.get("responses", {})
            statuses = [s for s in responses if s.startswith(("2", "3"))]
            if not statuses:
                problems.append(f"{method.upper()} {path}: no success response")
            elif not any(s.startswith("3") or s == "204" for s in statuses) and not (
                success_schema(op)
            ):
                problems.append(f"{method.upper()} {path}: success response has no schema")
            for status, response in responses.items():
                if status.startswith(("4", "5")) and not response.get("content"):
                    problems.append(f"{method.upper()} {path}: {status} has no schema")
            if not any(s.startswith("4") for s in responses):
                problems.append(f"{method.upper()} {path}: no error status documented")
    return problems
