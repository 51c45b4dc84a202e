"""The MCP server catalogue: built-in entries, `data/mcp_servers.json`, search and categories.

Built-in entries live in `catalog.json`, in the MCP Registry `server.json` shape with our
marketplace fields beside it, so that an entry copied from the registry needs few changes.
`data/mcp_servers.json` (PodPlay's seed format) adds custom servers and overrides built-in ones
of the same name.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Set
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from menagerie.core.errors import Invalid, NotFound
from menagerie.core.tools.clientconfig import (
    check_http_url,
    check_name,
    parse_transport,
    string_list,
    string_map,
)
from menagerie.core.tools.models import (
    CatalogEntry,
    CatalogPage,
    CatalogQuery,
    Category,
    EnvVariable,
    Package,
    Remote,
)

CUSTOM_FILE = "mcp_servers.json"

# name -> (display name, description, icon); the order is the order categories are listed in
KNOWN_CATEGORIES: dict[str, tuple[str, str, str]] = {
    "ai": ("AI & Machine Learning", "AI model integrations and ML tools", "🤖"),
    "database": ("Database", "Database connectors and management tools", "🗄️"),
    "devops": ("DevOps", "Development and deployment tools", "⚙️"),
    "web": ("Web & Browsing", "Web fetching, browsing and search", "🌐"),
    "files": ("Files & Storage", "File systems and storage services", "📁"),
    "utilities": ("Utilities", "Small everyday helpers", "🧰"),
    "development": ("Development", "Developer tools and reference servers", "💻"),
    "custom": ("Custom", "Servers you added yourself", "🧩"),
}


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _package(data: dict[str, Any]) -> Package:
    transport = data.get("transport") or {"type": "stdio"}
    return Package(
        registry_type=data["registryType"],
        identifier=data["identifier"],
        version=data.get("version"),
        transport=parse_transport(transport.get("type", "stdio"), "transport.type"),
        executable=data.get("executable"),
        arguments=tuple(tuple(group) for group in data.get("arguments", ())),
        environment=tuple(
            EnvVariable(
                name=env["name"],
                value=env.get("value", ""),
                description=env.get("description", ""),
                is_secret=bool(env.get("isSecret", False)),
            )
            for env in data.get("environmentVariables", ())
        ),
        port_env=data.get("portEnv"),
        path=data.get("path") or "/mcp",
    )


def entry_from_json(data: dict[str, Any]) -> CatalogEntry:
    """One entry of `catalog.json` (server.json fields in camelCase, ours in snake_case)."""
    return CatalogEntry(
        name=data["name"],
        description=data.get("description", ""),
        version=data.get("version") or "latest",
        category=data.get("category", "custom"),
        packages=tuple(_package(p) for p in data.get("packages", ())),
        remotes=tuple(
            Remote(
                transport=parse_transport(r.get("type", "streamable-http"), "remotes.type"),
                url=r["url"],
                headers=tuple((h["name"], h["value"]) for h in r.get("headers", ())),
            )
            for r in data.get("remotes", ())
        ),
        repository_url=(data.get("repository") or {}).get("url"),
        tags=tuple(data.get("tags", ())),
        author=data.get("author", ""),
        popularity=float(data.get("popularity", 0.0)),
        downloads=int(data.get("downloads", 0)),
        official=bool(data.get("official", False)),
        capabilities=tuple(data.get("capabilities", ())),
        dependencies=tuple(data.get("dependencies", ())),
        configuration_schema=data.get("configuration_schema") or {"type": "object"},
        last_updated=_parse_time(data.get("last_updated")),
        network=bool(data.get("network", True)),
    )


def load_builtin() -> list[CatalogEntry]:
    # read through importlib.resources so that an installed wheel (or a zip) works the same;
    # a broken built-in is a packaging bug and fails loudly
    text = resources.files("menagerie.core.tools").joinpath("catalog.json").read_text("utf-8")
    return [entry_from_json(item) for item in json.loads(text)]


def _optional_str(spec: dict[str, Any], key: str, where: str, default: str) -> str:
    value = spec.get(key, default)
    if not isinstance(value, str):
        raise Invalid(
            f"{where}.{key}: expected a string",
            field=f"{where}.{key}",
            received=value,
            expected="string",
        )
    return value


def _custom_entry(spec: Any, where: str, updated: datetime | None = None) -> CatalogEntry:
    if not isinstance(spec, dict):
        raise Invalid(f"{where}: expected an object", field=where, received=spec, expected="object")
    name = check_name(spec.get("name"), f"{where}.name")
    has_url, has_command = "url" in spec, "command" in spec
    if has_url == has_command:
        raise Invalid(
            f"{where}: a custom server needs exactly one of `url` or `command`",
            field=f"{where}.url",
            received=None,
            expected="url or command",
            missing=not has_url,
        )
    default_transport = "stdio" if has_command else "streamable-http"
    transport = parse_transport(spec.get("transport", default_transport), f"{where}.transport")
    if (transport == "stdio") != has_command:
        raise Invalid(
            f"{where}.transport: {transport} does not fit a server given by "
            f"{'command' if has_command else 'url'}",
            field=f"{where}.transport",
            received=spec.get("transport"),
            expected="stdio with command, http or sse with url",
        )
    schema = spec.get("configuration_schema", {"type": "object"})
    if not isinstance(schema, dict):
        raise Invalid(
            f"{where}.configuration_schema: expected a JSON Schema object",
            field=f"{where}.configuration_schema",
            received=schema,
            expected="object",
        )
    common: dict[str, Any] = {
        "name": name,
        "description": _optional_str(spec, "description", where, "Custom MCP server"),
        "version": _optional_str(spec, "version", where, "custom"),
        "category": _optional_str(spec, "category", where, "custom"),
        "author": _optional_str(spec, "author", where, ""),
        "tags": string_list(spec.get("tags", []), f"{where}.tags"),
        "configuration_schema": schema,
        "custom": True,
        # the entry says when it changed, else its file does
        "last_updated": _parse_time(spec.get("last_updated")) or updated,
    }
    if has_url:
        remote = Remote(
            transport=transport,
            url=check_http_url(spec["url"], f"{where}.url"),
            headers=tuple(string_map(spec.get("headers", {}), f"{where}.headers").items()),
        )
        return CatalogEntry(**common, remotes=(remote,))
    command = spec["command"]
    if not isinstance(command, str) or not command.strip():
        raise Invalid(
            f"{where}.command: expected a non-empty string",
            field=f"{where}.command",
            received=command,
            expected="non-empty string",
        )
    return CatalogEntry(
        **common,
        command=command,
        args=string_list(spec.get("args", []), f"{where}.args"),
        env=tuple(string_map(spec.get("env", {}), f"{where}.env").items()),
    )


def load_custom(path: Path) -> list[CatalogEntry]:
    """Entries of `data/mcp_servers.json`; a missing file is an empty list."""
    try:
        text = path.read_text(encoding="utf-8")
        updated = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise Invalid(f"{path}: not valid JSON: {error}", expected="JSON object") from None
    try:
        if not isinstance(data, dict) or not isinstance(data.get("servers"), list):
            raise Invalid(
                'expected {"version": 1, "servers": [...]}',
                field="servers",
                received=type(data.get("servers") if isinstance(data, dict) else data).__name__,
                expected="array of servers",
            )
        if data.get("version", 1) != 1:
            raise Invalid(
                f"unsupported version {data['version']!r}",
                field="version",
                received=data["version"],
                expected="1",
            )
        entries: dict[str, CatalogEntry] = {}
        for index, spec in enumerate(data["servers"]):
            entry = _custom_entry(spec, f"servers[{index}]", updated)
            if entry.name in entries:
                raise Invalid(
                    f"servers[{index}].name: {entry.name!r} is listed twice",
                    field=f"servers[{index}].name",
                    received=entry.name,
                    expected="a unique name",
                )
            entries[entry.name] = entry
    except Invalid as error:
        # name the file: the same message otherwise could come from any configuration
        raise Invalid(
            f"{path}: {error.message}",
            field=error.field,
            received=error.received,
            expected=error.expected,
            missing=error.missing,
        ) from None
    return list(entries.values())


def _matches(entry: CatalogEntry, terms: list[str]) -> bool:
    haystack = " ".join(
        [entry.name, entry.description, entry.author, *entry.tags, *entry.capabilities]
    ).lower()
    return all(term in haystack for term in terms)


class Catalog:
    """The servers one can install; custom entries replace built-in ones of the same name."""

    def __init__(self, entries: Iterable[CatalogEntry] = ()) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        for entry in entries:
            self.add(entry)

    @classmethod
    def load(cls, custom_path: Path | None = None) -> Catalog:
        custom = load_custom(custom_path) if custom_path is not None else []
        return cls([*load_builtin(), *custom])

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def entries(self) -> list[CatalogEntry]:
        return list(self._entries.values())

    def names(self) -> list[str]:
        return sorted(self._entries)

    def add(self, entry: CatalogEntry) -> None:
        self._entries[entry.name] = entry

    def remove(self, name: str) -> None:
        self.get(name)
        del self._entries[name]

    def get(self, name: str) -> CatalogEntry:
        entry = self._entries.get(name)
        if entry is not None:
            return entry
        hints = difflib.get_close_matches(name, self._entries, n=3) or self.names()[:5]
        raise NotFound(
            f"MCP server '{name}' is not in the catalogue; available: {', '.join(hints)}"
            + (" …" if len(self._entries) > len(hints) else ""),
            reason="SERVER_NOT_FOUND",
        )

    def search(self, q: CatalogQuery, installed: Set[str] = frozenset()) -> CatalogPage:
        if q.page < 1 or q.limit < 1:
            bad = "page" if q.page < 1 else "limit"
            raise Invalid(
                f"{bad} must be at least 1",
                field=bad,
                received=getattr(q, bad),
                expected="integer >= 1",
            )
        terms = (q.query or "").lower().split()
        category = (q.category or "").strip().lower()
        found = [
            e
            for e in self._entries.values()
            if (not category or e.category.lower() == category)
            and (not q.official_only or e.official)
            and _matches(e, terms)
        ]
        # sort by name first: Python's sort is stable, even reversed, so name breaks ties
        found.sort(key=lambda e: e.name.lower())
        descending = q.order == "desc"
        if q.sort == "name":
            found.sort(key=lambda e: e.name.lower(), reverse=descending)
        elif q.sort == "updated":
            dated = [e for e in found if e.last_updated is not None]
            dated.sort(key=lambda e: e.last_updated or datetime.min, reverse=descending)
            found = dated + [e for e in found if e.last_updated is None]
        else:
            found.sort(key=lambda e: e.popularity, reverse=descending)
        start = (q.page - 1) * q.limit
        page = found[start : start + q.limit]
        return CatalogPage(
            entries=page,
            total=len(found),
            page=q.page,
            limit=q.limit,
            installed=frozenset(e.name for e in page if e.name in installed),
        )

    def categories(self) -> list[Category]:
        counts: dict[str, int] = dict.fromkeys(KNOWN_CATEGORIES, 0)
        unknown: dict[str, int] = {}
        for entry in self._entries.values():
            name = entry.category.lower()
            target = counts if name in counts else unknown
            target[name] = target.get(name, 0) + 1
        result = [
            Category(name, *KNOWN_CATEGORIES[name], server_count=count)
            for name, count in counts.items()
        ]
        result += [
            Category(
                name,
                name.replace("_", " ").replace("-", " ").title(),
                f"{name.replace('_', ' ').replace('-', ' ').title()} servers",
                "📦",
                server_count=count,
            )
            for name, count in sorted(unknown.items())
        ]
        return result
