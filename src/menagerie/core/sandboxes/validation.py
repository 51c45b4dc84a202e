"""What a sandbox request may ask for: names, sizes within the tier, environment, directory."""

from __future__ import annotations

import posixpath
import re

from menagerie.core.errors import Invalid
from menagerie.core.sandboxes.models import TierLimits

MAX_NAME = 200
MAX_ENV_VARS = 100
MAX_ENV_VALUE = 8192
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# the sandbox's system directories: a workspace mounted over one would hide or replace it
RESERVED_ROOTS = frozenset(
    {"", "bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "proc", "root", "run", "sbin"}
    | {"sys", "tmp", "usr", "var"}
)


def name(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_NAME:
        raise Invalid(
            f"name must be text of 1 to {MAX_NAME} characters",
            field="name",
            received=value if isinstance(value, str | None) else "<not text>",
            expected=f"1-{MAX_NAME} characters",
            missing=value is None,
        )
    return text


def within_tier(field: str, value: int, maximum: int | float, tier: str, limit_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(
            f"{field} must be a whole number of at least 1",
            field=field,
            received=value,
            expected="an integer >= 1",
        )
    if value > maximum:
        raise Invalid(
            f"{field} {value} is above the {tier} tier's {limit_name} of {maximum:g}",
            field=field,
            received=value,
            expected=f"1-{maximum:g}",
            details={"limit": maximum, "tier": tier},
        )
    return value


def sizes(
    *, vcpus: int, memory_mb: int, timeout_minutes: int, tier: str, limits: TierLimits
) -> None:
    within_tier("vcpus", vcpus, limits.max_vcpus, tier, "maxVcpus")
    within_tier("memoryMb", memory_mb, limits.max_memory_mb, tier, "maxMemoryMb")
    within_tier(
        "timeoutMinutes", timeout_minutes, limits.max_timeout_minutes, tier, "maxTimeoutMinutes"
    )


def environment(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise Invalid("environment must be an object", field="environment", expected="object")
    if len(value) > MAX_ENV_VARS:
        raise Invalid(
            f"environment holds at most {MAX_ENV_VARS} variables",
            field="environment",
            received=len(value),
            expected=f"<= {MAX_ENV_VARS} variables",
        )
    for key, item in value.items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise Invalid(
                f"environment variable name {key!r} is not a valid name",
                field="environment",
                received=key,
                expected="[A-Za-z_][A-Za-z0-9_]*",
            )
        if not isinstance(item, str) or len(item) > MAX_ENV_VALUE or "\x00" in item:
            raise Invalid(
                f"environment variable {key} must be text of at most {MAX_ENV_VALUE} characters",
                field="environment",
                received=key,
                expected="a string",
            )
    return dict(value)


def working_directory(value: str) -> str:
    normal = posixpath.normpath(value) if isinstance(value, str) and value else ""
    first = normal.split("/")[1] if normal.startswith("/") and normal != "/" else ""
    if (
        not normal.startswith("/")
        or ".." in value.split("/")
        or first in RESERVED_ROOTS
        or len(normal) > 256
        or "\x00" in normal
    ):
        raise Invalid(
            "workingDirectory must be an absolute path outside the system directories",
            field="workingDirectory",
            received=value,
            expected="an absolute path such as /vercel/sandbox or /workspace",
        )
    return normal
