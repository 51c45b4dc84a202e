"""The built-in catalogue, `data/mcp_servers.json`, search and categories."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from menagerie.core.errors import Invalid, NotFound
from menagerie.core.tools.catalog import Catalog, load_builtin, load_custom
from menagerie.core.tools.configuration import validate_configuration
from menagerie.core.tools.models import CatalogEntry, CatalogQuery

EXPECTED = {
    "mcp-server-time",
    "mcp-server-fetch",
    "mcp-server-git",
    "server-everything",
    "server-everything-http",
    "server-filesystem",
    "server-memory",
    "github-mcp",
}


def entry(name: str, **fields: Any) -> CatalogEntry:
    fields.setdefault("category", "utilities")
    return CatalogEntry(name=name, description=f"{name} server", version="1.0", **fields)


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# ---- built-in entries ---------------------------------------------------------------------


def test_builtin_entries_load_with_valid_schemas() -> None:
    entries = load_builtin()
    assert {e.name for e in entries} == EXPECTED
    for item in entries:
        Draft202012Validator.check_schema(item.configuration_schema)
        assert item.official
        assert item.description
        assert item.last_updated is not None
        assert item.packages or item.remotes
        assert not item.custom


def test_builtin_launch_data() -> None:
    by_name = {e.name: e for e in load_builtin()}
    time = by_name["mcp-server-time"].packages[0]
    assert (time.registry_type, time.version, time.executable) == (
        "pypi",
        "2026.10.19",
        "mcp-server-time",
    )
    assert time.arguments == (("--local-timezone", "{local_timezone}"),)
    assert by_name["server-everything"].packages[0].version == "2026.8.31"
    assert by_name["mcp-server-fetch"].packages[0].version is None
    http = by_name["server-everything-http"].packages[0]
    assert (http.transport, http.port_env, http.path) == ("streamable-http", "PORT", "/mcp")
    assert http.arguments == (("streamableHttp",),)
    fs = by_name["server-filesystem"]
    assert fs.packages[0].arguments == (("{directories}",),)
    assert fs.configuration_schema["required"] == ["directories"]
    memory = by_name["server-memory"].packages[0].environment[0]
    assert (memory.name, memory.value, memory.is_secret) == (
        "MEMORY_FILE_PATH",
        "{memory_file_path}",
        False,
    )
    github = by_name["github-mcp"]
    assert github.packages == ()
    assert github.installation_method == "remote"
    remote = github.remotes[0]
    assert remote.url == "https://api.githubcopilot.com/mcp/"
    assert remote.headers == (("Authorization", "Bearer {api_token}"),)
    assert by_name["mcp-server-git"].installation_method == "pip"
    assert by_name["server-memory"].installation_method == "npm"


def test_builtin_schemas_accept_and_reject_configurations() -> None:
    by_name = {e.name: e for e in load_builtin()}
    validate_configuration(by_name["github-mcp"].configuration_schema, {"api_token": "ghp_x1"})
    with pytest.raises(Invalid) as caught:
        validate_configuration(by_name["server-filesystem"].configuration_schema, {})
    assert caught.value.field == "directories"


# ---- search -------------------------------------------------------------------------------


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(load_builtin())


def test_search_defaults_to_popularity_desc_with_name_tiebreak(catalog: Catalog) -> None:
    page = catalog.search(CatalogQuery())
    names = [e.name for e in page.entries]
    assert page.total == len(EXPECTED)
    assert not page.has_more
    # github-mcp and server-filesystem share 4.8: the name breaks the tie, ascending
    assert names[:3] == ["github-mcp", "server-filesystem", "mcp-server-fetch"]
    pops = [e.popularity for e in page.entries]
    assert pops == sorted(pops, reverse=True)


def test_search_matches_text_case_insensitively(catalog: Catalog) -> None:
    assert [e.name for e in catalog.search(CatalogQuery(query="GitHub")).entries] == ["github-mcp"]
    # a capability, a tag, the author, a description word
    assert "server-memory" in {
        e.name for e in catalog.search(CatalogQuery(query="read_graph")).entries
    }
    assert {e.name for e in catalog.search(CatalogQuery(query="timezone")).entries} == {
        "mcp-server-time"
    }
    assert catalog.search(CatalogQuery(query="model context protocol")).total == 7
    assert catalog.search(CatalogQuery(query="no-such-thing")).total == 0


def test_search_filters(catalog: Catalog) -> None:
    devops = catalog.search(CatalogQuery(category="DevOps"))
    assert {e.name for e in devops.entries} == {"github-mcp", "mcp-server-git"}
    catalog.add(entry("homemade", category="devops"))
    assert catalog.search(CatalogQuery(category="devops")).total == 3
    official = catalog.search(CatalogQuery(category="devops", official_only=True))
    assert {e.name for e in official.entries} == {"github-mcp", "mcp-server-git"}


def test_search_sorts_by_name_and_updated() -> None:
    catalog = Catalog(
        [
            entry("b", last_updated=datetime(2026, 1, 1, tzinfo=UTC)),
            entry("a", last_updated=datetime(2026, 3, 1, tzinfo=UTC)),
            entry("c"),
            entry("d", last_updated=datetime(2026, 1, 1, tzinfo=UTC)),
        ]
    )

    def names(**query: Any) -> list[str]:
        return [e.name for e in catalog.search(CatalogQuery(**query)).entries]

    assert names(sort="name", order="asc") == ["a", "b", "c", "d"]
    assert names(sort="name", order="desc") == ["d", "c", "b", "a"]
    assert names(sort="updated", order="desc") == ["a", "b", "d", "c"]
    assert names(sort="updated", order="asc") == ["b", "d", "a", "c"]


def test_search_paginates(catalog: Catalog) -> None:
    everything = [e.name for e in catalog.search(CatalogQuery(sort="name", order="asc")).entries]
    first = catalog.search(CatalogQuery(sort="name", order="asc", limit=3, page=1))
    third = catalog.search(CatalogQuery(sort="name", order="asc", limit=3, page=3))
    assert [e.name for e in first.entries] == everything[:3]
    assert first.has_more
    assert first.total == 8
    assert [e.name for e in third.entries] == everything[6:]
    assert not third.has_more
    assert catalog.search(CatalogQuery(limit=3, page=9)).entries == []
    with pytest.raises(Invalid) as caught:
        catalog.search(CatalogQuery(page=0))
    assert caught.value.field == "page"


def test_search_reports_installed_names_on_the_page(catalog: Catalog) -> None:
    page = catalog.search(CatalogQuery(query="git"), installed={"mcp-server-git", "server-memory"})
    assert page.installed == frozenset({"mcp-server-git"})
    assert [page.is_installed(e) for e in page.entries] == [
        e.name == "mcp-server-git" for e in page.entries
    ]


def test_get_and_not_found(catalog: Catalog) -> None:
    assert catalog.get("github-mcp").author == "GitHub"
    with pytest.raises(NotFound) as caught:
        catalog.get("github")
    assert caught.value.reason == "SERVER_NOT_FOUND"
    assert "github-mcp" in caught.value.message
    assert "server-memory" in catalog
    assert len(catalog) == 8
    catalog.remove("server-memory")
    assert "server-memory" not in catalog.names()


# ---- categories ---------------------------------------------------------------------------


def test_categories_count_live_entries(catalog: Catalog) -> None:
    catalog.add(entry("weird", category="quantum_tools"))
    categories = {c.name: c for c in catalog.categories()}
    assert categories["devops"].server_count == 2
    assert categories["development"].server_count == 2
    assert categories["ai"].display_name == "AI & Machine Learning"
    assert categories["database"].server_count == 0  # known categories are always listed
    assert categories["custom"].server_count == 0
    assert categories["quantum_tools"].display_name == "Quantum Tools"
    assert categories["quantum_tools"].server_count == 1
    assert sum(c.server_count for c in categories.values()) == len(catalog)
    assert [c.name for c in catalog.categories()][:3] == ["ai", "database", "devops"]


# ---- data/mcp_servers.json ----------------------------------------------------------------


def test_custom_file_missing_is_empty(tmp_path: Path) -> None:
    assert load_custom(tmp_path / "mcp_servers.json") == []


def test_custom_file_in_seed_format(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mcp_servers.json",
        {
            "version": 1,
            "servers": [
                {
                    "name": "custom-server",
                    "type": "custom",
                    "url": "http://localhost:8080",
                    "description": "Custom MCP server",
                    "category": "custom",
                },
                {
                    "name": "legacy-sse",
                    "url": "https://mcp.example.com/sse",
                    "transport": "sse",
                    "headers": {"Authorization": "Bearer abc"},
                },
                {
                    "name": "local-tool",
                    "command": "uvx",
                    "args": ["my-mcp", "--verbose"],
                    "env": {"LEVEL": "debug"},
                    "transport": "stdio",
                },
            ],
        },
    )
    remote, sse, local = load_custom(path)
    assert remote.custom
    assert remote.category == "custom"
    assert remote.remotes[0].url == "http://localhost:8080"
    assert remote.remotes[0].transport == "streamable-http"
    assert remote.installation_method == "remote"
    assert sse.remotes[0].transport == "sse"
    assert sse.remotes[0].headers == (("Authorization", "Bearer abc"),)
    assert (local.command, local.args, local.env) == (
        "uvx",
        ("my-mcp", "--verbose"),
        (("LEVEL", "debug"),),
    )
    assert local.installation_method == "command"
    assert local.remotes == ()


def test_custom_entries_override_builtin(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mcp_servers.json",
        {"version": 1, "servers": [{"name": "github-mcp", "url": "https://gh.internal/mcp"}]},
    )
    catalog = Catalog.load(path)
    assert catalog.get("github-mcp").custom
    assert catalog.get("github-mcp").remotes[0].url == "https://gh.internal/mcp"
    assert len(catalog) == len(EXPECTED)
    assert Catalog.load(tmp_path / "absent.json").get("github-mcp").official


@pytest.mark.parametrize(
    ("server", "field"),
    [
        ({"name": "x", "url": "ftp://host/x"}, "servers[2].url"),
        ({"name": "x"}, "servers[2].url"),
        ({"name": "bad name!", "url": "https://h/"}, "servers[2].name"),
        ({"name": "x", "command": "run", "args": "--flag"}, "servers[2].args"),
        ({"name": "x", "command": "run", "env": {"A": ["list"]}}, "servers[2].env.A"),
        ({"name": "x", "url": "https://h/", "transport": "carrier-pigeon"}, "servers[2].transport"),
        ({"name": "x", "url": "https://h/", "transport": "stdio"}, "servers[2].transport"),
        ({"name": "ok", "url": "https://h/"}, "servers[2].name"),  # a duplicate
        ("not an object", "servers[2]"),
    ],
)
def test_malformed_custom_file_names_file_and_entry(
    tmp_path: Path, server: Any, field: str
) -> None:
    path = write(
        tmp_path / "mcp_servers.json",
        {
            "version": 1,
            "servers": [
                {"name": "ok", "url": "https://h/"},
                {"name": "fine", "command": "run"},
                server,
            ],
        },
    )
    with pytest.raises(Invalid) as caught:
        load_custom(path)
    assert caught.value.field == field
    assert str(path) in caught.value.message


def test_unparseable_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "mcp_servers.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(Invalid, match="not valid JSON"):
        load_custom(path)
    write(path, {"servers": {"name": "x"}})
    with pytest.raises(Invalid) as caught:
        load_custom(path)
    assert caught.value.field == "servers"
    assert str(path) in caught.value.message
