"""Hand-built TLS/MLS bytes and request builders for devnode tests (xmtp_core codec helpers only, no structs)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from xmtp_core.mls.codec import encode_vec as vec
from xmtp_core.protos.identity.credential_pb2 import MlsCredential
from xmtp_core.protos.mls.api.v1 import mls_pb2

SHARED_VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "mls-test-vectors"


def u8(v: int) -> bytes:
    return v.to_bytes(1, "big")


def u16(v: int) -> bytes:
    return v.to_bytes(2, "big")


def u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


def u64(v: int) -> bytes:
    return v.to_bytes(8, "big")


def sign_content(label: str, content: bytes) -> bytes:
    """The SignContent struct that SignWithLabel signs (RFC 9420 §5.1.2), built by hand like the rest here."""
    return vec(b"MLS 1.0 " + label.encode()) + vec(content)


@dataclass(frozen=True)
class TopicRow:
    """The least a broker or stream row needs (`devnode.broker.Topical`), for tests without a database."""

    id: int
    topic: bytes
    size: int = 1


def private_message(group_id: bytes, content_type: int = 1, epoch: int = 1, ciphertext: bytes | None = None) -> bytes:
    """MLSMessage{version 1, wire_format 2 (PrivateMessage)} with opaque sender data and ciphertext."""
    body = ciphertext if ciphertext is not None else os.urandom(24)
    return u16(1) + u16(2) + vec(group_id) + u64(epoch) + u8(content_type) + vec(b"") + vec(os.urandom(12)) + vec(body)


def public_message(group_id: bytes, content_type: int = 3, epoch: int = 1, sender_type: int = 1) -> bytes:
    """MLSMessage{wire_format 1 (PublicMessage)}: header, sender, authenticated_data, content_type, content."""
    sender = u8(sender_type) + (u32(0) if sender_type in (1, 2) else b"")
    return u16(1) + u16(1) + vec(group_id) + u64(epoch) + sender + vec(b"") + u8(content_type) + vec(b"content")


def group_input(data: bytes, sender_hmac: bytes = b"hmac", should_push: bool = True) -> mls_pb2.GroupMessageInput:
    return mls_pb2.GroupMessageInput(
        v1=mls_pb2.GroupMessageInput.V1(data=data, sender_hmac=sender_hmac, should_push=should_push)
    )


def send_request(*datas: bytes) -> mls_pb2.SendGroupMessagesRequest:
    return mls_pb2.SendGroupMessagesRequest(messages=[group_input(d) for d in datas])


def welcome_v1(installation_key: bytes, data: bytes, metadata: bytes = b"meta") -> mls_pb2.WelcomeMessageInput:
    return mls_pb2.WelcomeMessageInput(
        v1=mls_pb2.WelcomeMessageInput.V1(
            installation_key=installation_key,
            data=data,
            hpke_public_key=b"hpke-pk",
            wrapper_algorithm=2,  # type: ignore[arg-type]
            welcome_metadata=metadata,
        )
    )


def welcome_pointer(installation_key: bytes, pointer: bytes) -> mls_pb2.WelcomeMessageInput:
    return mls_pb2.WelcomeMessageInput(
        welcome_pointer=mls_pb2.WelcomeMessageInput.WelcomePointer(
            installation_key=installation_key,
            welcome_pointer=pointer,
            hpke_public_key=b"hpke-pk",
            wrapper_algorithm=2,  # type: ignore[arg-type]
        )
    )


@dataclass
class KeyPackageParts:
    """Knobs for building a key package; defaults give a valid, signed, current suite-3 key package."""

    version: int = 1
    suite: int = 3
    leaf_source: int = 1
    not_before: int | None = None
    not_after: int | None = None
    same_init_and_encryption_key: bool = False
    corrupt_leaf_signature: bool = False
    corrupt_signature: bool = False
    trailing: bytes = b""
    inbox_id: str = "a" * 64


def key_package(signer: Ed25519PrivateKey | None = None, parts: KeyPackageParts | None = None) -> tuple[bytes, bytes]:
    """Return (TLS KeyPackage bytes, installation key) signed with SignWithLabel as RFC 9420 §10 says."""
    signer = signer or Ed25519PrivateKey.generate()
    p = parts or KeyPackageParts()
    now = int(time.time())
    pub = signer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    init_key = os.urandom(32)
    enc_key = init_key if p.same_init_and_encryption_key else os.urandom(32)
    credential = u16(1) + vec(MlsCredential(inbox_id=p.inbox_id).SerializeToString())  # basic credential
    capabilities = vec(u16(1)) + vec(u16(3)) + vec(u16(0xFF01)) + vec(u16(7)) + vec(u16(1))
    lifetime = u64(p.not_before if p.not_before is not None else now - 3600)
    lifetime += u64(p.not_after if p.not_after is not None else now + 84 * 86400)
    leaf_tbs = vec(enc_key) + vec(pub) + credential + capabilities + u8(p.leaf_source) + lifetime + vec(b"")
    leaf_sig = signer.sign(sign_content("LeafNodeTBS", leaf_tbs))
    if p.corrupt_leaf_signature:
        leaf_sig = bytes([leaf_sig[0] ^ 1]) + leaf_sig[1:]
    kp_tbs = u16(p.version) + u16(p.suite) + vec(init_key) + leaf_tbs + vec(leaf_sig) + vec(u16(0x000A) + vec(b""))
    kp_sig = signer.sign(sign_content("KeyPackageTBS", kp_tbs))
    if p.corrupt_signature:
        kp_sig = bytes([kp_sig[0] ^ 1]) + kp_sig[1:]
    return kp_tbs + vec(kp_sig) + p.trailing, pub


def upload_request(kp: bytes) -> mls_pb2.UploadKeyPackageRequest:
    return mls_pb2.UploadKeyPackageRequest(
        key_package=mls_pb2.KeyPackageUpload(key_package_tls_serialized=kp), is_inbox_id_credential=True
    )
