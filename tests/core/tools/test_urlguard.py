"""The URL guard against SSRF, and its pin against DNS rebinding.

A configured URL is checked when it is installed; an attacker's name server can then answer a
public address to that check and a private one a moment later, when the connection is made.
Every outbound MCP HTTP connection therefore resolves the name itself, checks every address
it got and connects to one of those very addresses (the name still in `Host` and TLS SNI).

The resolver is the process's own `socket.getaddrinfo`, which the tests patch for names under
`.menagerie.test` only: the name answers a public address, then 127.0.0.1, where a listener of
the test counts the connections it accepts.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from menagerie.core.errors import Invalid
from menagerie.core.redact import Redactor
from menagerie.core.tools.models import LaunchPlan
from menagerie.core.tools.session import McpSession
from menagerie.core.tools.urlguard import check_url, guarded_http_client, resolve_checked
from tests.utils.server import serve

PUBLIC = "93.184.215.14"  # a global address; nothing here ever connects to it
SUFFIX = ".menagerie.test"


class Dns:
    """`socket.getaddrinfo` for the test's own names; any other name is resolved for real."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.answers: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def getaddrinfo(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not name.endswith(SUFFIX):
            return self._real(host, port, family, type, proto, flags)
        self.asked.append(name)
        if name not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        number = int(port or 0)
        infos: list[Any] = []
        for address in self.answers[name]:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, number, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, number)))
        return infos


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Dns:
    resolver = Dns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", resolver.getaddrinfo)  # undone after the test
    return resolver


class Listener:
    """A TCP listener on loopback that counts what connects to it (and answers nothing)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()


# --- the check itself ----------------------------------------------------------------------


async def test_a_public_answer_is_returned_as_the_address_to_use(dns: Dns) -> None:
    dns.answers["api" + SUFFIX] = [PUBLIC]
    addresses = await resolve_checked("api" + SUFFIX, 443, allow_private=False)
    assert addresses == [ipaddress.ip_address(PUBLIC)]
    await check_url(f"https://api{SUFFIX}/mcp", allow_private=False)


@pytest.mark.parametrize(
    ("answers", "word"),
    [
        (["127.0.0.1"], "loopback"),
        ([PUBLIC, "10.1.2.3"], "private"),  # one bad address among good ones is enough
        (["169.254.169.254"], "link-local"),  # the cloud metadata service
        (["::ffff:127.0.0.1"], "loopback"),  # IPv4 dressed as IPv6
    ],
)
async def test_a_private_answer_is_refused(dns: Dns, answers: list[str], word: str) -> None:
    dns.answers["inside" + SUFFIX] = answers
    with pytest.raises(Invalid) as refused:
        await resolve_checked("inside" + SUFFIX, 80, allow_private=False)
    assert refused.value.reason == "URL_NOT_ALLOWED"
    assert word in refused.value.message


async def test_private_addresses_pass_where_the_operator_allows_them(dns: Dns) -> None:
    dns.answers["inside" + SUFFIX] = ["127.0.0.1"]
    addresses = await resolve_checked("inside" + SUFFIX, 80, allow_private=True)
    assert addresses == [ipaddress.ip_address("127.0.0.1")]
    # a literal address is not looked up at all
    assert await resolve_checked("10.0.0.7", 80, allow_private=True) == [
        ipaddress.ip_address("10.0.0.7")
    ]
    assert dns.asked == ["inside" + SUFFIX]


# --- rebinding: a public answer at the check, loopback at the connection ------------------


async def test_the_http_client_refuses_a_name_rebound_after_its_check(dns: Dns) -> None:
    name = "rebind" + SUFFIX
    async with Listener() as inside:
        url = f"http://{name}:{inside.port}/mcp"
        dns.answers[name] = [PUBLIC]
        await check_url(url, allow_private=False)  # what installation checks: it passes
        dns.answers[name] = ["127.0.0.1"]  # the attacker's name server changes its answer

        async with guarded_http_client(allow_private=False) as client:
            with pytest.raises(httpx2.ConnectError) as refused:
                await client.get(url)
        assert "loopback" in str(refused.value)
        assert inside.accepted == 0  # nothing reached the private address
        assert dns.asked.count(name) == 2  # once to check, once (checked again) to connect


async def test_an_mcp_session_never_connects_to_a_rebound_name(dns: Dns) -> None:
    name = "rebind-mcp" + SUFFIX
    async with Listener() as inside:
        url = f"http://{name}:{inside.port}/mcp"
        dns.answers[name] = [PUBLIC]
        await check_url(url, allow_private=False)
        dns.answers[name] = ["127.0.0.1"]
        session = McpSession(
            "rebound",
            LaunchPlan("streamable-http", url=url),
            redactor=Redactor(),
            connect_timeout_s=10,
        )
        await session.start()  # returns after the first attempt to connect
        try:
            assert session.state in ("offline", "starting"), session.state
            assert session.error is not None
            assert "loopback" in session.error
            assert inside.accepted == 0
        finally:
            await session.stop()


# --- an allowed name still connects, to the address it resolved, as itself ---------------


@pytest.fixture
async def mcp_server() -> AsyncIterator[tuple[int, list[str]]]:
    """A streamable-HTTP MCP server on loopback that only accepts `mcp.menagerie.test` in
    `Host` (the SDK's own DNS-rebinding protection); yields its port and the hosts it saw."""
    server = MCPServer("pinned")

    @server.tool()
    def ping() -> str:
        """Answer pong."""
        return "pong"

    app = server.streamable_http_app(
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=[f"mcp{SUFFIX}:*"]
        )
    )
    hosts: list[str] = []

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            hosts.append(dict(scope["headers"]).get(b"host", b"").decode())
        await app(scope, receive, send)

    async with serve(recording) as base:  # type: ignore[arg-type]
        yield int(base.rsplit(":", 1)[1]), hosts


async def test_an_allowed_name_connects_and_keeps_its_host(
    dns: Dns, mcp_server: tuple[int, list[str]]
) -> None:
    port, hosts = mcp_server
    name = "mcp" + SUFFIX
    dns.answers[name] = ["127.0.0.1"]
    session = McpSession(
        "pinned",
        LaunchPlan("streamable-http", url=f"http://{name}:{port}/mcp"),
        redactor=Redactor(),
        connect_timeout_s=20,
        allow_private_urls=True,  # the operator's choice: this server is on the inside
    )
    await session.start()
    try:
        assert session.state == "running", session.error
        result = await session.call_tool("ping", {})
        assert not result.is_error
        assert "pong" in str(result.content)
    finally:
        await session.stop()
    assert hosts
    assert set(hosts) == {f"{name}:{port}"}
    assert name in dns.asked


def _certificates(tmp_path: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A CA (written where SSL_CERT_FILE will point) and a server context for `name`."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "menagerie test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "server.pem"
    chain.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain)
    return ca_file, context


async def test_tls_verifies_and_names_the_original_host(
    dns: Dns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "tls" + SUFFIX
    ca_file, context = _certificates(tmp_path, name)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    server_names: list[str | None] = []
    context.sni_callback = lambda _sock, sni, _ctx: server_names.append(sni)  # type: ignore[assignment]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        host = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"host:")
        )
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (len(host), host)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    dns.answers[name] = ["127.0.0.1"]
    try:
        async with guarded_http_client(allow_private=True) as client:
            response = await client.get(f"https://{name}:{port}/")
        assert response.status_code == 200
        assert response.text == f"{name}:{port}"  # Host: the name, not the address
        assert server_names == [name]  # SNI: the name too; the certificate was checked for it
    finally:
        server.close()
        await server.wait_closed()
