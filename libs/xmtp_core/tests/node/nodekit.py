"""Builders for node-client tests: MLS framing, signed key packages and identity updates from xmtp_core itself."""

from __future__ import annotations

import os
import secrets

from xmtp_core.identity import InstallationKeySigner, LocalWalletSigner, build_register
from xmtp_core.mls.framing import MLSMessage, PrivateMessage
from xmtp_core.mls.own_key_package import create_key_package
from xmtp_core.node import BackoffPolicy
from xmtp_core.protos.identity.associations import association_pb2
from xmtp_core.xmtp_mls.credential import build_credential

# Fast reconnects so restart tests do not sit in gRPC's or our own backoff.
FAST_BACKOFF = BackoffPolicy(initial_s=0.05, maximum_s=0.5, max_retries=200)
FAST_CHANNEL = {"min_reconnect_backoff_ms": 50, "max_reconnect_backoff_ms": 300, "call_timeout_s": 20.0}

SUITE = 1  # MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519: Ed25519 signatures, like XMTP's suite 3
CONTENT_APPLICATION = 1
CONTENT_COMMIT = 3


def group_message(group_id: bytes, body: bytes | None = None, *, commit: bool = False) -> bytes:
    """An MLSMessage(PrivateMessage) with opaque ciphertext: enough framing for the node to file it."""
    content_type = CONTENT_COMMIT if commit else CONTENT_APPLICATION
    message = PrivateMessage(group_id, 1, content_type, b"", os.urandom(12), body or os.urandom(24))
    return MLSMessage.wrap(message).to_bytes()


def key_package(seed: bytes | None = None) -> tuple[bytes, bytes]:
    """(TLS-serialized KeyPackage, installation key); a fresh Ed25519 signature key unless `seed` is given."""
    seed = seed or secrets.token_bytes(32)
    # The node reads the credential as XMTP's MlsCredential{inbox_id}; this inbox has no log, so it is served.
    bundle = create_key_package(SUITE, seed, build_credential(secrets.token_hex(32)))
    return bundle.key_package.to_bytes(), bundle.key_package.leaf_node.signature_key


async def registration() -> tuple[association_pb2.IdentityUpdate, str]:
    """A signed CreateInbox + AddAssociation update for a fresh wallet, and that wallet's address."""
    wallet = LocalWalletSigner.generate()
    update = await build_register(wallet, InstallationKeySigner.generate())
    return update, wallet.identifier.address
