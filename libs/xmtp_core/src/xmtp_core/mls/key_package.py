"""KeyPackage (RFC 9420 §10): init key + leaf node signed as KeyPackageTBS, and its KeyPackageRef."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.errors import SignatureError, ValidationError
from xmtp_core.mls.extensions import PROTOCOL_MLS10, Extension, decode_extensions, encode_extensions
from xmtp_core.mls.leaf_node import SOURCE_KEY_PACKAGE, LeafNode

if TYPE_CHECKING:
    from xmtp_core.mls.cipher_suite import CipherSuite


@dataclass(frozen=True)
class KeyPackage(WireStruct):
    """A client's signed offer to be added: init key and leaf node (RFC 9420 §10)."""

    version: int
    cipher_suite: int
    init_key: bytes
    leaf_node: LeafNode
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""

    def tbs(self) -> bytes:
        """KeyPackageTBS: what the leaf's signature key signs."""
        w = Writer()
        w.u16(self.version)
        w.u16(self.cipher_suite)
        w.vec(self.init_key)
        self.leaf_node.encode(w)
        encode_extensions(w, self.extensions)
        return w.bytes()

    def encode(self, w: Writer) -> None:
        w.raw(self.tbs())
        w.vec(self.signature)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.u16(), r.u16(), r.vec(), LeafNode.decode(r), decode_extensions(r), r.vec())

    def signed(self, suite: CipherSuite, signature_priv: bytes) -> KeyPackage:
        """This KeyPackage signed with ``signature_priv``."""
        return replace(self, signature=suite.sign_with_label(signature_priv, b"KeyPackageTBS", self.tbs()))

    def ref(self, suite: CipherSuite) -> bytes:
        """KeyPackageRef (RFC 9420 §5.2)."""
        return suite.ref_hash(b"MLS 1.0 KeyPackage Reference", self.to_bytes())

    def validate(self, suite: CipherSuite, now: int | None = None) -> None:
        """RFC 9420 §10.1 checks a receiver applies to a KeyPackage before using it."""
        if self.version != PROTOCOL_MLS10:
            raise ValidationError("RFC 9420 §10.1: KeyPackage version must be mls10")
        if self.cipher_suite != suite.suite_id:
            raise ValidationError("RFC 9420 §10.1: KeyPackage cipher suite does not match the group")
        if self.leaf_node.leaf_node_source != SOURCE_KEY_PACKAGE:
            raise ValidationError("RFC 9420 §10.1: KeyPackage leaf_node_source must be key_package")
        self.leaf_node.verify(suite)
        ok = suite.verify_with_label(self.leaf_node.signature_key, b"KeyPackageTBS", self.tbs(), self.signature)
        if not ok:
            raise SignatureError("RFC 9420 §10.1: KeyPackage signature does not verify")
        if self.init_key == self.leaf_node.encryption_key:
            raise ValidationError("RFC 9420 §10.1: init_key must differ from the leaf encryption_key")
        if now is not None:
            self.leaf_node.check_lifetime(now, "KeyPackage leaf")
