"""LeafNode (RFC 9420 §7.2): the member's keys, credential, capabilities and signature over LeafNodeTBS."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import DecodeError, LifetimeError, SignatureError
from xmtp_core.mls.extensions import Capabilities, Extension, Lifetime, decode_extensions, encode_extensions

if TYPE_CHECKING:
    from xmtp_core.mls.cipher_suite import CipherSuite

SOURCE_KEY_PACKAGE = 1
SOURCE_UPDATE = 2
SOURCE_COMMIT = 3


@dataclass(frozen=True)
class LeafNode(WireStruct):
    """A member's leaf: keys, credential, capabilities, source and signature (RFC 9420 §7.2)."""

    encryption_key: bytes
    signature_key: bytes
    credential: Credential
    capabilities: Capabilities
    leaf_node_source: int
    lifetime: Lifetime | None = None
    parent_hash: bytes = b""
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""

    def _encode_body(self, w: Writer) -> None:
        w.vec(self.encryption_key)
        w.vec(self.signature_key)
        self.credential.encode(w)
        self.capabilities.encode(w)
        w.u8(self.leaf_node_source)
        if self.leaf_node_source == SOURCE_KEY_PACKAGE:
            if self.lifetime is None:
                raise DecodeError("LeafNode with source key_package needs a lifetime")
            self.lifetime.encode(w)
        elif self.leaf_node_source == SOURCE_COMMIT:
            w.vec(self.parent_hash)
        encode_extensions(w, self.extensions)

    def encode(self, w: Writer) -> None:
        self._encode_body(w)
        w.vec(self.signature)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        encryption_key = r.vec()
        signature_key = r.vec()
        credential = Credential.decode(r)
        capabilities = Capabilities.decode(r)
        source = r.u8()
        lifetime: Lifetime | None = None
        parent_hash = b""
        if source == SOURCE_KEY_PACKAGE:
            lifetime = Lifetime.decode(r)
        elif source == SOURCE_COMMIT:
            parent_hash = r.vec()
        elif source != SOURCE_UPDATE:
            raise DecodeError(f"unknown leaf_node_source {source}")
        extensions = decode_extensions(r)
        signature = r.vec()
        return cls(
            encryption_key,
            signature_key,
            credential,
            capabilities,
            source,
            lifetime,
            parent_hash,
            extensions,
            signature,
        )

    def tbs(self, group_id: bytes | None, leaf_index: int | None) -> bytes:
        """LeafNodeTBS: update and commit leaves are bound to the group and their position."""
        w = Writer()
        self._encode_body(w)
        if self.leaf_node_source in (SOURCE_UPDATE, SOURCE_COMMIT):
            if group_id is None or leaf_index is None:
                raise SignatureError("RFC 9420 §7.2: update/commit LeafNodeTBS needs group_id and leaf_index")
            w.vec(group_id)
            w.u32(leaf_index)
        return w.bytes()

    def signed(
        self, suite: CipherSuite, signature_priv: bytes, group_id: bytes | None = None, leaf_index: int | None = None
    ) -> LeafNode:
        """This leaf signed with ``signature_priv`` (update/commit leaves are bound to group and index)."""
        sig = suite.sign_with_label(signature_priv, b"LeafNodeTBS", self.tbs(group_id, leaf_index))
        return replace(self, signature=sig)

    def check_lifetime(self, now: int, what: str = "leaf") -> None:
        """LifetimeError unless a key_package leaf's lifetime covers ``now`` (seconds); other leaves have none."""
        lifetime = self.lifetime
        if self.leaf_node_source != SOURCE_KEY_PACKAGE or lifetime is None:
            return
        if not lifetime.not_before <= now <= lifetime.not_after:
            raise LifetimeError(f"RFC 9420 §7.3: {what} lifetime does not cover the current time")

    def verify(self, suite: CipherSuite, group_id: bytes | None = None, leaf_index: int | None = None) -> None:
        """SignatureError unless the leaf's signature verifies."""
        ok = suite.verify_with_label(self.signature_key, b"LeafNodeTBS", self.tbs(group_id, leaf_index), self.signature)
        if not ok:
            raise SignatureError("RFC 9420 §7.3: LeafNode signature does not verify")
