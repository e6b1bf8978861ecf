"""Parses and checks an uploaded MLS KeyPackage (RFC 9420 §10, bare TLS form as libxmtp uploads it).

The node needs the installation key (the LeafNode's signature_key) and an expiry. It also does the checks
that need no identity state: structure, protocol version, a known ciphersuite, leaf source, both
SignWithLabel signatures (LeafNodeTBS and KeyPackageTBS), init_key ≠ encryption_key and the lifetime.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from devnode.errors import InvalidInput, MalformedData
from devnode.tls import TlsReader, encode_vector

_LEAF_SOURCE_KEY_PACKAGE = 1
_LEAF_SOURCE_COMMIT = 3
_CREDENTIAL_BASIC = 1
_CREDENTIAL_X509 = 2
_CLOCK_SKEW_S = 3600


@dataclass(frozen=True)
class KeyPackageInfo:
    """What the node keeps about a validated key package."""

    installation_key: bytes
    cipher_suite: int
    credential_type: int
    credential_identity: bytes
    not_before: int
    not_after: int


def _verify_ed25519(key: bytes, sig: bytes, msg: bytes) -> None:
    Ed25519PublicKey.from_public_bytes(key).verify(sig, msg)


def _verify_ed448(key: bytes, sig: bytes, msg: bytes) -> None:
    Ed448PublicKey.from_public_bytes(key).verify(sig, msg)


def _ecdsa(curve: ec.EllipticCurve, digest: hashes.HashAlgorithm) -> Callable[[bytes, bytes, bytes], None]:
    def verify(key: bytes, sig: bytes, msg: bytes) -> None:
        ec.EllipticCurvePublicKey.from_encoded_point(curve, key).verify(sig, msg, ec.ECDSA(digest))

    return verify


# RFC 9420 §17.1: the signature scheme of each registered ciphersuite (XMTP itself uses suite 3).
_SIGNATURE_SCHEMES: dict[int, Callable[[bytes, bytes, bytes], None]] = {
    1: _verify_ed25519,
    2: _ecdsa(ec.SECP256R1(), hashes.SHA256()),
    3: _verify_ed25519,
    4: _verify_ed448,
    5: _ecdsa(ec.SECP521R1(), hashes.SHA512()),
    6: _verify_ed448,
    7: _ecdsa(ec.SECP384R1(), hashes.SHA384()),
}


def sign_content(label: str, content: bytes) -> bytes:
    """The SignContent struct that SignWithLabel signs (RFC 9420 §5.1.2)."""
    return encode_vector(b"MLS 1.0 " + label.encode()) + encode_vector(content)


def _verify_with_label(suite: int, key: bytes, label: str, content: bytes, signature: bytes) -> None:
    try:
        _SIGNATURE_SCHEMES[suite](key, signature, sign_content(label, content))
    except (InvalidSignature, ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidInput(f"key package: bad {label} signature") from exc


def _skip_extensions(reader: TlsReader, what: str) -> None:
    exts = reader.sub_reader(what)
    seen: set[int] = set()
    while exts.remaining:
        ext_type = exts.u16()
        if ext_type in seen:
            raise MalformedData(f"key package: duplicate {what} entry of type {ext_type:#06x}")
        seen.add(ext_type)
        exts.vector()


def _read_credential(reader: TlsReader) -> tuple[int, bytes]:
    cred_type = reader.u16()
    if cred_type == _CREDENTIAL_BASIC:
        return cred_type, reader.vector()
    if cred_type == _CREDENTIAL_X509:
        return cred_type, reader.vector()  # the certificate chain, kept opaque
    raise MalformedData(f"key package: unsupported credential_type {cred_type}")


def _skip_capabilities(reader: TlsReader) -> None:
    for _ in range(5):  # versions, cipher_suites, extensions, proposals, credentials
        reader.vector()


def parse_key_package(data: bytes, *, now: int | None = None) -> KeyPackageInfo:
    """Validate a bare TLS-serialised KeyPackage and return its installation key and lifetime.

    Raises `InvalidInput` (or its `MalformedData` subclass) for anything that is not a well-formed,
    correctly signed, currently valid key package. `now` is Unix seconds (defaults to the clock).
    """
    reader = TlsReader(data, "key package")
    version = reader.u16()
    if version != 1:
        raise MalformedData(f"key package: unsupported protocol version {version}")
    suite = reader.u16()
    if suite not in _SIGNATURE_SCHEMES:
        raise InvalidInput(f"key package: unsupported ciphersuite {suite:#06x}")
    init_key = reader.vector()

    leaf_start = reader.offset()
    encryption_key = reader.vector()
    signature_key = reader.vector()
    cred_type, cred_identity = _read_credential(reader)
    _skip_capabilities(reader)
    source = reader.u8()
    if source != _LEAF_SOURCE_KEY_PACKAGE:
        raise InvalidInput(f"key package: leaf_node_source is {source}, must be key_package (1)")
    not_before, not_after = reader.u64(), reader.u64()
    _skip_extensions(reader, "leaf extensions")
    leaf_tbs = reader.consumed_since(leaf_start)
    leaf_signature = reader.vector()

    _skip_extensions(reader, "extensions")
    kp_tbs = reader.consumed_since(0)
    kp_signature = reader.vector()
    reader.expect_end()

    if not init_key or not encryption_key or not signature_key:
        raise InvalidInput("key package: empty init_key, encryption_key or signature_key")
    if init_key == encryption_key:
        raise InvalidInput("key package: init_key equals the leaf encryption_key")
    _verify_with_label(suite, signature_key, "LeafNodeTBS", leaf_tbs, leaf_signature)
    _verify_with_label(suite, signature_key, "KeyPackageTBS", kp_tbs, kp_signature)
    _check_lifetime(not_before, not_after, int(time.time()) if now is None else now)
    return KeyPackageInfo(
        installation_key=signature_key,
        cipher_suite=suite,
        credential_type=cred_type,
        credential_identity=cred_identity,
        not_before=not_before,
        not_after=not_after,
    )


def _check_lifetime(not_before: int, not_after: int, now: int) -> None:
    if not_before > not_after:
        raise InvalidInput("key package: lifetime not_before is after not_after")
    # Allow some clock skew: libxmtp back-dates not_before by an hour and clocks differ.
    if now + _CLOCK_SKEW_S < not_before:
        raise InvalidInput("key package: not valid yet (lifetime not_before in the future)")
    if now > not_after:
        raise InvalidInput("key package: expired (lifetime not_after has passed)")
