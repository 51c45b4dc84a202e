"""What a configuration may ask for: its schema, who may choose what runs, where it may point.

A command line, or a variable that makes a loader or an interpreter run code, is code run on
this machine: only an administrator may choose one. URLs must not reach private networks
unless the operator allows it (no SSRF through the marketplace).
"""

from __future__ import annotations

import re
from typing import Any

from menagerie.core.errors import Forbidden
from menagerie.core.identity.models import Principal
from menagerie.core.tools.configuration import validate_configuration
from menagerie.core.tools.models import CatalogEntry
from menagerie.core.tools.urlguard import check_url

CODE_LOADING_ENV = re.compile(
    r"^(LD_|DYLD_|PYTHON|NODE_OPTIONS$|NODE_PATH$|PATH$|BASH_ENV$|ENV$|PERL5|RUBYOPT$|"
    r"RUBYLIB$|JAVA_TOOL_OPTIONS$|_JAVA_OPTIONS$|GIT_)",
    re.IGNORECASE,
)


async def check_configuration(
    principal: Principal,
    entry: CatalogEntry,
    configuration: dict[str, Any],
    current: dict[str, Any],
    allow_private_urls: bool,
) -> None:
    """Raise unless `principal` may replace `current` by `configuration` for `entry`."""
    validate_configuration(entry.configuration_schema, configuration)
    if not principal.is_admin:
        command, args = configuration.get("command"), configuration.get("args")
        if command and (command != current.get("command") or args != current.get("args")):
            raise Forbidden(
                "only an administrator may choose the command line a server starts with",
                reason="INSUFFICIENT_PERMISSIONS",
            )
        risky = sorted(n for n in configuration.get("env") or {} if CODE_LOADING_ENV.match(n))
        if risky:
            raise Forbidden(
                f"only an administrator may set {', '.join(risky)}: it makes the server "
                "load other code",
                reason="INSUFFICIENT_PERMISSIONS",
                details={"field": f"env.{risky[0]}"},
            )
    url = configuration.get("url")
    if isinstance(url, str):
        await check_url(url, allow_private=allow_private_urls)
    elif entry.custom and entry.remotes and not entry.packages:
        await check_url(entry.remotes[0].url, allow_private=allow_private_urls)
