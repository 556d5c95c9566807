"""The client's HTTP transport: kept connections that the server closed, compressed answers, TLS.

The emulator serves plain HTTP; the TLS and compression tests run a small server of their own on
a loopback port (a certificate made here, trusted through REQUESTS_CA_BUNDLE as in production).
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from personas_app.devtools.emulator import EmulatorState, RunningEmulator
from personas_app.tavus import TavusClient, TavusUnavailable, transport
from personas_app.tavus import client as client_module

PERSONA = {"persona_id": "p1", "persona_name": "Kai", "system_prompt": "Hi." * 200}


def _drop_kept_connections(server: RunningEmulator) -> None:
    """What a server does to connections idle past its keep-alive limit: hang up."""
    inner = server._server
    with inner._connections_lock:
        connections = list(inner._connections)
    for connection in connections:
        # One already hung up (its handler has not yet ended and forgotten it) raises ENOTCONN.
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


def test_a_kept_connection_the_server_closed_is_replaced_without_an_error(
    emulator_server: RunningEmulator, emu: EmulatorState
) -> None:
    client = TavusClient(emu.api_key, emulator_server.url, max_retries=0)
    client.list_personas()
    opened = emulator_server._server.connections_opened

    _drop_kept_connections(emulator_server)

    assert client.list_personas()["total_count"] == 3
    _drop_kept_connections(emulator_server)
    created = client.create_persona({"persona_name": "Kai", "system_prompt": "Hi."})  # a write

    assert created["persona_name"] == "Kai"
    assert emulator_server._server.connections_opened == opened + 2


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    encoding = ""

    def do_GET(self) -> None:
        body = json.dumps(PERSONA).encode()
        if self.encoding == "gzip":
            body = gzip.compress(body)
        elif self.encoding == "deflate":
            body = zlib.compress(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.encoding:
            self.send_header("Content-Encoding", self.encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[ThreadingHTTPServer] = []

    def start(encoding: str = "", tls: ssl.SSLContext | None = None) -> str:
        handler = type("Handler", (_Handler,), {"encoding": encoding})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    transport.close_idle()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", ""])
def test_compressed_answers_are_read_as_json(serve: object, encoding: str) -> None:
    url = serve(encoding)  # type: ignore[operator]
    assert TavusClient("tvs-key-123456", url).get_persona("p1") == PERSONA


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 and the file that makes clients trust it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """The environment is read once per process; these tests change it."""
    for cached in (client_module._environment_settings, client_module._origin):
        cached.cache_clear()
    yield
    for cached in (client_module._environment_settings, client_module._origin):
        cached.cache_clear()


def test_https_verifies_the_server_against_the_configured_bundle(
    serve: object,
    certificate: tuple[ssl.SSLContext, Path],
    fresh_settings: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context, cert_file = certificate
    url = serve(tls=context)  # type: ignore[operator]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))

    client = TavusClient("tvs-key-123456", url, max_retries=0)

    assert client.get_persona("p1") == PERSONA
    assert client.get_persona("p1") == PERSONA  # over the kept connection


def test_https_refuses_a_server_it_cannot_verify(
    serve: object,
    certificate: tuple[ssl.SSLContext, Path],
    fresh_settings: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context, _ = certificate
    url = serve(tls=context)  # type: ignore[operator]
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)

    with pytest.raises(TavusUnavailable) as caught:
        TavusClient("tvs-key-123456", url, max_retries=0).get_persona("p1")

    assert caught.value.reason == "connection"
    assert "tvs-key-123456" not in str(caught.value)
