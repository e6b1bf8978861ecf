"""https:// URLs use TLS (verified against the given roots), http:// URLs use h2c: checked against a local server."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import AsyncIterator

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from xmtp_core.node import NodeClient, NodeUnavailable
from xmtp_core.protos.mls.api.v1 import mls_pb2


def self_signed() -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for localhost / 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
async def tls_node() -> AsyncIterator[tuple[int, bytes]]:
    """A server answering QueryGroupMessages with one message, on a TLS-only port."""
    cert, key = self_signed()

    async def query(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        asked = mls_pb2.QueryGroupMessagesRequest.FromString(request)
        message = mls_pb2.GroupMessage(v1=mls_pb2.GroupMessage.V1(id=1, group_id=asked.group_id, data=b"over tls"))
        return mls_pb2.QueryGroupMessagesResponse(messages=[message]).SerializeToString()

    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(query)
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("xmtp.mls.api.v1.MlsApi", {"QueryGroupMessages": handler})]
    )
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)]))
    await server.start()
    try:
        yield port, cert
    finally:
        await server.stop(None)


async def test_https_uses_tls_with_the_given_roots(tls_node: tuple[int, bytes]) -> None:
    port, cert = tls_node
    async with NodeClient.for_url(f"https://localhost:{port}", root_certificates=cert) as client:
        page = await client.query_group_messages(b"g")
    assert [m.data for m in page.items] == [b"over tls"]


async def test_https_refuses_an_untrusted_certificate(tls_node: tuple[int, bytes]) -> None:
    port, _ = tls_node
    async with NodeClient.for_url(f"https://localhost:{port}", call_timeout_s=10.0) as client:
        with pytest.raises(NodeUnavailable):
            await client.query_group_messages(b"g")


async def test_http_does_not_speak_tls(tls_node: tuple[int, bytes]) -> None:
    port, _ = tls_node
    async with NodeClient.for_url(f"http://127.0.0.1:{port}", call_timeout_s=10.0) as client:
        with pytest.raises(NodeUnavailable):
            await client.query_group_messages(b"g")
