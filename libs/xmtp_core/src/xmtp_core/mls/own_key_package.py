"""This client's own key packages (RFC 9420 §7.2, §10): default capabilities and lifetime, creation, and
:class:`OwnKeyPackage`, a published KeyPackage with the private keys kept beside it. The KeyPackage wire struct
others send is ``key_package.KeyPackage``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.extensions import PROTOCOL_MLS10, Capabilities, Extension, Lifetime
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.leaf_node import SOURCE_KEY_PACKAGE, LeafNode

# OpenMLS's default leaf lifetime: valid from an hour ago for 84 days (3 x 28 d).
DEFAULT_LIFETIME_BEFORE = 3600
DEFAULT_LIFETIME_AFTER = 84 * 24 * 3600


def default_capabilities(suite_id: int, credential_type: int = 1) -> Capabilities:
    """Capabilities of MLS 1.0, one cipher suite and one credential type, no extras."""
    return Capabilities(
        versions=(PROTOCOL_MLS10,),
        cipher_suites=(suite_id,),
        extensions=(),
        proposals=(),
        credentials=(credential_type,),
    )


def default_lifetime(now: int | None = None) -> Lifetime:
    """OpenMLS's default lifetime around ``now``: an hour back, 84 days ahead."""
    t = int(time.time()) if now is None else now
    return Lifetime(t - DEFAULT_LIFETIME_BEFORE, t + DEFAULT_LIFETIME_AFTER)


@dataclass(frozen=True)
class OwnKeyPackage:
    """A KeyPackage and the private keys its owner needs to join from a Welcome (kept out of its repr)."""

    key_package: KeyPackage
    init_priv: bytes = field(repr=False)
    encryption_priv: bytes = field(repr=False)
    signature_priv: bytes = field(repr=False)


def create_key_package(
    suite_id: int,
    signature_priv: bytes,
    credential: Credential,
    *,
    capabilities: Capabilities | None = None,
    lifetime: Lifetime | None = None,
    leaf_extensions: tuple[Extension, ...] = (),
    extensions: tuple[Extension, ...] = (),
) -> OwnKeyPackage:
    """A fresh signed KeyPackage with new init and encryption keys, and those private keys."""
    suite = get_cipher_suite(suite_id)
    init_priv, init_pub = suite.generate_hpke_key_pair()
    enc_priv, enc_pub = suite.generate_hpke_key_pair()
    leaf = LeafNode(
        encryption_key=enc_pub,
        signature_key=suite.signature_public_key(signature_priv),
        credential=credential,
        capabilities=capabilities or default_capabilities(suite_id, credential.credential_type),
        leaf_node_source=SOURCE_KEY_PACKAGE,
        lifetime=lifetime or default_lifetime(),
        extensions=leaf_extensions,
    ).signed(suite, signature_priv)
    kp = KeyPackage(PROTOCOL_MLS10, suite_id, init_pub, leaf, extensions).signed(suite, signature_priv)
    return OwnKeyPackage(kp, init_priv, enc_priv, signature_priv)
