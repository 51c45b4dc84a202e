"""Import and export of the MCP server lists that desktop clients keep.

Claude Desktop writes `{"mcpServers": {name: {command, args, env}}}` (and, in the wild, `url`
with a `type`); VS Code writes `mcp.json` as `{"servers": {name: {type, command, args, env, url,
headers}}, "inputs": [...]}`. Both are read into `ImportedServer` values and written back, so a
user can move servers between a client and Menagerie in either direction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from menagerie.core.errors import Invalid
from menagerie.core.tools.models import CatalogEntry, Remote, TransportKind

SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# Every spelling of a transport that clients and registries use, lower-cased.
_TRANSPORTS: dict[str, TransportKind] = {
    "stdio": "stdio",
    "http": "streamable-http",
    "streamable-http": "streamable-http",
    "streamablehttp": "streamable-http",
    "streamable_http": "streamable-http",
    "sse": "sse",
}


def parse_transport(value: Any, field_name: str) -> TransportKind:
    """One of the spellings in the wild, normalised; anything else names the field."""
    if isinstance(value, str) and value.strip().lower() in _TRANSPORTS:
        return _TRANSPORTS[value.strip().lower()]
    raise Invalid(
        f"{field_name}: unknown transport {value!r}",
        field=field_name,
        received=value,
        expected="stdio, http (streamable-http) or sse",
    )


def check_name(value: Any, field_name: str) -> str:
    if isinstance(value, str) and SERVER_NAME.match(value):
        return value
    raise Invalid(
        f"{field_name}: {value!r} is not a valid server name",
        field=field_name,
        received=value,
        expected="1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    )


def check_http_url(value: Any, field_name: str) -> str:
    """An absolute http(s) URL; whether its host may be reached is decided at install time."""
    if isinstance(value, str):
        parts = urlsplit(value.strip())
        if parts.scheme.lower() in ("http", "https") and parts.hostname:
            return value.strip()
    raise Invalid(
        f"{field_name}: expected an absolute http(s) URL",
        field=field_name,
        received=value,
        expected="http(s) URL",
    )


def string_list(value: Any, field_name: str) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise Invalid(
        f"{field_name}: expected a list of strings",
        field=field_name,
        received=value,
        expected="array of strings",
    )


def string_map(value: Any, field_name: str) -> dict[str, str]:
    """A name -> string mapping; numbers and booleans are accepted as their JSON text because
    hand-written client files often hold `"PORT": 8080`."""
    if not isinstance(value, dict):
        raise Invalid(
            f"{field_name}: expected an object of strings",
            field=field_name,
            received=value,
            expected="object of strings",
        )
    result: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            result[key] = item
        elif isinstance(item, bool | int | float):
            result[key] = json.dumps(item)
        else:
            raise Invalid(
                f"{field_name}.{key}: expected a string",
                field=f"{field_name}.{key}",
                received=item,
                expected="string",
            )
    return result


@dataclass(frozen=True)
class ImportedServer:
    name: str
    transport: TransportKind
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def to_entry(self) -> CatalogEntry:
        remotes: tuple[Remote, ...] = ()
        if self.url is not None:
            remotes = (Remote(self.transport, self.url, tuple(self.headers.items())),)
        return CatalogEntry(
            name=self.name,
            # not the URL or command line: either may carry a token, and descriptions are shown
            description=f"Imported MCP server ({self.transport})",
            version="custom",
            category="custom",
            remotes=remotes,
            author="imported",
            custom=True,
            command=self.command if self.url is None else None,
            args=self.args if self.url is None else (),
            env=tuple(self.env.items()) if self.url is None else (),
        )

    def configuration(self) -> dict[str, Any]:
        """The reserved configuration keys that reproduce this server at install time."""
        if self.url is not None:
            config: dict[str, Any] = {"url": self.url}
            if self.headers:
                config["headers"] = dict(self.headers)
            return config
        config = {"command": self.command}
        if self.args:
            config["args"] = list(self.args)
        if self.env:
            config["env"] = dict(self.env)
        return config


def _parse_server(name: str, spec: Any, where: str) -> ImportedServer:
    check_name(name, where)
    if not isinstance(spec, dict):
        raise Invalid(f"{where}: expected an object", field=where, received=spec, expected="object")
    kind = spec.get("type", spec.get("transport"))
    # Gemini CLI and Windsurf spell the address `httpUrl` / `serverUrl`
    url_key = next((k for k in ("url", "httpUrl", "serverUrl") if k in spec), None)
    if kind is not None:
        transport = parse_transport(kind, f"{where}.{'type' if 'type' in spec else 'transport'}")
    elif url_key is None or "command" in spec:
        transport = "stdio"  # neither given: a stdio server missing its command, the common case
    else:
        transport = "streamable-http"  # what current clients assume for a bare URL
    if transport == "stdio":
        command = spec.get("command")
        if not isinstance(command, str) or not command.strip():
            raise Invalid(
                f"{where}.command: a stdio server needs a command",
                field=f"{where}.command",
                received=command,
                expected="non-empty string",
            )
        return ImportedServer(
            name=name,
            transport="stdio",
            command=command,
            args=string_list(spec.get("args", []), f"{where}.args"),
            env=string_map(spec.get("env", {}), f"{where}.env"),
        )
    if url_key is None:
        raise Invalid(
            f"{where}.url: a {transport} server needs a url",
            field=f"{where}.url",
            received=None,
            expected="http(s) URL",
            missing=True,
        )
    return ImportedServer(
        name=name,
        transport=transport,
        url=check_http_url(spec[url_key], f"{where}.{url_key}"),
        headers=string_map(spec.get("headers", {}), f"{where}.headers"),
    )


def parse_client_config(data: Mapping[str, Any]) -> list[ImportedServer]:
    """Servers of a Claude Desktop or VS Code configuration, in file order."""
    if not isinstance(data, Mapping):
        raise Invalid(
            "A client configuration must be a JSON object",
            field="configuration",
            received=data,
            expected="object",
        )
    if "mcpServers" in data:
        root = "mcpServers"
        servers = data["mcpServers"]
    elif "servers" in data:
        root = "servers"
        servers = data["servers"]
    elif isinstance(data.get("mcp"), Mapping) and "servers" in data["mcp"]:
        root = "mcp.servers"  # VS Code user settings.json nests mcp.json under "mcp"
        servers = data["mcp"]["servers"]
    else:
        raise Invalid(
            "Not a client configuration: expected an `mcpServers` (Claude Desktop) "
            "or `servers` (VS Code) object",
            field="mcpServers",
            received=sorted(data)[:10],
            expected="mcpServers or servers",
            missing=True,
        )
    if not isinstance(servers, Mapping):
        raise Invalid(
            f"{root}: expected an object of servers by name",
            field=root,
            received=servers,
            expected="object",
        )
    return [_parse_server(name, spec, f"{root}.{name}") for name, spec in servers.items()]


def _remote_spec(server: ImportedServer) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "sse" if server.transport == "sse" else "http",
        "url": server.url,
    }
    if server.headers:
        spec["headers"] = dict(server.headers)
    return spec


def export_claude_desktop(servers: Iterable[ImportedServer]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for server in servers:
        if server.url is not None:
            result[server.name] = _remote_spec(server)
            continue
        spec: dict[str, Any] = {"command": server.command, "args": list(server.args)}
        if server.env:
            spec["env"] = dict(server.env)
        result[server.name] = spec
    return {"mcpServers": result}


def export_vscode(servers: Iterable[ImportedServer]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for server in servers:
        if server.url is not None:
            result[server.name] = _remote_spec(server)
            continue
        spec: dict[str, Any] = {
            "type": "stdio",
            "command": server.command,
            "args": list(server.args),
        }
        if server.env:
            spec["env"] = dict(server.env)
        result[server.name] = spec
    return {"servers": result, "inputs": []}
