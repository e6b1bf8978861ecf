"""A passkey's clientDataJSON is attacker bytes: bounded size and nesting, refused with the typed error."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from xmtp_core.identity import SignatureVerificationError
from xmtp_core.identity.signatures import (
    MAX_CLIENT_DATA_JSON_BYTES,
    PasskeySignature,
    parse_client_data,
    verify_signature_sync,
    webauthn_challenge,
)

TEXT = "XMTP : Authenticate to inbox\n"


def signed_passkey(client_data: bytes) -> PasskeySignature:
    """A real P-256 signature over `client_data`, so only the client data can be what is refused."""
    private = ec.generate_private_key(ec.SECP256R1())
    authenticator_data = hashlib.sha256(b"example.com").digest() + b"\x05" + (1).to_bytes(4, "big")
    der = private.sign(authenticator_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
    public = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return PasskeySignature(public, der, authenticator_data, client_data)


@pytest.mark.parametrize(
    "client_data",
    [
        b"[" * 100_000,  # far past the recursion limit: json.loads raised RecursionError here
        b"[" * 2_000 + b"]" * 2_000,  # under the size limit, still too deep
        b'{"origin": "o", "challenge": ' + b"[" * 1_500 + b"]" * 1_500 + b"}",
        b'{"origin": "https://a", "challenge": "' + b"x" * MAX_CLIENT_DATA_JSON_BYTES + b'"}',
        b'{"origin": 5, "challenge": "c"}',
        b'["origin", "challenge"]',
        b"\xff\xfe",
    ],
)
def test_hostile_client_data_is_a_signature_error(client_data: bytes) -> None:
    with pytest.raises(SignatureVerificationError):
        parse_client_data(client_data)
    with pytest.raises(SignatureVerificationError):
        verify_signature_sync(TEXT, signed_passkey(client_data))


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    origin = 'https://example.com/[[[[[[{{{{{{\\"'
    client_data = json.dumps({"type": "webauthn.get", "challenge": webauthn_challenge(TEXT), "origin": origin})
    assert parse_client_data(client_data.encode()) == (origin, webauthn_challenge(TEXT))
    verified = verify_signature_sync(TEXT, signed_passkey(client_data.encode()))
    assert verified.signer.kind.name == "PASSKEY"


def test_nested_token_binding_is_accepted() -> None:
    client_data = {"type": "webauthn.get", "challenge": webauthn_challenge(TEXT), "origin": "https://a"}
    client_data["tokenBinding"] = {"status": "present", "id": "x"}  # type: ignore[assignment]
    verify_signature_sync(TEXT, signed_passkey(json.dumps(client_data).encode()))
