"""Welcome wire structs (RFC 9420 §12.4.3): PathSecret, GroupSecrets, EncryptedGroupSecrets, Welcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.psk import PreSharedKeyID
from xmtp_core.mls.update_path import HPKECiphertext


@dataclass(frozen=True)
class GroupSecrets(WireStruct):
    """What a Welcome encrypts to each new member: joiner secret, path secret, PSK ids (§12.4.3)."""

    joiner_secret: bytes = field(repr=False)
    path_secret: bytes | None = field(default=None, repr=False)
    psks: tuple[PreSharedKeyID, ...] = ()

    def encode(self, w: Writer) -> None:
        w.vec(self.joiner_secret)
        w.optional(self.path_secret, lambda ww, s: ww.vec(s))
        w.vec_items(self.psks, lambda ww, p: p.encode(ww))

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.vec(), r.optional(lambda rr: rr.vec()), tuple(r.vec_items(PreSharedKeyID.decode)))


@dataclass(frozen=True)
class EncryptedGroupSecrets(WireStruct):
    """GroupSecrets encrypted to one KeyPackage, named by its ref."""

    new_member: bytes
    encrypted_group_secrets: HPKECiphertext

    def encode(self, w: Writer) -> None:
        w.vec(self.new_member)
        self.encrypted_group_secrets.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.vec(), HPKECiphertext.decode(r))


@dataclass(frozen=True)
class Welcome(WireStruct):
    """A Welcome: the encrypted GroupInfo and GroupSecrets for each new member (§12.4.3)."""

    cipher_suite: int
    secrets: tuple[EncryptedGroupSecrets, ...]
    encrypted_group_info: bytes

    def encode(self, w: Writer) -> None:
        w.u16(self.cipher_suite)
        w.vec_items(self.secrets, lambda ww, s: s.encode(ww))
        w.vec(self.encrypted_group_info)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.u16(), tuple(r.vec_items(EncryptedGroupSecrets.decode)), r.vec())
