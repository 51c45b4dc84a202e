"""Reading and writing the MCP server lists of Claude Desktop and VS Code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from menagerie.core.errors import Invalid
from menagerie.core.tools.clientconfig import (
    ImportedServer,
    export_claude_desktop,
    export_vscode,
    parse_client_config,
)
from menagerie.core.tools.configuration import validate_configuration

CLAUDE_DESKTOP = {
    "mcpServers": {
        "filesystem": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"],
        },
        "github": {
            "command": "docker",
            "args": [
                "run",
                "-i",
                "--rm",
                "-e",
                "GITHUB_PERSONAL_ACCESS_TOKEN",
                "ghcr.io/github/github-mcp-server",
            ],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_example"},
        },
        "remote": {
            "type": "http",
            "url": "https://api.githubcopilot.com/mcp/",
            "headers": {"Authorization": "Bearer token"},
        },
    }
}

VSCODE = {
    "inputs": [
        {"type": "promptString", "id": "api-key", "description": "API key", "password": True}
    ],
    "servers": {
        "memory": {
            "type": "stdio",
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-memory"],
        },
        "perplexity": {
            "type": "stdio",
            "command": "npx",
            "args": ["-y", "server-perplexity-ask"],
            "env": {"PERPLEXITY_API_KEY": "${input:api-key}"},
        },
        "fetch": {
            "type": "http",
            "url": "https://mcp.example.com/mcp",
            "headers": {"X-Api-Key": "k"},
        },
        "legacy": {"type": "sse", "url": "https://mcp.example.com/sse"},
    },
}


def test_claude_desktop_parses() -> None:
    fs, github, remote = parse_client_config(CLAUDE_DESKTOP)
    assert fs == ImportedServer(
        name="filesystem",
        transport="stdio",
        command="npx",
        args=("-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"),
        env={},
        url=None,
        headers={},
    )
    assert github.env == {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_example"}
    assert (remote.transport, remote.url, remote.command) == (
        "streamable-http",
        "https://api.githubcopilot.com/mcp/",
        None,
    )
    assert remote.headers == {"Authorization": "Bearer token"}


def test_vscode_parses() -> None:
    servers = {s.name: s for s in parse_client_config(VSCODE)}
    assert servers["memory"].transport == "stdio"
    assert servers["perplexity"].env == {"PERPLEXITY_API_KEY": "${input:api-key}"}
    assert servers["fetch"].transport == "streamable-http"
    assert servers["fetch"].headers == {"X-Api-Key": "k"}
    assert servers["legacy"].transport == "sse"


def test_vscode_settings_nesting() -> None:
    servers = parse_client_config({"mcp": {"servers": {"a": {"command": "x"}}}})
    assert [s.name for s in servers] == ["a"]


@pytest.mark.parametrize(
    ("spelling", "transport"),
    [
        ("http", "streamable-http"),
        ("streamable-http", "streamable-http"),
        ("streamableHttp", "streamable-http"),
        ("streamable_http", "streamable-http"),
        ("HTTP", "streamable-http"),
        ("sse", "sse"),
    ],
)
def test_transport_spellings(spelling: str, transport: str) -> None:
    (server,) = parse_client_config({"servers": {"s": {"type": spelling, "url": "https://h/mcp"}}})
    assert server.transport == transport


def test_missing_type_is_inferred() -> None:
    stdio, http = parse_client_config(
        {"mcpServers": {"a": {"command": "run"}, "b": {"url": "https://h/mcp"}}}
    )
    assert (stdio.transport, http.transport) == ("stdio", "streamable-http")


@pytest.mark.parametrize("data", [CLAUDE_DESKTOP, VSCODE])
def test_round_trips(data: dict[str, Any], tmp_path: Path) -> None:
    servers = parse_client_config(data)
    for export in (export_claude_desktop, export_vscode):
        path = tmp_path / "config.json"
        path.write_text(json.dumps(export(servers)), encoding="utf-8")
        assert parse_client_config(json.loads(path.read_text(encoding="utf-8"))) == servers


def test_export_shapes() -> None:
    servers = parse_client_config(VSCODE)
    claude = export_claude_desktop(servers)["mcpServers"]
    assert claude["memory"] == {
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-memory"],
    }
    assert claude["fetch"] == {
        "type": "http",
        "url": "https://mcp.example.com/mcp",
        "headers": {"X-Api-Key": "k"},
    }
    assert claude["legacy"] == {"type": "sse", "url": "https://mcp.example.com/sse"}
    vscode = export_vscode(servers)
    assert vscode["inputs"] == []
    assert vscode["servers"]["perplexity"]["type"] == "stdio"
    assert vscode["servers"]["fetch"]["type"] == "http"


def test_to_entry_and_configuration() -> None:
    servers = {s.name: s for s in parse_client_config(CLAUDE_DESKTOP)}
    github = servers["github"]
    entry = github.to_entry()
    assert (entry.name, entry.custom, entry.category) == ("github", True, "custom")
    assert entry.command == "docker"
    assert entry.env == (("GITHUB_PERSONAL_ACCESS_TOKEN", "ghp_example"),)
    assert entry.installation_method == "command"
    config = github.configuration()
    assert config == {
        "command": "docker",
        "args": list(github.args),
        "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_example"},
    }
    remote = servers["remote"]
    assert remote.configuration() == {
        "url": "https://api.githubcopilot.com/mcp/",
        "headers": {"Authorization": "Bearer token"},
    }
    assert remote.to_entry().remotes[0].headers == (("Authorization", "Bearer token"),)
    # what an import stores passes the reserved-key validation of any schema
    closed = {"type": "object", "properties": {}, "additionalProperties": False}
    validate_configuration(closed, config)
    validate_configuration(closed, remote.configuration())


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"mcpServers": {"fs": {"args": []}}}, "mcpServers.fs.command"),
        ({"mcpServers": {"fs": {}}}, "mcpServers.fs.command"),
        ({"mcpServers": {"fs": {"type": "stdio"}}}, "mcpServers.fs.command"),
        ({"mcpServers": {"fs": {"command": ""}}}, "mcpServers.fs.command"),
        ({"mcpServers": {"fs": {"command": 5}}}, "mcpServers.fs.command"),
        ({"mcpServers": {"fs": {"command": "x", "args": "-y"}}}, "mcpServers.fs.args"),
        ({"mcpServers": {"fs": {"command": "x", "env": {"A": None}}}}, "mcpServers.fs.env.A"),
        ({"servers": {"web": {"type": "http"}}}, "servers.web.url"),
        ({"servers": {"web": {"type": "http", "url": "file:///x"}}}, "servers.web.url"),
        ({"servers": {"web": {"type": "websocket", "url": "https://h"}}}, "servers.web.type"),
        ({"servers": {"web": {"url": "https://h", "headers": {"A": {}}}}}, "servers.web.headers.A"),
        ({"servers": {"web": "npx"}}, "servers.web"),
        ({"servers": {"bad name": {"command": "x"}}}, "servers.bad name"),
        ({"servers": {"-dash": {"command": "x"}}}, "servers.-dash"),
        ({"servers": {"x" * 65: {"command": "x"}}}, f"servers.{'x' * 65}"),
        ({"servers": []}, "servers"),
        ({"other": {}}, "mcpServers"),
    ],
)
def test_errors_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_client_config(data)
    assert caught.value.field == field


def test_numbers_in_env_become_strings() -> None:
    (server,) = parse_client_config(
        {"mcpServers": {"a": {"command": "x", "env": {"PORT": 8080, "ON": True}}}}
    )
    assert server.env == {"PORT": "8080", "ON": "true"}


def test_url_spellings_of_other_clients() -> None:
    gemini, windsurf = parse_client_config(
        {"mcpServers": {"g": {"httpUrl": "https://h/mcp"}, "w": {"serverUrl": "https://w/mcp"}}}
    )
    assert (gemini.url, gemini.transport) == ("https://h/mcp", "streamable-http")
    assert (windsurf.url, windsurf.transport) == ("https://w/mcp", "streamable-http")
