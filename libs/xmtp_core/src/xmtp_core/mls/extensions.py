"""MLS extensions and leaf metadata (RFC 9420 §7.2, §11, §13): Extension, Capabilities, Lifetime,
RequiredCapabilities, ExternalPub and the IANA type numbers. Unknown extensions are carried."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Self

from xmtp_core.mls._wire import WireStruct, decode_u16_list, encode_u16_list
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.errors import ValidationError

EXT_APPLICATION_ID = 0x0001
EXT_RATCHET_TREE = 0x0002
EXT_REQUIRED_CAPABILITIES = 0x0003
EXT_EXTERNAL_PUB = 0x0004
EXT_EXTERNAL_SENDERS = 0x0005
EXT_LAST_RESORT = 0x000A

# Types every implementation supports, so they need not be listed in Capabilities (RFC 9420 §7.2).
DEFAULT_EXTENSION_TYPES = frozenset(
    {EXT_APPLICATION_ID, EXT_RATCHET_TREE, EXT_REQUIRED_CAPABILITIES, EXT_EXTERNAL_PUB, EXT_EXTERNAL_SENDERS}
)
DEFAULT_PROPOSAL_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7})
DEFAULT_CREDENTIAL_TYPES = frozenset({1, 2})

PROTOCOL_MLS10 = 1


@dataclass(frozen=True)
class Extension(WireStruct):
    """One extension: its type and opaque data (RFC 9420 §13)."""

    extension_type: int
    extension_data: bytes

    def encode(self, w: Writer) -> None:
        w.u16(self.extension_type)
        w.vec(self.extension_data)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.u16(), r.vec())


def encode_extensions(w: Writer, extensions: tuple[Extension, ...]) -> None:
    """Append a vector of extensions."""
    w.vec_items(extensions, lambda ww, e: e.encode(ww))


def decode_extensions(r: Reader) -> tuple[Extension, ...]:
    """Read a vector of extensions; a repeated type is a ValidationError."""
    exts = tuple(r.vec_items(Extension.decode))
    check_unique_extensions(exts)
    return exts


def check_unique_extensions(extensions: Iterable[Extension]) -> None:
    """ValidationError if two extensions share a type (RFC 9420 §13.4)."""
    seen: set[int] = set()
    for ext in extensions:
        if ext.extension_type in seen:
            raise ValidationError(f"RFC 9420 §13.4: duplicate extension type 0x{ext.extension_type:04x}")
        seen.add(ext.extension_type)


def find_extension(extensions: Iterable[Extension], extension_type: int) -> Extension | None:
    """The extension of ``extension_type``, or None."""
    for ext in extensions:
        if ext.extension_type == extension_type:
            return ext
    return None


@dataclass(frozen=True)
class Capabilities(WireStruct):
    """What a leaf's client supports: versions, cipher suites, extensions, proposals, credentials (§7.2)."""

    versions: tuple[int, ...] = (PROTOCOL_MLS10,)
    cipher_suites: tuple[int, ...] = ()
    extensions: tuple[int, ...] = ()
    proposals: tuple[int, ...] = ()
    credentials: tuple[int, ...] = (1,)

    def encode(self, w: Writer) -> None:
        for values in (self.versions, self.cipher_suites, self.extensions, self.proposals, self.credentials):
            encode_u16_list(w, values)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(decode_u16_list(r), decode_u16_list(r), decode_u16_list(r), decode_u16_list(r), decode_u16_list(r))

    # Sets built once: the lists come from the wire and may be long, and every member's are checked per leaf.
    @cached_property
    def extension_set(self) -> frozenset[int]:
        """Extension types supported, the defaults included."""
        return DEFAULT_EXTENSION_TYPES | frozenset(self.extensions)

    @cached_property
    def proposal_set(self) -> frozenset[int]:
        """Proposal types supported, the defaults included."""
        return DEFAULT_PROPOSAL_TYPES | frozenset(self.proposals)

    @cached_property
    def credential_set(self) -> frozenset[int]:
        """Credential types listed; only those count (RFC 9420 §7.2: credentials lists what the client supports)."""
        return frozenset(self.credentials)

    def supports_extension(self, extension_type: int) -> bool:
        """Whether ``extension_type`` is listed or a default type."""
        return extension_type in self.extension_set

    def supports_proposal(self, proposal_type: int) -> bool:
        """Whether ``proposal_type`` is listed or a default type."""
        return proposal_type in self.proposal_set

    def supports_credential(self, credential_type: int) -> bool:
        """Whether ``credential_type`` is listed."""
        return credential_type in self.credential_set


@dataclass(frozen=True)
class Lifetime(WireStruct):
    """The validity period of a key_package leaf, in seconds since the epoch (§7.2)."""

    not_before: int
    not_after: int

    def encode(self, w: Writer) -> None:
        w.u64(self.not_before)
        w.u64(self.not_after)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.u64(), r.u64())


@dataclass(frozen=True)
class RequiredCapabilities(WireStruct):
    """The required_capabilities extension: what every member must support (§11.1)."""

    extension_types: tuple[int, ...] = ()
    proposal_types: tuple[int, ...] = ()
    credential_types: tuple[int, ...] = ()

    def encode(self, w: Writer) -> None:
        encode_u16_list(w, self.extension_types)
        encode_u16_list(w, self.proposal_types)
        encode_u16_list(w, self.credential_types)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(decode_u16_list(r), decode_u16_list(r), decode_u16_list(r))

    def to_extension(self) -> Extension:
        """This value as a GroupContext extension."""
        return Extension(EXT_REQUIRED_CAPABILITIES, self.to_bytes())

    def check(self, capabilities: Capabilities, what: str) -> None:
        """Raise ValidationError if ``capabilities`` lacks anything required (RFC 9420 §11.1)."""
        for ext in self.extension_types:
            if not capabilities.supports_extension(ext):
                raise ValidationError(f"RFC 9420 §11.1: {what} does not support required extension 0x{ext:04x}")
        for prop in self.proposal_types:
            if not capabilities.supports_proposal(prop):
                raise ValidationError(f"RFC 9420 §11.1: {what} does not support required proposal {prop}")
        for cred in self.credential_types:
            if not capabilities.supports_credential(cred):
                raise ValidationError(f"RFC 9420 §11.1: {what} does not support required credential {cred}")


@dataclass(frozen=True)
class ExternalPub(WireStruct):
    """The external_pub extension: the key a non-member encrypts an ExternalInit to (§12.4.3.2)."""

    external_pub: bytes

    def encode(self, w: Writer) -> None:
        w.vec(self.external_pub)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.vec())
