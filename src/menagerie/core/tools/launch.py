"""From a catalogue entry, an installation's configuration and its package home to a launch plan.

The SDK starts stdio servers with an almost empty environment, so everything a server needs
is spelled out here: PATH with its own package's commands and Node.js, a home and a temporary
directory of its own, the CA bundle, then the variables its configuration sets.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import certifi

from menagerie.core.errors import Invalid
from menagerie.core.processes import free_port
from menagerie.core.tools.installer import PackageHome
from menagerie.core.tools.models import CatalogEntry, LaunchPlan, Package
from menagerie.core.tools.urlguard import check_url

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def build_plan(
    entry: CatalogEntry,
    configuration: dict[str, Any],
    *,
    home: PackageHome | None,
    workdir: Path,
) -> LaunchPlan:
    """How to start the server; a remote URL in it is not checked yet (`checked_plan` does)."""
    workdir.mkdir(parents=True, exist_ok=True)
    extra_args = [str(a) for a in configuration.get("args") or []]
    extra_env = {str(k): str(v) for k, v in (configuration.get("env") or {}).items()}
    extra_headers = {str(k): str(v) for k, v in (configuration.get("headers") or {}).items()}
    url = configuration.get("url")
    command = configuration.get("command")

    if url or (entry.remotes and not entry.packages and not entry.command and not command):
        remote = entry.remotes[0] if entry.remotes else None
        target = str(url) if url else _expand_text(remote.url if remote else "", configuration)
        headers = {k: _expand_text(v, configuration) for k, v in remote.headers} if remote else {}
        transport = remote.transport if remote else "streamable-http"
        return LaunchPlan(transport, url=target, headers={**headers, **extra_headers})

    if entry.packages and not command:
        if home is None:
            raise Invalid(f"{entry.name} is not installed yet", field="server_name")
        package = entry.packages[0]
        executable = str(home.executable(package.executable or _default_executable(package)))
        args = [*_expand_groups(package.arguments, configuration), *extra_args]
        env = {
            **base_environment(home.bin_dir, workdir),
            **{v.name: _expand_text(v.value, configuration) for v in package.environment
               if _has_values(v.value, configuration)},
            **extra_env,
        }  # fmt: skip
        if package.transport == "stdio":
            return LaunchPlan(
                "stdio", command=executable, args=tuple(args), env=env, cwd=str(workdir)
            )
        port = free_port()
        if package.port_env:
            env[package.port_env] = str(port)
        return LaunchPlan(
            package.transport,
            command=executable,
            args=tuple(args),
            env=env,
            cwd=str(workdir),
            url=f"http://127.0.0.1:{port}{package.path}",
            local_http=True,
        )

    run = str(command or entry.command or "")
    if not run:
        raise Invalid(
            f"{entry.name} has neither a package, a URL nor a command to run",
            field="configuration.command",
        )
    args = [*([] if command else entry.args), *extra_args]
    env = {**base_environment(None, workdir), **dict(entry.env), **extra_env}
    return LaunchPlan("stdio", command=run, args=tuple(args), env=env, cwd=str(workdir))


async def checked_plan(
    entry: CatalogEntry,
    configuration: dict[str, Any],
    *,
    home: PackageHome | None,
    workdir: Path,
    allow_private_urls: bool,
) -> LaunchPlan:
    """`build_plan`, its remote URL checked against the guard (a name resolved off the loop)."""
    plan = build_plan(entry, configuration, home=home, workdir=workdir)
    if plan.url is not None and not plan.local_http:
        await check_url(plan.url, allow_private=allow_private_urls)
    return plan


def base_environment(bin_dir: Path | None, workdir: Path) -> dict[str, str]:
    paths = [str(bin_dir)] if bin_dir is not None else []
    node = shutil.which("node")
    if node is not None:
        paths.append(str(Path(node).parent))
    paths.append(os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    tmp = workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    bundle = certifi.where()
    return {
        "PATH": os.pathsep.join(dict.fromkeys(paths)),
        "HOME": str(workdir),
        "TMPDIR": str(tmp),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "SSL_CERT_FILE": bundle,
        "REQUESTS_CA_BUNDLE": bundle,
        "NODE_EXTRA_CA_CERTS": bundle,
        "PYTHONUNBUFFERED": "1",
    }


def _default_executable(package: Package) -> str:
    return package.identifier.rsplit("/", 1)[-1]


def _has_values(template: str, configuration: dict[str, Any]) -> bool:
    return all(
        configuration.get(key) not in (None, "", []) for key in _PLACEHOLDER.findall(template)
    )


def _expand_text(template: str, configuration: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: _scalar(configuration.get(m.group(1), "")), template)


def _expand_groups(groups: tuple[tuple[str, ...], ...], configuration: dict[str, Any]) -> list[str]:
    tokens: list[str] = []
    for group in groups:
        if not all(_has_values(token, configuration) for token in group):
            continue  # an optional setting left out drops its flag with it
        for token in group:
            whole = _PLACEHOLDER.fullmatch(token)
            value = configuration.get(whole.group(1)) if whole else None
            if isinstance(value, list):
                tokens.extend(_scalar(item) for item in value)
            else:
                tokens.append(_expand_text(token, configuration))
    return tokens


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
