"""XMTP credential: MlsCredential proto bytes inside a BasicCredential, ApplicationId leaf extension."""

from __future__ import annotations

import pytest
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.extensions import Extension
from xmtp_core.xmtp_mls.credential import (
    application_id_extension,
    build_credential,
    credential_identity,
    inbox_id_from_application_id,
    inbox_id_from_credential,
)
from xmtp_core.xmtp_mls.errors import CredentialError

INBOX = "1f" * 32


def test_identity_is_the_mls_credential_proto() -> None:
    # field 1 (string) = tag 0x0a, length 64, then the UTF-8 inbox id
    assert credential_identity(INBOX) == b"\x0a\x40" + INBOX.encode()


def test_credential_is_basic_and_round_trips_on_the_wire() -> None:
    cred = build_credential(INBOX)
    wire = cred.to_bytes()
    assert wire[:2] == b"\x00\x01"  # credential_type basic
    assert wire[2:4] == b"\x40\x42"  # two-byte MLS varint: identity length 66
    assert inbox_id_from_credential(Credential.from_bytes(wire)) == INBOX


def test_application_id_extension_carries_utf8_inbox_id_as_a_vector() -> None:
    ext = application_id_extension(INBOX)
    assert ext.extension_type == 0x0001
    # extension_data<V> (66 bytes) holding application_id<V> (64 bytes): what libxmtp 1.9.1 sends
    assert ext.to_bytes() == b"\x00\x01\x40\x42\x40\x40" + INBOX.encode()
    assert inbox_id_from_application_id((ext,)) == INBOX
    assert inbox_id_from_application_id(()) is None


def test_application_id_without_its_length_prefix_is_refused() -> None:
    with pytest.raises(CredentialError, match="application_id"):
        inbox_id_from_application_id((Extension(0x0001, INBOX.encode()),))


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        (Credential(2, certificates=(b"cert",)), "Basic"),
        (Credential.basic(b"\xff\xff"), "not an MlsCredential"),
        (Credential.basic(b""), "no inbox_id"),
    ],
)
def test_non_xmtp_credentials_are_refused(credential: Credential, message: str) -> None:
    with pytest.raises(CredentialError, match=message):
        inbox_id_from_credential(credential)


def test_empty_inbox_id_cannot_be_built() -> None:
    with pytest.raises(CredentialError):
        build_credential("")
