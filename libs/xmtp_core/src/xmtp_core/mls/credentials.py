"""MLS credentials (RFC 9420 §5.3): basic and X.509 credentials, unknown types carried opaquely."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer

CREDENTIAL_BASIC = 1
CREDENTIAL_X509 = 2


@dataclass(frozen=True)
class Credential(WireStruct):
    """A credential; ``identity`` for basic, ``certificates`` for X.509, ``body`` for other types.

    Every defined credential body is a single variable-length vector on the wire, so unknown types are
    carried as that vector's raw content and re-encode byte-exact.
    """

    credential_type: int
    identity: bytes = b""
    certificates: tuple[bytes, ...] = ()
    body: bytes = b""

    @classmethod
    def basic(cls, identity: bytes) -> Credential:
        """A basic credential (type 1) for ``identity``."""
        return cls(CREDENTIAL_BASIC, identity=identity)

    def encode(self, w: Writer) -> None:
        w.u16(self.credential_type)
        if self.credential_type == CREDENTIAL_BASIC:
            w.vec(self.identity)
        elif self.credential_type == CREDENTIAL_X509:
            w.vec_items(self.certificates, lambda ww, c: ww.vec(c))
        else:
            w.vec(self.body)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        ctype = r.u16()
        if ctype == CREDENTIAL_BASIC:
            return cls(ctype, identity=r.vec())
        if ctype == CREDENTIAL_X509:
            return cls(ctype, certificates=tuple(r.vec_items(lambda rr: rr.vec())))
        return cls(ctype, body=r.vec())
