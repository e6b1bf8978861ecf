"""The XMTP Welcome wrapper (reference xmtp-identity.md §4, xmtp-mls-profile.md "Welcome wrapping").

Every MLS Welcome travels inside an outer HPKE layer keyed to the recipient installation: base mode,
HKDF-SHA256, ChaCha20-Poly1305, info = TLS ``EncryptContext{"MLS 1.0 MLS_WELCOME", ""}``, empty AAD. The KEM is
DHKEM-X25519 (algorithm CURVE25519, key = the key package's init key) or X-Wing draft-06 (algorithm
XWING_MLKEM_768_DRAFT_6, key = the 0xFF03 key, HPKE kem_id 0x004D; receivers also try 0x647A). One sender
context seals the Welcome (``data`` = TLS ``HpkeCiphertext``) and then the WelcomeMetadata (raw, sequence 1).

Welcome pointers: the Welcome and metadata are ChaCha20-Poly1305-encrypted once under a random key (the
"pointee", published to a random 32-byte destination with algorithm SYMMETRIC_KEY), and each recipient gets an
HPKE-wrapped ``WelcomePointer`` proto saying where it is and how to decrypt it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from google.protobuf.message import DecodeError as ProtoDecodeError

from xmtp_core.mls.codec import encode_vec
from xmtp_core.mls.errors import DecodeError, MLSError
from xmtp_core.mls.hpke import CHACHA20POLY1305, Context, HpkeSuite
from xmtp_core.mls.kdf import SHA256
from xmtp_core.mls.kem import get_kem
from xmtp_core.mls.update_path import HPKECiphertext
from xmtp_core.mls.xwing import KEM_ID_XWING_DRAFT06, KEM_ID_XWING_IANA, xwing_hpke_suite
from xmtp_core.protos.mls.message_contents import welcome_pointer_pb2
from xmtp_core.xmtp_mls.constants import WELCOME_HPKE_LABEL
from xmtp_core.xmtp_mls.errors import WelcomeWrapperError

KEM_ID_DHKEM_X25519 = 0x0020

# TLS EncryptContext{label: "MLS 1.0 MLS_WELCOME", context: ""} = 13 "MLS 1.0 MLS_WELCOME" 00.
WELCOME_HPKE_INFO = encode_vec(b"MLS 1.0 " + WELCOME_HPKE_LABEL) + encode_vec(b"")

# X-Wing receivers try the code point libxmtp 1.9/1.10/HEAD use first, then the IANA one (libxmtp #3661).
XWING_UNWRAP_KEM_IDS = (KEM_ID_XWING_DRAFT06, KEM_ID_XWING_IANA)

POINTEE_AEAD_CHACHA20_POLY1305 = 3
POINTEE_KEY_LEN = 32
POINTEE_NONCE_LEN = 12
DESTINATION_LEN = 32


class WrapperAlgorithm(IntEnum):
    """``WelcomeWrapperAlgorithm`` (UNSPECIFIED = 0 is read as CURVE25519)."""

    CURVE25519 = 1
    XWING_MLKEM_768_DRAFT_6 = 2
    SYMMETRIC_KEY = 3


def wrapper_algorithm_from_wire(value: int) -> WrapperAlgorithm:
    """The wrapper algorithm of a wire value; WelcomeWrapperError for unknown ones."""
    if value == 0:
        return WrapperAlgorithm.CURVE25519
    try:
        return WrapperAlgorithm(value)
    except ValueError:
        raise WelcomeWrapperError(f"unknown welcome wrapper algorithm {value}") from None


@dataclass(frozen=True)
class WrappedWelcome:
    """What goes into ``WelcomeMessageInput.V1``: ``data`` and ``welcome_metadata``."""

    data: bytes
    welcome_metadata: bytes


@dataclass(frozen=True)
class UnwrappedWelcome:
    """The inner Welcome bytes (an MlsMessage) and the WelcomeMetadata proto bytes (may be empty)."""

    welcome: bytes
    welcome_metadata: bytes


def _hpke_suite(algorithm: WrapperAlgorithm, xwing_kem_id: int = KEM_ID_XWING_DRAFT06) -> HpkeSuite:
    if algorithm == WrapperAlgorithm.CURVE25519:
        return HpkeSuite(get_kem(KEM_ID_DHKEM_X25519), SHA256, CHACHA20POLY1305)
    if algorithm == WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6:
        return xwing_hpke_suite(xwing_kem_id)
    raise WelcomeWrapperError(f"{algorithm.name} is not an HPKE wrapper algorithm")


def wrap_welcome(
    welcome: bytes,
    welcome_metadata: bytes,
    public_key: bytes,
    algorithm: WrapperAlgorithm,
    *,
    xwing_kem_id: int = KEM_ID_XWING_DRAFT06,
) -> WrappedWelcome:
    """Seal ``welcome`` then ``welcome_metadata`` on one HPKE context to the recipient's wrapper key.

    The metadata is always sealed (an empty proto still gives a 16-byte tag), as libxmtp does.
    """
    suite = _hpke_suite(algorithm, xwing_kem_id)
    try:
        enc, ctx = suite.setup_base_s(public_key, WELCOME_HPKE_INFO)
        data = HPKECiphertext(enc, ctx.seal(b"", welcome)).to_bytes()
        return WrappedWelcome(data, ctx.seal(b"", welcome_metadata))
    except (MLSError, ValueError) as exc:
        raise WelcomeWrapperError(f"cannot wrap welcome to this {algorithm.name} key: {exc}") from exc


def _open_all(ctx: Context, ciphertext: bytes, welcome_metadata: bytes) -> UnwrappedWelcome:
    welcome = ctx.open(b"", ciphertext)
    metadata = ctx.open(b"", welcome_metadata) if welcome_metadata else b""
    return UnwrappedWelcome(welcome, metadata)


def _unwrap_suites(algorithm: WrapperAlgorithm) -> list[HpkeSuite]:
    if algorithm == WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6:
        return [_hpke_suite(algorithm, kem_id) for kem_id in XWING_UNWRAP_KEM_IDS]
    return [_hpke_suite(algorithm)]


def unwrap_welcome(
    data: bytes,
    welcome_metadata: bytes,
    private_key: bytes,
    algorithm: WrapperAlgorithm,
) -> UnwrappedWelcome:
    """Open a wrapped Welcome (and its metadata, skipped when empty) with this installation's private key.

    ``private_key`` is the X25519 init private key for CURVE25519 or the 32-byte X-Wing seed. X-Wing wrappers
    are tried under kem_id 0x004D, then 0x647A. Raises WelcomeWrapperError when nothing opens.
    """
    try:
        ciphertext = HPKECiphertext.from_bytes(data)
    except DecodeError as exc:
        raise WelcomeWrapperError(f"wrapped welcome is not a TLS HpkeCiphertext: {exc}") from exc
    failures: list[str] = []
    for suite in _unwrap_suites(algorithm):
        try:
            ctx = suite.setup_base_r(ciphertext.kem_output, private_key, WELCOME_HPKE_INFO)
            return _open_all(ctx, ciphertext.ciphertext, welcome_metadata)
        except (MLSError, ValueError) as exc:
            failures.append(f"kem 0x{suite.kem.kem_id:04x}: {exc}")
    raise WelcomeWrapperError(
        f"welcome does not decrypt with this installation's {algorithm.name} key ({'; '.join(failures)})"
    )


@dataclass(frozen=True)
class WelcomePointer:
    """A decrypted ``WelcomePointer.WelcomeV1Pointer``."""

    destination: bytes
    aead_type: int
    encryption_key: bytes = field(repr=False)  # opens the pointee: a secret
    data_nonce: bytes
    welcome_metadata_nonce: bytes

    def to_proto_bytes(self) -> bytes:
        """WelcomePointer proto bytes (what gets HPKE-wrapped for each recipient)."""
        v1 = welcome_pointer_pb2.WelcomePointer.WelcomeV1Pointer(
            destination=self.destination,
            aead_type=self.aead_type,  # type: ignore[arg-type]
            encryption_key=self.encryption_key,
            data_nonce=self.data_nonce,
            welcome_metadata_nonce=self.welcome_metadata_nonce,
        )
        return welcome_pointer_pb2.WelcomePointer(welcome_v1_pointer=v1).SerializeToString()

    @classmethod
    def from_proto_bytes(cls, data: bytes) -> WelcomePointer:
        """Parse and check a WelcomePointer proto; WelcomeWrapperError when malformed."""
        msg = welcome_pointer_pb2.WelcomePointer()
        try:
            msg.ParseFromString(data)
        except ProtoDecodeError as exc:
            raise WelcomeWrapperError(f"welcome pointer is not a WelcomePointer proto: {exc}") from exc
        if msg.WhichOneof("version") != "welcome_v1_pointer":
            raise WelcomeWrapperError("welcome pointer has no welcome_v1_pointer")
        v1 = msg.welcome_v1_pointer
        pointer = cls(
            bytes(v1.destination),
            int(v1.aead_type),
            bytes(v1.encryption_key),
            bytes(v1.data_nonce),
            bytes(v1.welcome_metadata_nonce),
        )
        pointer.check()
        return pointer

    def check(self) -> None:
        """Refuse pointers with an unsupported AEAD, wrong key or nonce sizes, or no destination."""
        if self.aead_type != POINTEE_AEAD_CHACHA20_POLY1305:
            raise WelcomeWrapperError(f"welcome pointer AEAD type {self.aead_type} is not supported (ChaCha20=3)")
        if len(self.encryption_key) != POINTEE_KEY_LEN:
            raise WelcomeWrapperError(f"welcome pointer key must be {POINTEE_KEY_LEN} bytes")
        if len(self.data_nonce) != POINTEE_NONCE_LEN or len(self.welcome_metadata_nonce) != POINTEE_NONCE_LEN:
            raise WelcomeWrapperError(f"welcome pointer nonces must be {POINTEE_NONCE_LEN} bytes")
        if not self.destination:
            raise WelcomeWrapperError("welcome pointer has no destination")


@dataclass(frozen=True)
class Pointee:
    """The symmetric-key Welcome published once to ``pointer.destination`` (algorithm SYMMETRIC_KEY)."""

    pointer: WelcomePointer
    data: bytes
    welcome_metadata: bytes


def encrypt_pointee(welcome: bytes, welcome_metadata: bytes) -> Pointee:
    """Encrypt a Welcome and its metadata once under a fresh key, nonces and destination (no AAD)."""
    pointer = WelcomePointer(
        destination=os.urandom(DESTINATION_LEN),
        aead_type=POINTEE_AEAD_CHACHA20_POLY1305,
        encryption_key=ChaCha20Poly1305.generate_key(),
        data_nonce=os.urandom(POINTEE_NONCE_LEN),
        welcome_metadata_nonce=os.urandom(POINTEE_NONCE_LEN),
    )
    aead = ChaCha20Poly1305(pointer.encryption_key)
    return Pointee(
        pointer,
        aead.encrypt(pointer.data_nonce, welcome, b""),
        aead.encrypt(pointer.welcome_metadata_nonce, welcome_metadata, b""),
    )


def decrypt_pointee(
    pointer: WelcomePointer,
    data: bytes,
    welcome_metadata: bytes,
    supported_aead_types: tuple[int, ...] = (POINTEE_AEAD_CHACHA20_POLY1305,),
) -> UnwrappedWelcome:
    """Decrypt a pointee with its pointer; the pointer's AEAD must be one this installation advertised."""
    if pointer.aead_type not in supported_aead_types:
        raise WelcomeWrapperError(f"welcome pointer AEAD type {pointer.aead_type} was not advertised")
    pointer.check()
    aead = ChaCha20Poly1305(pointer.encryption_key)
    try:
        welcome = aead.decrypt(pointer.data_nonce, data, b"")
        metadata = aead.decrypt(pointer.welcome_metadata_nonce, welcome_metadata, b"") if welcome_metadata else b""
    except InvalidTag:
        raise WelcomeWrapperError("welcome pointee does not decrypt with the pointer's key") from None
    return UnwrappedWelcome(welcome, metadata)


def wrap_welcome_pointer(
    pointer: WelcomePointer, public_key: bytes, *, xwing_kem_id: int = KEM_ID_XWING_DRAFT06
) -> bytes:
    """HPKE-wrap a pointer for one installation; pointers are always X-Wing wrapped (WelcomePointerWrapperAlgorithm)."""
    wrapped = wrap_welcome(
        pointer.to_proto_bytes(), b"", public_key, WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6, xwing_kem_id=xwing_kem_id
    )
    return wrapped.data


def unwrap_welcome_pointer(wrapped_pointer: bytes, xwing_seed: bytes) -> WelcomePointer:
    """Open an X-Wing wrapped Welcome pointer with our 0xFF03 seed."""
    unwrapped = unwrap_welcome(wrapped_pointer, b"", xwing_seed, WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6)
    return WelcomePointer.from_proto_bytes(unwrapped.welcome)
