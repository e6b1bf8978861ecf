"""XMTP key packages: build our own exactly as libxmtp's ``XmtpKeyPackageBuilder`` does, and parse + validate
a peer's (signature, lifetime, capabilities, credential -> inbox id, installation key, welcome-wrapper key).

Our key package: suite 3, Basic credential = MlsCredential{inbox_id}, leaf ApplicationId = inbox id, leaf
capabilities per the profile, key-package extensions LastResort + 0xFF04 (pointee AEAD types) + 0xFF03
(X-Wing wrapper key), lifetime now-1h..now+84d, everything signed with the installation Ed25519 key.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError as ProtoDecodeError

from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.errors import MLSError
from xmtp_core.mls.extensions import Capabilities, Extension, Lifetime, RequiredCapabilities, find_extension
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.own_key_package import OwnKeyPackage as MlsKeyPackageBundle
from xmtp_core.mls.own_key_package import create_key_package
from xmtp_core.mls.xwing import XWingKem
from xmtp_core.protos.mls.message_contents import welcome_pointer_pb2, wrapper_encryption_pb2
from xmtp_core.xmtp_mls.constants import (
    CREDENTIAL_BASIC,
    EXT_LAST_RESORT,
    EXT_WELCOME_POINTEE_AEAD_TYPES,
    EXT_WELCOME_WRAPPER_ENCRYPTION,
    GROUP_REQUIRED_CREDENTIALS,
    GROUP_REQUIRED_EXTENSIONS,
    GROUP_REQUIRED_PROPOSALS,
    KEY_PACKAGE_CAPABILITY_EXTENSIONS,
    KEY_PACKAGE_CAPABILITY_PROPOSALS,
    LIFETIME_MARGIN_SECONDS,
    LIFETIME_SECONDS,
    MAX_LIFETIME_RANGE_SECONDS,
    PROTOCOL_MLS10,
    XMTP_CIPHERSUITE,
)
from xmtp_core.xmtp_mls.credential import (
    application_id_extension,
    build_credential,
    inbox_id_from_application_id,
    inbox_id_from_credential,
)
from xmtp_core.xmtp_mls.errors import CredentialError, KeyPackageError
from xmtp_core.xmtp_mls.welcome_wrapper import (
    POINTEE_AEAD_CHACHA20_POLY1305,
    WrapperAlgorithm,
    wrapper_algorithm_from_wire,
)

X25519_KEY_LEN = 32


def xmtp_capabilities() -> Capabilities:
    """Leaf capabilities of an XMTP key package (default versions and credentials)."""
    return Capabilities(
        versions=(PROTOCOL_MLS10,),
        cipher_suites=(XMTP_CIPHERSUITE,),
        extensions=KEY_PACKAGE_CAPABILITY_EXTENSIONS,
        proposals=KEY_PACKAGE_CAPABILITY_PROPOSALS,
        credentials=(CREDENTIAL_BASIC,),
    )


def xmtp_lifetime(now: int | None = None) -> Lifetime:
    """OpenMLS's default lifetime at ``now``: one hour back, 84 days ahead."""
    t = int(time.time()) if now is None else now
    return Lifetime(t - LIFETIME_MARGIN_SECONDS, t + LIFETIME_SECONDS)


def wrapper_encryption_extension(public_key: bytes, algorithm: WrapperAlgorithm) -> Extension:
    """0xFF03: ``WelcomeWrapperEncryption{pub_key, algorithm}`` as raw proto bytes."""
    msg = wrapper_encryption_pb2.WelcomeWrapperEncryption(pub_key=public_key, algorithm=int(algorithm))  # type: ignore[arg-type]
    return Extension(EXT_WELCOME_WRAPPER_ENCRYPTION, msg.SerializeToString())


def pointee_aead_types_extension(aead_types: tuple[int, ...] = (POINTEE_AEAD_CHACHA20_POLY1305,)) -> Extension:
    """0xFF04: ``WelcomePointeeEncryptionAeadTypesExtension`` as raw proto bytes."""
    msg = welcome_pointer_pb2.WelcomePointeeEncryptionAeadTypesExtension(supported_aead_types=list(aead_types))  # type: ignore[arg-type]
    return Extension(EXT_WELCOME_POINTEE_AEAD_TYPES, msg.SerializeToString())


@dataclass(frozen=True)
class KeyPackageBundle:
    """A built key package and the private keys to store beside it until it is used (or rotated out)."""

    key_package: KeyPackage
    tls_bytes: bytes
    inbox_id: str
    installation_key: bytes  # Ed25519 public key = leaf signature key
    # Private keys stay out of reprs (logs, test failures, crash reports).
    init_private_key: bytes = field(repr=False)  # X25519, for MLS GroupSecrets and Curve25519-wrapped Welcomes
    encryption_private_key: bytes = field(repr=False)  # the leaf HPKE key
    xwing_seed: bytes | None = field(repr=False)  # 32-byte X-Wing seed behind 0xFF03, None when 0xFF03 is omitted
    ref: bytes  # KeyPackageRef

    @property
    def xwing_public_key(self) -> bytes | None:
        """The X-Wing public key published in 0xFF03, None without one."""
        return None if self.xwing_seed is None else XWingKem().public_key(self.xwing_seed)

    def to_mls_bundle(self, installation_private_key: bytes) -> MlsKeyPackageBundle:
        """The bundle ``xmtp_core.mls.group.Group.join`` takes (the installation key is not stored here)."""
        suite = get_cipher_suite(XMTP_CIPHERSUITE)
        if suite.signature_public_key(installation_private_key) != self.installation_key:
            raise KeyPackageError("installation private key does not match this key package's signature key")
        return MlsKeyPackageBundle(
            self.key_package, self.init_private_key, self.encryption_private_key, installation_private_key
        )


def build_key_package(
    inbox_id: str,
    installation_private_key: bytes,
    *,
    now: int | None = None,
    post_quantum: bool = True,
    welcome_pointers: bool = True,
    xwing_seed: bytes | None = None,
    capabilities: Capabilities | None = None,
) -> KeyPackageBundle:
    """Build and sign an XMTP key package for ``inbox_id`` with the installation's 32-byte Ed25519 seed.

    ``post_quantum`` adds 0xFF03 with a (fresh or given) X-Wing key; without it peers wrap Welcomes to the
    init key with X25519. ``welcome_pointers`` adds 0xFF04 [ChaCha20-Poly1305], which lets senders use
    Welcome pointers for us.
    """
    suite = get_cipher_suite(XMTP_CIPHERSUITE)
    extensions = [Extension(EXT_LAST_RESORT, b"")]
    if welcome_pointers:
        extensions.append(pointee_aead_types_extension())
    seed: bytes | None = None
    if post_quantum:
        seed = os.urandom(32) if xwing_seed is None else xwing_seed
        extensions.append(
            wrapper_encryption_extension(XWingKem().public_key(seed), WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6)
        )
    try:
        created = create_key_package(
            XMTP_CIPHERSUITE,
            installation_private_key,
            build_credential(inbox_id),
            capabilities=capabilities or xmtp_capabilities(),
            lifetime=xmtp_lifetime(now),
            leaf_extensions=(application_id_extension(inbox_id),),
            extensions=tuple(extensions),
        )
    except (MLSError, ValueError) as exc:
        raise KeyPackageError(f"cannot build key package: {exc}") from exc
    kp = created.key_package
    return KeyPackageBundle(
        key_package=kp,
        tls_bytes=kp.to_bytes(),
        inbox_id=inbox_id,
        installation_key=kp.leaf_node.signature_key,
        init_private_key=created.init_priv,
        encryption_private_key=created.encryption_priv,
        xwing_seed=seed,
        ref=kp.ref(suite),
    )


@dataclass(frozen=True)
class WrapperKey:
    """Where a sender must wrap Welcomes for this key package."""

    algorithm: WrapperAlgorithm
    public_key: bytes


@dataclass(frozen=True)
class PeerKeyPackage:
    """A validated peer key package and what XMTP needs from it."""

    key_package: KeyPackage
    inbox_id: str
    installation_key: bytes
    not_before: int
    not_after: int
    wrapper: WrapperKey
    advertised_wrapper: bool  # True when the key package carried 0xFF03
    pointee_aead_types: tuple[int, ...]
    last_resort: bool
    ref: bytes

    @property
    def supports_welcome_pointers(self) -> bool:
        """Whether the key package advertises ChaCha20-Poly1305 pointees (0xFF04)."""
        return POINTEE_AEAD_CHACHA20_POLY1305 in self.pointee_aead_types


def _decode(data: bytes) -> KeyPackage:
    try:
        return KeyPackage.from_bytes(data)
    except (MLSError, ValueError) as exc:
        raise KeyPackageError(f"key package does not decode: {exc}") from exc


def _check_lifetime(lifetime: Lifetime | None, now: int) -> Lifetime:
    if lifetime is None:
        raise KeyPackageError("key package leaf has no lifetime")
    if lifetime.not_after < lifetime.not_before:
        raise KeyPackageError("key package lifetime ends before it starts")
    if lifetime.not_after - lifetime.not_before > MAX_LIFETIME_RANGE_SECONDS:
        raise KeyPackageError("key package lifetime range exceeds 84 days + 1 hour (OpenMLS limit)")
    if not lifetime.not_before <= now <= lifetime.not_after:
        raise KeyPackageError("key package lifetime does not cover the current time")
    return lifetime


def _check_capabilities(capabilities: Capabilities) -> None:
    if XMTP_CIPHERSUITE not in capabilities.cipher_suites:
        raise KeyPackageError("key package leaf does not advertise ciphersuite 0x0003")
    required = RequiredCapabilities(GROUP_REQUIRED_EXTENSIONS, GROUP_REQUIRED_PROPOSALS, GROUP_REQUIRED_CREDENTIALS)
    try:
        required.check(capabilities, "key package leaf")
    except MLSError as exc:
        raise KeyPackageError(f"key package cannot join an XMTP group: {exc}") from exc


def _wrapper_key(kp: KeyPackage) -> tuple[WrapperKey, bool]:
    ext = find_extension(kp.extensions, EXT_WELCOME_WRAPPER_ENCRYPTION)
    if ext is None:
        return WrapperKey(WrapperAlgorithm.CURVE25519, kp.init_key), False
    msg = wrapper_encryption_pb2.WelcomeWrapperEncryption()
    try:
        msg.ParseFromString(ext.extension_data)
    except ProtoDecodeError as exc:
        raise KeyPackageError(f"0xFF03 is not a WelcomeWrapperEncryption proto: {exc}") from exc
    algorithm = wrapper_algorithm_from_wire(int(msg.algorithm))
    expected_len = {
        WrapperAlgorithm.CURVE25519: X25519_KEY_LEN,
        WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6: XWingKem.n_pk,
    }
    if algorithm not in expected_len:
        raise KeyPackageError(f"0xFF03 advertises {algorithm.name}, which is not a key-package wrapper")
    if len(msg.pub_key) != expected_len[algorithm]:
        raise KeyPackageError(
            f"0xFF03 {algorithm.name} key must be {expected_len[algorithm]} bytes, got {len(msg.pub_key)}"
        )
    return WrapperKey(algorithm, bytes(msg.pub_key)), True


def _pointee_aead_types(kp: KeyPackage) -> tuple[int, ...]:
    ext = find_extension(kp.extensions, EXT_WELCOME_POINTEE_AEAD_TYPES)
    if ext is None:
        return ()
    msg = welcome_pointer_pb2.WelcomePointeeEncryptionAeadTypesExtension()
    try:
        msg.ParseFromString(ext.extension_data)
    except ProtoDecodeError as exc:
        raise KeyPackageError(f"0xFF04 is not a WelcomePointeeEncryptionAeadTypesExtension proto: {exc}") from exc
    return tuple(int(t) for t in msg.supported_aead_types)


def parse_key_package(data: bytes, *, now: int | None = None, expected_inbox_id: str | None = None) -> PeerKeyPackage:
    """Decode and validate a peer's TLS key package the way libxmtp does before adding it to a group.

    Checks: MLS 1.0 / suite 3, both signatures, init key != encryption key, lifetime (covers ``now`` and spans at
    most 84 d + 1 h), Basic MlsCredential, ApplicationId (if present) = credential inbox id, leaf capabilities
    that satisfy XMTP's group RequiredCapabilities, and a well-formed 0xFF03 / 0xFF04.
    """
    kp = _decode(data)
    suite = get_cipher_suite(XMTP_CIPHERSUITE)
    if kp.cipher_suite != XMTP_CIPHERSUITE:
        raise KeyPackageError(f"key package ciphersuite 0x{kp.cipher_suite:04x} is not XMTP's 0x0003")
    try:
        kp.validate(suite)
    except MLSError as exc:
        raise KeyPackageError(f"key package rejected: {exc}") from exc
    lifetime = _check_lifetime(kp.leaf_node.lifetime, int(time.time()) if now is None else now)
    leaf = kp.leaf_node
    try:
        inbox_id = inbox_id_from_credential(leaf.credential)
        app_id = inbox_id_from_application_id(leaf.extensions)
    except CredentialError as exc:
        raise KeyPackageError(f"key package credential: {exc}") from exc
    if app_id is not None and app_id != inbox_id:
        raise KeyPackageError("key package ApplicationId differs from the credential inbox id")
    if expected_inbox_id is not None and inbox_id != expected_inbox_id:
        raise KeyPackageError(f"key package belongs to inbox {inbox_id}, expected {expected_inbox_id}")
    _check_capabilities(leaf.capabilities)
    wrapper, advertised = _wrapper_key(kp)
    return PeerKeyPackage(
        key_package=kp,
        inbox_id=inbox_id,
        installation_key=leaf.signature_key,
        not_before=lifetime.not_before,
        not_after=lifetime.not_after,
        wrapper=wrapper,
        advertised_wrapper=advertised,
        pointee_aead_types=_pointee_aead_types(kp),
        last_resort=find_extension(kp.extensions, EXT_LAST_RESORT) is not None,
        ref=kp.ref(suite),
    )
