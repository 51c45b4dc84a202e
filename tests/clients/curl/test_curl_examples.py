"""The seeds' `curl` examples, run as a user runs them: the real curl binary against a live
Menagerie on loopback, with only the host changed (see examples.txt for the format and the
placeholders). Each example must answer the status its seed documents, with the top-level
fields of the seed's JSON response, or an SSE stream ending in `data: [DONE]`.

One pair of servers per database engine, for the whole module: `dev` (dev mode on, where the
seeds' header-less and X-Vault-Id examples are meant to work) and `production` (dev mode off,
where the runner appends `Authorization: Bearer <API key>` to an example without a credential).
Examples of routes the contract lists as pending are kept, and skipped with that issue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shlex
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest
import pytest_asyncio
from pydantic import SecretStr

from menagerie.app import create_app
from menagerie.core.clock import utcnow
from menagerie.platform import Platform
from menagerie.settings import Settings
from tests.contract import seeds
from tests.contract.harness import Contract
from tests.contract.specs.madace import CONTRACT as MADACE
from tests.contract.specs.metamorph import CONTRACT as METAMORPH
from tests.utils.databases import (
    IN_CI,
    TEST_DATABASE_URL,
    create_postgres_database,
    drop_postgres_database,
    reachable,
)
from tests.utils.fake_llm import FakeLLM
from tests.utils.model_server import free_port
from tests.utils.server import serve

EXAMPLES = Path(__file__).with_name("examples.txt")
CONTRACTS: dict[str, Contract] = {"001": MADACE, "003": METAMORPH}
MASTER_KEY = "test-master-key-0123456789abcdef"
VAULT_SECRET = "curl-examples-vault-secret-0123456789abcdef"
GEMINI_KEY = "AIza-curl-examples-0123456789abcdef"
AGENT = "chat-assistant-001"
SERVERS = ("dev", "production")
CURL_TIMEOUT_S = 30
# examples the server answers otherwise than the seed documents: (seed, line) -> why
# examples the server answers otherwise than the seed documents: (seed, line) -> the status
# it answers instead (only that status is an expected failure; any other still fails) and why
# (seed, line) -> (status, why): an example the server is known to answer wrongly; empty now
XFAIL: dict[tuple[str, int], tuple[int, str]] = {}

_HEADER = re.compile(r"^\[(\d{3}):(\d+)\] ([A-Z]+) (/\S*)$")
_PLACEHOLDER = re.compile(r"\{[A-Z_]+\}")
_ASSIGNED = re.compile(r"^\s*([A-Za-z_]\w*)=\$\((.*)\)\s*$", re.S)


# -- the fixture file ------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    seed: str
    line: int
    method: str
    route: str  # the contract's spelling: /api/x/{}
    status: int
    fields: tuple[str, ...]  # ("sse",) for a stream
    text: str  # the example, placeholders in it
    was: tuple[tuple[str, str], ...] = ()
    needs: frozenset[str] = frozenset()
    file: str | None = None
    servers: tuple[str, ...] = SERVERS
    pending: str | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.route}"

    @property
    def name(self) -> str:
        return f"{self.seed}:{self.line}"

    @property
    def contract(self) -> Contract:
        return CONTRACTS[self.seed]


def load_examples(path: Path = EXAMPLES) -> list[Example]:
    found = []
    blocks = re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))
    for block in blocks:
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        if not lines:
            continue
        header = _HEADER.match(lines[0])
        assert header, f"examples.txt: not an entry header: {lines[0]!r}"
        seed, line, method, route = header.groups()
        meta: dict[str, Any] = {"was": []}
        rest = lines[1:]
        while rest and not rest[0].startswith("curl") and "=$(curl" not in rest[0]:
            name, _, value = rest.pop(0).partition(":")
            value = value.strip()
            if name == "was":
                placeholder, _, original = value.partition("=")
                meta["was"].append((placeholder, original))
            else:
                meta[name] = value
        assert rest, f"examples.txt [{seed}:{line}]: no curl command"
        found.append(
            Example(
                seed=seed,
                line=int(line),
                method=method,
                route=route,
                status=int(meta["status"]),
                fields=tuple(meta["fields"].split()) if meta["fields"] != "-" else (),
                text="\n".join(rest),
                was=tuple(meta["was"]),
                needs=frozenset(meta.get("needs", "").split()),
                file=meta.get("file"),
                servers=tuple(meta.get("servers", " ".join(SERVERS)).split()),
                pending=meta.get("pending"),
            )
        )
    return found


ALL = load_examples()


# -- turning an example into a curl argv -----------------------------------------------------


@dataclass
class Command:
    argv: list[str]  # curl and its arguments, as the example has them
    jq: list[str] = field(default_factory=list)  # the jq the example pipes into, not run


def parse(text: str) -> Command:
    """The example's curl argv: backslash-newlines joined as the shell joins them, a
    `VAR=$(...)` around it and a `| jq ...` after it taken off."""
    joined = text.replace("\\\n", "")
    assigned = _ASSIGNED.match(joined)
    if assigned:
        joined = assigned.group(2)
    lexer = shlex.shlex(joined, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    tokens = list(lexer)
    if "|" in tokens:
        cut = tokens.index("|")
        tokens, jq = tokens[:cut], tokens[cut + 1 :]
        assert jq[:1] == ["jq"], f"the example pipes into {jq!r}, not jq"
        return Command(tokens, jq[1:])
    return Command(tokens)


def has_credential(argv: list[str]) -> bool:
    headers = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("-H", "--header")]
    return any(h.lower().startswith(("authorization:", "x-vault-id:")) for h in headers)


def thirty_days_ago() -> str:
    """What `date -d '30 days ago' -Iseconds` prints: local time, seconds, its UTC offset."""
    return (datetime.now().astimezone() - timedelta(days=30)).isoformat(timespec="seconds")


def vault_token(vault_id: str) -> str:
    now = utcnow()
    claims = {"vaultId": vault_id, "sub": "curl-user", "iat": now, "exp": now + timedelta(hours=1)}
    return pyjwt.encode(claims, VAULT_SECRET, algorithm="HS256")


def apply_jq(args: list[str], body: bytes) -> None:
    """What the example's jq would do: `.` pretty-prints JSON, `-r '.a.b'` prints a string."""
    value = json.loads(body)
    path = [arg for arg in args if not arg.startswith("-")]
    assert len(path) == 1, f"unsupported jq arguments {args!r}"
    for part in filter(None, path[0].split(".")):
        assert isinstance(value, dict), f"jq {path[0]}: {value!r} is not an object"
        assert part in value, f"jq {path[0]}: no {part!r} in {value!r}"
        value = value[part]
    if "-r" in args:
        assert isinstance(value, str), f"jq -r {path[0]} prints {value!r}"
        assert value, f"jq -r {path[0]} prints an empty line"


# -- the servers -----------------------------------------------------------------------------


@dataclass
class Server:
    url: str  # http://127.0.0.1:<port>
    api_key: str | None  # None on the dev server: its examples send no credential
    http: httpx.AsyncClient  # for what an example needs first, with the same credential

    def base(self, example: Example) -> str:
        return f"{self.url}/{example.contract.dialect}"


def curl_binary() -> str:
    found = shutil.which("curl")
    if found is None:
        if IN_CI:
            pytest.fail("curl is not on PATH, and CI=true runs every client test")
        pytest.skip("curl is not on PATH (install curl to run the seeds' curl examples)")
    return found


async def _database(engine: str, home: Path, name: str) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{home / f'{name}.db'}"
    assert TEST_DATABASE_URL is not None
    return await create_postgres_database(TEST_DATABASE_URL, migrated=True)


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Server]]:
    engine = request.param
    if engine == "postgresql" and not reachable(TEST_DATABASE_URL, 5432):
        if IN_CI:
            pytest.fail("database is required under CI but not reachable")
        pytest.skip("database not configured (set MENAGERIE_TEST_DATABASE_URL)")
    curl_binary()
    home = tmp_path_factory.mktemp(f"curl-{engine}")
    urls: list[str] = []
    running: dict[str, Server] = {}
    try:
        async with FakeLLM(api_key=GEMINI_KEY) as fake, contextlib.AsyncExitStack() as stack:
            for kind in SERVERS:
                url = await _database(engine, home, kind)
                urls.append(url)
                (home / kind).mkdir()
                settings = Settings(
                    data_dir=home / kind,
                    database_url=url,
                    master_key=MASTER_KEY,
                    dev_mode=kind == "dev",
                    offline_token_delay_ms=0,
                    rate_limits_enabled=False,
                    vault_jwt_secret=SecretStr(VAULT_SECRET),
                    gemini_base_url=fake.gemini_base_url,
                    vercel_client_id="curl-examples-client",
                    vercel_client_secret=SecretStr("curl-examples-client-secret"),
                    # the seed's sync `start` names no port: each server its own, not 3001
                    madace_sync_port=free_port(),
                    _env_file=None,
                )
                platform = Platform.build(settings)
                base = await stack.enter_async_context(serve(create_app(platform=platform)))
                key = None
                if kind == "production":
                    tenant = settings.default_tenant
                    key = (await platform.api_tokens.issue_for_tenant(tenant, "curl")).token
                auth = {"Authorization": f"Bearer {key}"} if key else {}
                http = httpx.AsyncClient(headers=auth, timeout=10)
                await stack.enter_async_context(http)
                running[kind] = Server(base, key, http)
            yield running
    finally:
        if engine == "postgresql":
            assert TEST_DATABASE_URL is not None
            for url in urls:
                await drop_postgres_database(TEST_DATABASE_URL, url)


# -- what an example needs first -------------------------------------------------------------


async def prepare(server: Server, example: Example) -> dict[str, str]:
    """The placeholders' values, creating the objects the example acts on."""
    values = {
        "{BASE}": server.base(example),
        "{GEMINI_KEY}": GEMINI_KEY,
        "{TOKEN}": vault_token("my-vault"),
        "{THIRTY_DAYS_AGO}": thirty_days_ago(),
    }
    if not example.needs:
        return values
    chat = f"{server.url}/madace/api/v3/chat"
    http = server.http
    created = await http.post(f"{chat}/sessions", json={"userId": "default-user", "agentId": AGENT})
    assert created.status_code == 201, created.text
    session = created.json()["session"]["id"]
    values["{SESSION_ID}"] = session
    if "message" in example.needs:
        posted = await http.post(
            f"{chat}/sessions/{session}/messages",
            json={"role": "user", "content": "Tell me a joke about programming"},
        )
        assert posted.status_code == 201, posted.text
        values["{MESSAGE_ID}"] = posted.json()["message"]["id"]
    if "memory" in example.needs:
        saved = await http.post(
            f"{chat}/sessions/{session}/memory",
            json={
                "category": "user_preferences",
                "key": "timezone",
                "value": "America/Los_Angeles",
                "context": "User mentioned Pacific time",
                "importance": 0.2,
            },
        )
        assert saved.status_code == 201, saved.text
    return values


def substitute(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        assert match.group(0) in values, f"no value for {match.group(0)}"
        return values[match.group(0)]

    return _PLACEHOLDER.sub(one, text)


# -- running one -----------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    argv: list[str]

    def describe(self) -> str:
        return (
            f"$ {shlex.join(self.argv)}\n-> {self.status} {self.content_type}\n"
            f"{self.body[:2000].decode(errors='replace')}"
        )


async def run_curl(argv: list[str], workdir: Path) -> Answer:
    body_file = workdir / "curl-body"
    full = [
        curl_binary(),
        *argv[1:],
        # read the answer without touching the example's own flags
        "-s",
        "-S",
        "--max-time",
        str(CURL_TIMEOUT_S),
        "-o",
        str(body_file),
        "-w",
        "%{http_code} %{content_type}",
    ]
    process = await asyncio.create_subprocess_exec(
        *full,
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=CURL_TIMEOUT_S + 5)
    assert process.returncode == 0, (
        f"curl exited {process.returncode}: {err.decode()}\n$ {shlex.join(full)}"
    )
    status, _, content_type = out.decode().partition(" ")
    body = body_file.read_bytes() if body_file.exists() else b""
    return Answer(int(status), content_type.strip(), body, argv)


def check_stream(answer: Answer) -> None:
    assert answer.content_type.startswith("text/event-stream"), answer.describe()
    data = [
        line.removeprefix("data: ")
        for line in answer.body.decode().splitlines()
        if line.startswith("data: ")
    ]
    assert data, f"no `data: ` lines\n{answer.describe()}"
    assert data[-1] == "[DONE]", f"the stream does not end with `data: [DONE]`\n{answer.describe()}"
    for payload in data[:-1]:
        event = json.loads(payload)
        assert isinstance(event, dict), payload
        assert "type" in event, payload
        assert event["type"] != "error", f"the stream reports an error\n{answer.describe()}"
    assert any(json.loads(p)["type"] == "chunk" for p in data[:-1]), answer.describe()


def check_json(example: Example, answer: Answer) -> None:
    assert answer.content_type.startswith("application/json"), answer.describe()
    body = json.loads(answer.body)
    assert isinstance(body, dict), answer.describe()
    missing = [name for name in example.fields if name not in body]
    assert not missing, f"missing top-level fields {missing}\n{answer.describe()}"


def _cases() -> list[Any]:
    return [
        pytest.param(example, kind, id=f"{example.name}-{kind}")
        for example in ALL
        for kind in example.servers
    ]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("example", "kind"), _cases())
async def test_curl_example(
    servers: dict[str, Server], example: Example, kind: str, tmp_path: Path
) -> None:
    issue = example.contract.pending.get(example.key)
    if issue is not None:
        pytest.skip(f"{example.key} is pending ({issue}): seed {example.name} runs once it lands")
    server = servers[kind]
    values = await prepare(server, example)
    command = parse(substitute(example.text, values))
    assert command.argv[0] == "curl"
    if server.api_key and not has_credential(command.argv):
        command.argv += ["-H", f"Authorization: Bearer {server.api_key}"]
    if example.file:
        shown = seeds_example(example, "request")
        (tmp_path / example.file).write_text(json.dumps(shown))
    answer = await run_curl(command.argv, tmp_path)
    known = XFAIL.get((example.seed, example.line))
    if known is not None and answer.status == known[0] != example.status:
        pytest.xfail(known[1])
    assert answer.status == example.status, (
        f"seed {example.name} documents {example.status}\n{answer.describe()}"
    )
    if example.fields == ("sse",):
        check_stream(answer)
    elif example.fields:
        check_json(example, answer)
    if command.jq:
        apply_jq(command.jq, answer.body)


@pytest.mark.asyncio(loop_scope="module")
async def test_production_needs_the_appended_header(
    servers: dict[str, Server], tmp_path: Path
) -> None:
    """Why the runner appends `Authorization` there: without it, the example is refused."""
    (example,) = [e for e in ALL if e.name == "001:74"]
    values = await prepare(servers["production"], example)
    answer = await run_curl(parse(substitute(example.text, values)).argv, tmp_path)
    assert answer.status == 401, answer.describe()


# -- the fixture is the seeds' own text ------------------------------------------------------


def seeds_example(example: Example, kind: str) -> Any:
    for endpoint in seeds.endpoints(example.seed):
        if endpoint.method == example.method and seeds.normalize(endpoint.path) == example.route:
            for item in endpoint.examples:
                wanted = item.is_request if kind == "request" else item.is_response
                if wanted and item.value is not None:
                    return item.value
    return None


def _curl_lines(seed: str) -> list[int]:
    return [
        number
        for number, line in enumerate(seeds.read(seed).splitlines(), 1)
        if re.search(r"(^|\$\()curl ", line.strip())
    ]


def test_every_seed_curl_example_is_in_the_fixture() -> None:
    covered = {(example.seed, example.line) for example in ALL}
    for path in sorted(seeds.SEEDS.glob("[0-9][0-9][0-9]_*.txt")):
        seed = path.name[:3]
        for line in _curl_lines(seed):
            assert (seed, line) in covered, f"seed {seed} line {line}: a curl example not kept"
    assert len(covered) == len(ALL), "an example is listed twice"


@pytest.mark.parametrize("example", ALL, ids=[example.name for example in ALL])
def test_fixture_entry_is_the_seed_as_written(example: Example) -> None:
    restored = example.text
    for placeholder, original in example.was:
        restored = restored.replace(placeholder, original)
    leftover = [p for p in _PLACEHOLDER.findall(restored) if p != "{BASE}"]
    assert not leftover, f"placeholders without a `was:` {leftover}"
    assert "{BASE}" not in restored, "{BASE} without a `was:`"
    lines = restored.splitlines()
    seed_lines = seeds.read(example.seed).splitlines()
    shown = seed_lines[example.line - 1 : example.line - 1 + len(lines)]
    assert lines == shown, f"seed {example.name} reads:\n" + "\n".join(shown)

    # the header names the route the curl calls
    command = parse(example.text)
    method = "GET"
    for flag, value in zip(command.argv, command.argv[1:], strict=False):
        if flag in ("-X", "--request"):
            method = value
    assert method == example.method
    url = next(arg for arg in command.argv if arg.startswith("{BASE}"))
    path = url.removeprefix("{BASE}").split("?", 1)[0]
    pattern = re.escape(example.route).replace(r"\{\}", "[^/]+")
    assert re.fullmatch(pattern, path), f"{path} is not {example.route}"

    # the fields are those of the seed's response example; pending marks are the spec's
    response = seeds_example(example, "response")
    if example.fields == ("sse",):
        assert example.key in example.contract.not_json
    else:
        assert isinstance(response, dict), f"the seed shows no JSON response for {example.key}"
        assert set(example.fields) <= set(response), f"the seed shows {sorted(response)}"
    issue = example.contract.pending.get(example.key)
    if issue is not None:
        assert example.pending == issue, f"{example.key} is pending ({issue}): mark it so"
