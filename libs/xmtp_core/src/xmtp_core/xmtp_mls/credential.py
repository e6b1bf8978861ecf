"""The XMTP MLS credential: a BasicCredential whose identity is the ``xmtp.identity.MlsCredential`` proto
(inbox id), and the leaf-node ApplicationId extension that repeats the inbox id as UTF-8 inside the RFC 9420
``opaque application_id<V>`` (so the extension data starts with an MLS varint length; libxmtp 1.9.1 confirmed).

The installation key is not in the credential: it is the leaf's Ed25519 signature key. A parsed inbox id must
have an inbox id's form (64 lowercase hex): any XMTP user can put a credential in front of us, and its inbox id
goes on to identity look-ups, columns and logs.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError as ProtoDecodeError

from xmtp_core.identity.inbox_id import InvalidInboxIdError, require_inbox_id
from xmtp_core.mls.codec import Reader, encode_vec
from xmtp_core.mls.credentials import CREDENTIAL_BASIC, Credential
from xmtp_core.mls.errors import DecodeError
from xmtp_core.mls.extensions import Extension, find_extension
from xmtp_core.protos.identity import credential_pb2
from xmtp_core.xmtp_mls.constants import EXT_APPLICATION_ID
from xmtp_core.xmtp_mls.errors import CredentialError


def credential_identity(inbox_id: str) -> bytes:
    """The BasicCredential identity bytes: serialised ``MlsCredential{inbox_id}``."""
    if not inbox_id:
        raise CredentialError("inbox_id must not be empty")
    return credential_pb2.MlsCredential(inbox_id=inbox_id).SerializeToString()


def build_credential(inbox_id: str) -> Credential:
    """Our BasicCredential for ``inbox_id``."""
    return Credential.basic(credential_identity(inbox_id))


def inbox_id_from_identity(identity: bytes) -> str:
    """Decode BasicCredential identity bytes as ``MlsCredential`` and return its non-empty inbox id."""
    msg = credential_pb2.MlsCredential()
    try:
        msg.ParseFromString(identity)
    except ProtoDecodeError as exc:
        raise CredentialError(f"credential identity is not an MlsCredential proto: {exc}") from exc
    if not msg.inbox_id:
        raise CredentialError("MlsCredential has no inbox_id")
    try:
        return require_inbox_id(msg.inbox_id, "MlsCredential inbox_id")
    except InvalidInboxIdError as exc:
        raise CredentialError(str(exc)) from None


def inbox_id_from_credential(credential: Credential) -> str:
    """The inbox id of an XMTP credential; CredentialError for any other credential."""
    if credential.credential_type != CREDENTIAL_BASIC:
        raise CredentialError(f"XMTP credentials are Basic (1), got credential type {credential.credential_type}")
    return inbox_id_from_identity(credential.identity)


def application_id_extension(inbox_id: str) -> Extension:
    """Leaf-node ApplicationId (0x0001): ``application_id<V>`` = the inbox id as UTF-8, as libxmtp sets it."""
    return Extension(EXT_APPLICATION_ID, encode_vec(inbox_id.encode("utf-8")))


def inbox_id_from_application_id(extensions: tuple[Extension, ...]) -> str | None:
    """The inbox id in a leaf's ApplicationId extension, or None when the leaf has none."""
    ext = find_extension(extensions, EXT_APPLICATION_ID)
    if ext is None:
        return None
    reader = Reader(ext.extension_data)
    try:
        value = reader.vec()
        reader.finish()
    except DecodeError as exc:
        raise CredentialError(f"ApplicationId extension is not an application_id<V> vector: {exc}") from exc
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CredentialError("ApplicationId extension is not UTF-8") from exc
