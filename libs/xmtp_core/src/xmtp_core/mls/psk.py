"""Pre-shared keys (RFC 9420 §8.4): PreSharedKeyID, the psk_secret chain and the look-up of the PSKs a commit
or Welcome names.

``psk_secret`` combines the PSKs, in order, each bound to its PreSharedKeyID, its index and the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.errors import DecodeError, ValidationError

if TYPE_CHECKING:
    from xmtp_core.mls.cipher_suite import CipherSuite

PSK_EXTERNAL = 1
PSK_RESUMPTION = 2
RESUMPTION_APPLICATION = 1
RESUMPTION_REINIT = 2
RESUMPTION_BRANCH = 3


@dataclass(frozen=True)
class PreSharedKeyID(WireStruct):
    """Names one PSK: an external one by id, or a resumption PSK by group and epoch (RFC 9420 §8.4)."""

    psktype: int
    psk_id: bytes = b""
    usage: int = 0
    psk_group_id: bytes = b""
    psk_epoch: int = 0
    psk_nonce: bytes = b""

    def encode(self, w: Writer) -> None:
        w.u8(self.psktype)
        if self.psktype == PSK_EXTERNAL:
            w.vec(self.psk_id)
        else:
            w.u8(self.usage)
            w.vec(self.psk_group_id)
            w.u64(self.psk_epoch)
        w.vec(self.psk_nonce)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        psktype = r.u8()
        if psktype == PSK_EXTERNAL:
            return cls(psktype, psk_id=r.vec(), psk_nonce=r.vec())
        if psktype == PSK_RESUMPTION:
            usage, group_id, epoch = r.u8(), r.vec(), r.u64()
            return cls(psktype, usage=usage, psk_group_id=group_id, psk_epoch=epoch, psk_nonce=r.vec())
        raise DecodeError(f"unknown PSK type {psktype}")


def psk_secret(cs: CipherSuite, psks: Sequence[tuple[PreSharedKeyID, bytes]]) -> bytes:
    """Chain ``(PreSharedKeyID, psk)`` pairs into psk_secret; no PSKs gives Nh zero bytes."""
    zero = bytes(cs.hash_len)
    secret = zero
    count = len(psks)
    for index, (psk_id, psk) in enumerate(psks):
        label = Writer().raw(psk_id.to_bytes()).u16(index).u16(count).bytes()
        extracted = cs.kdf_extract(zero, psk)
        psk_input = cs.expand_with_label(extracted, b"derived psk", label, cs.hash_len)
        secret = cs.kdf_extract(psk_input, secret)
    return secret


def resolve_psk_secret(
    suite: CipherSuite,
    psks: Sequence[PreSharedKeyID],
    external: dict[bytes, bytes],
    resumption: dict[int, bytes],
    group_id: bytes,
) -> bytes | None:
    """psk_secret of the PSKs named (None if none), looked up among the ``external`` PSKs by id and this
    group's ``resumption`` PSKs by epoch; a PSK not available is a ValidationError."""
    if not psks:
        return None
    pairs: list[tuple[PreSharedKeyID, bytes]] = []
    for psk in psks:
        if psk.psktype == PSK_EXTERNAL:
            value = external.get(psk.psk_id)
        elif psk.psktype == PSK_RESUMPTION and psk.psk_group_id == group_id:
            value = resumption.get(psk.psk_epoch)
        else:
            value = None
        if value is None:
            raise ValidationError("RFC 9420 §8.4: a PreSharedKey referenced by the commit is not available")
        if len(psk.psk_nonce) != suite.hash_len:
            raise ValidationError("RFC 9420 §8.4: psk_nonce must be Nh bytes long")
        pairs.append((psk, value))
    return psk_secret(suite, pairs)
