"""GroupInfo (RFC 9420 §12.4.3): the signed group state a joiner receives inside a Welcome."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.errors import SignatureError
from xmtp_core.mls.extensions import Extension, decode_extensions, encode_extensions
from xmtp_core.mls.group_context import GroupContext

if TYPE_CHECKING:
    from xmtp_core.mls.cipher_suite import CipherSuite


@dataclass(frozen=True)
class GroupInfo(WireStruct):
    """What a joiner needs about an epoch: context, extensions, confirmation tag, signer (§12.4.3)."""

    group_context: GroupContext
    extensions: tuple[Extension, ...]
    confirmation_tag: bytes
    signer: int
    signature: bytes = b""

    def tbs(self) -> bytes:
        """GroupInfoTBS: what the signer signs."""
        w = Writer()
        self.group_context.encode(w)
        encode_extensions(w, self.extensions)
        w.vec(self.confirmation_tag)
        w.u32(self.signer)
        return w.bytes()

    def encode(self, w: Writer) -> None:
        w.raw(self.tbs())
        w.vec(self.signature)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(GroupContext.decode(r), decode_extensions(r), r.vec(), r.u32(), r.vec())

    def signed(self, suite: CipherSuite, signature_priv: bytes) -> GroupInfo:
        """This GroupInfo signed with ``signature_priv``."""
        return replace(self, signature=suite.sign_with_label(signature_priv, b"GroupInfoTBS", self.tbs()))

    def verify(self, suite: CipherSuite, signer_pub: bytes) -> None:
        """SignatureError unless the signature verifies with ``signer_pub``."""
        if not suite.verify_with_label(signer_pub, b"GroupInfoTBS", self.tbs(), self.signature):
            raise SignatureError("RFC 9420 §12.4.3.1: GroupInfo signature does not verify")
