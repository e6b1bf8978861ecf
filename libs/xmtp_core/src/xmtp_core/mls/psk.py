"""Pre-shared key secret chaining (RFC 9420 §8.4).

``psk_secret`` combines the PSKs a commit or Welcome names, in order, each bound to its PreSharedKeyID, its
index and the count. IDs are passed in serialised form (``PreSharedKeyID`` wire bytes) or as objects with
``to_bytes()``, so this module stays independent of the proposal structures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from xmtp_core.mls.cipher_suite import CipherSuite
from xmtp_core.mls.codec import Writer

PSK_TYPE_EXTERNAL = 1
PSK_TYPE_RESUMPTION = 2


class _Encodable(Protocol):
    def to_bytes(self) -> bytes: ...


def external_psk_id(psk_id: bytes, psk_nonce: bytes) -> bytes:
    """Wire bytes of PreSharedKeyID for an external PSK."""
    return Writer().u8(PSK_TYPE_EXTERNAL).vec(psk_id).vec(psk_nonce).bytes()


def resumption_psk_id(usage: int, group_id: bytes, epoch: int, psk_nonce: bytes) -> bytes:
    """Wire bytes of PreSharedKeyID for a resumption PSK."""
    return Writer().u8(PSK_TYPE_RESUMPTION).u8(usage).vec(group_id).u64(epoch).vec(psk_nonce).bytes()


def _id_bytes(psk_id: bytes | _Encodable) -> bytes:
    return psk_id if isinstance(psk_id, bytes) else psk_id.to_bytes()


def psk_secret(cs: CipherSuite, psks: Sequence[tuple[bytes | _Encodable, bytes]]) -> bytes:
    """Chain ``(PreSharedKeyID, psk)`` pairs into psk_secret; no PSKs gives Nh zero bytes."""
    zero = bytes(cs.hash_len)
    secret = zero
    count = len(psks)
    for index, (psk_id, psk) in enumerate(psks):
        label = Writer().raw(_id_bytes(psk_id)).u16(index).u16(count).bytes()
        extracted = cs.kdf_extract(zero, psk)
        psk_input = cs.expand_with_label(extracted, b"derived psk", label, cs.hash_len)
        secret = cs.kdf_extract(psk_input, secret)
    return secret
