"""Configuration schemas, validation, secret handling and the URL guard."""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import socket
import time
from typing import Any

import pytest

from menagerie.core.errors import Invalid
from menagerie.core.tools.configuration import (
    call_timeout,
    collect_secrets,
    merge_configuration,
    needs_restart,
    normalize_schema,
    redact_configuration,
    secret_keys,
    validate_configuration,
)
from menagerie.core.tools.secrets import looks_secret, mask
from menagerie.core.tools.urlguard import check_url

SEED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_token": {"type": "string", "required": True},
        "organization": {"type": "string"},
    },
}

# ---- schema normalisation -----------------------------------------------------------------


def test_seed_required_flags_become_a_required_list() -> None:
    original = copy.deepcopy(SEED_SCHEMA)
    normalized = normalize_schema(SEED_SCHEMA)
    assert normalized == {
        "type": "object",
        "properties": {"api_token": {"type": "string"}, "organization": {"type": "string"}},
        "required": ["api_token"],
    }
    assert original == SEED_SCHEMA  # the input is left alone


def test_nested_and_mixed_required_flags() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "integer", "required": False},
            "c": {
                "type": "object",
                "required": True,
                "properties": {"d": {"type": "string", "required": True}},
            },
        },
    }
    normalized = normalize_schema(schema)
    assert normalized["required"] == ["a", "c"]
    assert "required" not in normalized["properties"]["b"]
    assert normalized["properties"]["c"]["required"] == ["d"]
    assert "required" not in normalized["properties"]["c"]["properties"]["d"]


def test_standard_schema_unchanged() -> None:
    schema = {
        "type": "object",
        "properties": {"x": {"type": "string", "enum": ["a"], "default": {"required": True}}},
        "required": ["x"],
        "additionalProperties": False,
    }
    assert normalize_schema(schema) == schema
    assert normalize_schema(None) == {"type": "object"}


# ---- validation ---------------------------------------------------------------------------


def field_of(schema: Any, config: dict[str, Any]) -> Invalid:
    with pytest.raises(Invalid) as caught:
        validate_configuration(schema, config)
    assert caught.value.reason == "INVALID_CONFIGURATION"
    return caught.value


def test_validation_names_the_field() -> None:
    missing = field_of(SEED_SCHEMA, {"organization": "acme"})
    assert (missing.field, missing.missing, missing.expected) == ("api_token", True, "string")
    wrong = field_of(SEED_SCHEMA, {"api_token": "ghp_abcdef", "organization": 7})
    assert (wrong.field, wrong.received, wrong.expected) == ("organization", 7, "string")
    nested = {
        "type": "object",
        "properties": {"dirs": {"type": "array", "items": {"type": "string", "minLength": 1}}},
    }
    assert field_of(nested, {"dirs": ["ok", ""]}).field == "dirs[1]"
    closed = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": False,
    }
    unknown = field_of(closed, {"a": "x", "zzz": 1})
    assert unknown.field == "zzz"
    assert "Unknown" in unknown.message


def test_reserved_keys_allowed_and_shape_checked() -> None:
    closed = {"type": "object", "properties": {}, "additionalProperties": False}
    validate_configuration(
        closed,
        {
            "env": {"A": "1"},
            "headers": {"X": "y"},
            "args": ["--x"],
            "url": "https://example.com/mcp",
            "command": "run",
        },
    )
    assert field_of(closed, {"env": {"A": 1}}).field == "env.A"
    assert field_of(closed, {"args": "--x"}).field == "args"
    assert field_of(closed, {"args": ["ok", 3]}).field == "args[1]"
    assert field_of(closed, {"headers": []}).field == "headers"
    assert field_of(closed, {"url": 5}).field == "url"
    assert field_of(None, {"command": ["a"]}).field == "command"


def test_timeout_is_a_reserved_key_every_server_accepts() -> None:
    closed = {"type": "object", "properties": {}, "additionalProperties": False}
    # the seed's own reconfiguration of github-mcp, whose schema allows no other keys
    github = {
        "type": "object",
        "properties": {"api_token": {"type": "string", "secret": True}},
        "required": ["api_token"],
        "additionalProperties": False,
    }
    validate_configuration(github, {"api_token": "new_token_here", "timeout": 30})
    validate_configuration(closed, {"timeout": 0.5})
    for wrong in (0, -1, 601, "30", True, None):
        problem = field_of(closed, {"timeout": wrong})
        assert (problem.field, problem.reason) == ("timeout", "INVALID_CONFIGURATION"), wrong


def test_call_timeout_and_restarts() -> None:
    assert call_timeout({"timeout": 30}, 5.0) == 30.0
    assert call_timeout({}, 5.0) == 5.0
    assert call_timeout({"timeout": "x"}, 5.0) == 5.0
    # a call timeout applies to the next call: only other keys need the server restarted
    assert not needs_restart({"a": 1}, {"a": 1, "timeout": 30})
    assert needs_restart({"a": 1}, {"a": 2, "timeout": 30})


def test_validation_never_echoes_a_secret() -> None:
    schema = {"type": "object", "properties": {"api_token": {"type": "string", "maxLength": 4}}}
    error = field_of(schema, {"api_token": "canary-too-long-secret"})
    assert error.field == "api_token"
    assert error.received is None
    assert "canary" not in error.message


def test_broken_schema_is_reported() -> None:
    with pytest.raises(Invalid) as caught:
        validate_configuration({"type": "object", "properties": {"a": {"type": 12}}}, {})
    assert caught.value.reason == "INVALID_CONFIGURATION_SCHEMA"


# ---- secrets ------------------------------------------------------------------------------


def test_secret_names() -> None:
    for name in ("api_token", "GITHUB_TOKEN", "apiKey", "X-API-Key", "access_key", "password",
                 "Authorization", "Proxy-Authorization", "Cookie", "GITHUB_PAT", "client_secret",
                 "private_key", "credentials", "passwd"):  # fmt: skip
        assert looks_secret(name), name
    for name in ("keyboard", "author", "path", "organization", "user_agent", "MEMORY_FILE_PATH",
                 "repository", "monkey"):  # fmt: skip
        assert not looks_secret(name), name


def test_secret_keys_from_schema_marks_and_names() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "secret": True},
            "b": {"type": "string", "writeOnly": True},
            "c": {"type": "string", "format": "password"},
            "api_token": {"type": "string"},
            "organization": {"type": "string"},
        },
    }
    assert secret_keys(schema) == {"a", "b", "c", "api_token"}


CANARIES = {
    "key": "canary-schema-key-0001",
    "env": "canary-env-value-0002",
    "bearer": "canary-bearer-0003",
    "xapikey": "canary-xapikey-0004",
    "flag": "canary-flag-0005",
    "equals": "canary-equals-0006",
    "userinfo": "canary-userinfo-0007",
    "query": "canary-query-0008",
}


def planted() -> dict[str, Any]:
    return {
        "hidden": CANARIES["key"],
        "organization": "acme-corp",
        "env": {"SERVICE_API_TOKEN": CANARIES["env"], "LOG_LEVEL": "debug-verbose"},
        "headers": {
            "Authorization": f"Bearer {CANARIES['bearer']}",
            "X-API-Key": CANARIES["xapikey"],
            "Accept": "application/json",
        },
        "args": [
            "--token",
            CANARIES["flag"],
            f"--api-key={CANARIES['equals']}",
            "--verbose",
            "--name",
            "visible-name",
        ],
        "url": f"https://alice:{CANARIES['userinfo']}@mcp.example.com/v1?api_key="
        f"{CANARIES['query']}&page=2",
    }


SCHEMA = {"type": "object", "properties": {"hidden": {"type": "string", "secret": True}}}


def test_every_planted_secret_is_collected() -> None:
    found = collect_secrets(SCHEMA, planted())
    for canary in CANARIES.values():
        assert canary in found, canary
    assert f"Bearer {CANARIES['bearer']}" in found
    assert "acme-corp" not in found
    assert "visible-name" not in found
    assert "debug-verbose" not in found
    assert collect_secrets(SCHEMA, {"hidden": "short"}) == []  # under 6 characters


def test_redaction_removes_every_secret_and_keeps_the_rest() -> None:
    config = planted()
    before = copy.deepcopy(config)
    redacted = redact_configuration(SCHEMA, config)
    text = json.dumps(redacted)
    for canary in CANARIES.values():
        assert canary not in text, canary
    assert config == before  # a copy, never the stored configuration
    assert redacted["hidden"] == "***_redacted"
    assert redacted["organization"] == "acme-corp"
    assert redacted["env"] == {"SERVICE_API_TOKEN": "***_redacted", "LOG_LEVEL": "debug-verbose"}
    assert redacted["headers"] == {
        "Authorization": "Bearer ***_redacted",
        "X-API-Key": "***_redacted",
        "Accept": "application/json",
    }
    assert redacted["args"] == [
        "--token",
        "***_redacted",
        "--api-key=***_redacted",
        "--verbose",
        "--name",
        "visible-name",
    ]
    assert redacted["url"] == "https://alice:***@mcp.example.com/v1?api_key=***_redacted&page=2"


def test_masks_look_like_the_seed() -> None:
    config = {"api_token": "ghp_your_token_here", "organization": "your-org"}
    assert redact_configuration(SEED_SCHEMA, config) == {
        "api_token": "ghp_***_redacted",
        "organization": "your-org",
    }
    assert mask("sk-proj-abcdefghijkl") == "sk-***_redacted"
    assert mask("hunter2hunter2") == "***_redacted"
    assert mask("ab_short") == "***_redacted"  # a prefix would give most of it away


def test_a_secret_repeated_elsewhere_is_masked_too() -> None:
    token = "canary-repeated-0009"
    config = {"env": {"GITHUB_TOKEN": token}, "command": f"run --header=x:{token}"}
    redacted = redact_configuration(None, config)
    assert token not in json.dumps(redacted)
    assert redacted["command"] == "run --header=x:***_redacted"


def test_header_line_in_args_is_redacted() -> None:
    config = {"args": ["mcp-remote", "--header", "Authorization: Bearer canary-line-0010"]}
    assert "canary-line-0010" in collect_secrets(None, config)
    assert redact_configuration(None, config)["args"][2] == "Authorization: Bearer ***_redacted"


def test_merge_keeps_secrets_sent_back_redacted() -> None:
    old = planted() | {"timeout": 10}
    read_back = redact_configuration(SCHEMA, old)
    assert merge_configuration(old, read_back) == old
    changed = merge_configuration(old, {"hidden": "new-secret-value", "organization": None})
    assert changed["hidden"] == "new-secret-value"
    assert "organization" not in changed
    assert changed["timeout"] == 10
    assert changed["env"] == old["env"]  # untouched keys stay: a merge patch
    replaced = merge_configuration(old, {"hidden": "***_redacted"}, replace=True)
    assert replaced == {"hidden": CANARIES["key"]}


def test_merge_refuses_a_mask_with_nothing_behind_it() -> None:
    with pytest.raises(Invalid) as caught:
        merge_configuration({}, {"api_token": "ghp_***_redacted"})
    assert caught.value.field == "api_token"
    with pytest.raises(Invalid) as caught:
        merge_configuration({"api_token": "xyz_abcdefgh"}, {"api_token": "ghp_***_redacted"})
    assert caught.value.field == "api_token"


# ---- the URL guard ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/mcp",
        "http://localhost/mcp",
        "http://LOCALHOST./mcp",
        "http://api.localhost/mcp",
        "http://10.0.0.1/",
        "http://192.168.1.20/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/mcp",
        "http://[::ffff:127.0.0.1]/mcp",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "https:///no-host",
    ],
)
async def test_check_url_rejects(url: str) -> None:
    with pytest.raises(Invalid) as caught:
        await check_url(url, allow_private=False)
    assert (caught.value.reason, caught.value.field) == ("URL_NOT_ALLOWED", "url")


async def test_check_url_allows_public_literal_without_dns() -> None:
    await check_url("https://93.184.216.34/mcp", allow_private=False)
    await check_url("http://[2606:2800:220:1:248:1893:25c8:1946]/mcp", allow_private=False)
    await check_url("https://[::ffff:93.184.216.34]/", allow_private=False)


async def test_allow_private_lets_local_servers_through() -> None:
    await check_url("http://127.0.0.1:8080/mcp", allow_private=True)
    await check_url("http://localhost:3001/mcp", allow_private=True)
    with pytest.raises(Invalid):
        await check_url("file:///etc/passwd", allow_private=True)


async def test_check_url_resolves_names() -> None:
    with pytest.raises(Invalid, match="could not be resolved") as caught:
        await check_url("https://no-such-host.invalid/mcp", allow_private=False)
    assert caught.value.reason == "URL_NOT_ALLOWED"
    # a name that resolves to this machine's own addresses is refused like the address itself
    host = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, 80)}
    except OSError:
        pytest.skip("this machine's name does not resolve")
    if all(not ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        with pytest.raises(Invalid):
            await check_url(f"http://{host}/", allow_private=False)


async def test_url_error_does_not_echo_credentials() -> None:
    with pytest.raises(Invalid) as caught:
        await check_url("http://bob:canary-url-0011@127.0.0.1/", allow_private=False)
    assert "canary-url-0011" not in json.dumps(caught.value.details)


async def test_resolving_a_name_never_blocks_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a resolver that takes its time, as a slow DNS server does
    def slow_getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        time.sleep(0.5)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    counting = asyncio.create_task(ticker())
    try:
        await check_url("https://mcp.example.com/mcp", allow_private=False)
    finally:
        counting.cancel()
    # the loop went on serving others while the name resolved (a blocked loop counts ~0)
    assert ticks >= 20
