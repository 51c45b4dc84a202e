"""The layers of DESIGN.md, held by reading the source: core never speaks HTTP, dialects hold
no SQL, and only a dialect's `deps.py` defines request dependencies."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "menagerie"
HTTP_PACKAGES = {"fastapi", "starlette", "uvicorn", "socketio"}
SQL_PACKAGES = {"sqlalchemy", "aiosqlite", "asyncpg", "alembic"}
SHARED_DEPENDENCIES = {
    "get_platform",
    "require_principal",
    "optional_principal",
    "require_admin",
    "console_principal",
    "console_admin",
}


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_source_tree_is_where_the_test_looks() -> None:
    assert len(modules("core")) > 50
    assert len(modules("dialects")) > 30


@pytest.mark.parametrize("path", modules("core"), ids=lambda p: str(p.relative_to(SRC)))
def test_core_imports_nothing_from_http(path: Path) -> None:
    assert not imported(path) & HTTP_PACKAGES


@pytest.mark.parametrize(
    "path", modules("dialects") + modules("web"), ids=lambda p: str(p.relative_to(SRC))
)
def test_dialects_hold_no_sql(path: Path) -> None:
    """The console (`web/`) is a surface like a dialect: it translates, core decides."""
    assert not imported(path) & SQL_PACKAGES


@pytest.mark.parametrize(
    "path",
    [p for p in modules("dialects") + modules("web") if p.name != "deps.py"],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_only_deps_modules_define_dependencies(path: Path) -> None:
    """A route module takes `PlatformDep`, `PrincipalDep`, `AdminDep` … from its `deps.py`."""
    defined = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "Depends"
            and node.args
            and getattr(node.args[0], "id", None) in SHARED_DEPENDENCIES
        ):
            defined.append(f"line {node.lineno}: Depends({node.args[0].id})")  # type: ignore[attr-defined]
    assert not defined, defined
