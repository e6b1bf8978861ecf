"""Message protection (RFC 9420 §6): FramedContent signatures (FramedContentTBS), PublicMessage membership
tags, PrivateMessage encryption (sender data, content with padding, reuse guard) and the transcript-hash
inputs of commits (§8.2)."""

from __future__ import annotations

import hmac
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xmtp_core.mls.codec import Reader, Writer, encode_vec
from xmtp_core.mls.errors import CryptoError, DecodeError, SignatureError, ValidationError
from xmtp_core.mls.framing import (
    CONTENT_APPLICATION,
    CONTENT_COMMIT,
    SENDER_MEMBER,
    WIRE_PRIVATE_MESSAGE,
    WIRE_PUBLIC_MESSAGE,
    AuthenticatedContent,
    FramedContent,
    FramedContentAuthData,
    PrivateMessage,
    PublicMessage,
    Sender,
    decode_content_body,
    framed_content_tbs,
)
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.secret_tree import RatchetType, SecretTree, sender_data_key_nonce

if TYPE_CHECKING:
    from xmtp_core.mls.cipher_suite import CipherSuite

FRAMED_CONTENT_LABEL = b"FramedContentTBS"


def sign_content(
    suite: CipherSuite, signature_priv: bytes, wire_format: int, content: FramedContent, context: GroupContext | None
) -> bytes:
    """The signature over FramedContentTBS (RFC 9420 §6.1)."""
    return suite.sign_with_label(
        signature_priv, FRAMED_CONTENT_LABEL, framed_content_tbs(wire_format, content, context)
    )


def verify_content(
    suite: CipherSuite, signature_pub: bytes, ac: AuthenticatedContent, context: GroupContext | None
) -> None:
    """SignatureError unless ``ac``'s signature verifies with ``signature_pub``."""
    tbs = framed_content_tbs(ac.wire_format, ac.content, context)
    if not suite.verify_with_label(signature_pub, FRAMED_CONTENT_LABEL, tbs, ac.auth.signature):
        raise SignatureError("RFC 9420 §6.1: FramedContent signature does not verify")


def confirmed_transcript_input(ac: AuthenticatedContent) -> bytes:
    """ConfirmedTranscriptHashInput: wire_format, FramedContent and signature (RFC 9420 §8.2)."""
    w = Writer()
    w.u16(ac.wire_format)
    ac.content.encode(w)
    w.vec(ac.auth.signature)
    return w.bytes()


def authenticate(
    suite: CipherSuite,
    signature_priv: bytes,
    wire_format: int,
    content: FramedContent,
    context: GroupContext | None,
    confirmation_tag: bytes | None = None,
) -> AuthenticatedContent:
    """Sign ``content`` for ``wire_format`` into an AuthenticatedContent."""
    signature = sign_content(suite, signature_priv, wire_format, content, context)
    return AuthenticatedContent(wire_format, content, FramedContentAuthData(signature, confirmation_tag))


# ---- PublicMessage ------------------------------------------------------------------------------------
def membership_tag(suite: CipherSuite, membership_key: bytes, ac: AuthenticatedContent, context: GroupContext) -> bytes:
    """MAC over AuthenticatedContentTBM = FramedContentTBS || FramedContentAuthData (RFC 9420 §6.2)."""
    tbm = framed_content_tbs(WIRE_PUBLIC_MESSAGE, ac.content, context) + ac.auth.to_bytes()
    return suite.mac(membership_key, tbm)


def to_public_message(
    suite: CipherSuite, ac: AuthenticatedContent, membership_key: bytes | None, context: GroupContext
) -> PublicMessage:
    """``ac`` as a PublicMessage, with a membership tag for member senders (§6.2)."""
    if ac.wire_format != WIRE_PUBLIC_MESSAGE:
        raise ValidationError("RFC 9420 §6.2: content was signed for another wire format")
    tag = None
    if ac.content.sender.sender_type == SENDER_MEMBER:
        if membership_key is None:
            raise ValidationError("RFC 9420 §6.2: member PublicMessage needs the membership key")
        tag = membership_tag(suite, membership_key, ac, context)
    return PublicMessage(ac.content, ac.auth, tag)


def from_public_message(
    suite: CipherSuite, msg: PublicMessage, membership_key: bytes | None, context: GroupContext
) -> AuthenticatedContent:
    """Check the membership tag of a member's PublicMessage; the signature is checked by the caller."""
    ac = AuthenticatedContent(WIRE_PUBLIC_MESSAGE, msg.content, msg.auth)
    if msg.content.sender.sender_type == SENDER_MEMBER:
        if membership_key is None or msg.membership_tag is None:
            raise ValidationError("RFC 9420 §6.2: member PublicMessage lacks a membership tag")
        if not _ct_equal(membership_tag(suite, membership_key, ac, context), msg.membership_tag):
            raise ValidationError("RFC 9420 §6.2: membership_tag does not verify")
    return ac


def _ct_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


# ---- PrivateMessage -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SenderData:
    """The encrypted sender data of a PrivateMessage: leaf index, generation, reuse guard (§6.3.2)."""

    leaf_index: int
    generation: int
    reuse_guard: bytes

    def to_bytes(self) -> bytes:
        """The sender data's wire form."""
        return _sender_data_bytes(self.leaf_index, self.generation, self.reuse_guard)

    @classmethod
    def from_bytes(cls, data: bytes) -> SenderData:
        """Sender data from its wire form."""
        r = Reader(data)
        value = cls(r.u32(), r.u32(), r.raw(4))
        r.finish()
        return value


def _sender_data_bytes(leaf_index: int, generation: int, reuse_guard: bytes) -> bytes:
    if len(reuse_guard) != 4:
        raise ValueError("RFC 9420 §6.3.2: reuse_guard must be 4 bytes")
    try:
        return struct.pack(">II", leaf_index, generation) + reuse_guard
    except struct.error as exc:
        raise ValueError(f"RFC 9420 §6.3.2: leaf index or generation outside uint32: {exc}") from None


def _ratchet_type(content_type: int) -> RatchetType:
    return RatchetType.APPLICATION if content_type == CONTENT_APPLICATION else RatchetType.HANDSHAKE


def _sender_data_aad(group_id: bytes, epoch: int, content_type: int) -> bytes:
    """SenderDataAAD; PrivateContentAAD is the same fields followed by authenticated_data<V>."""
    try:
        return encode_vec(group_id) + struct.pack(">QB", epoch, content_type)
    except struct.error as exc:
        raise ValueError(f"epoch or content type out of range: {exc}") from None


def _content_aad(sender_data_aad: bytes, authenticated_data: bytes) -> bytes:
    return sender_data_aad + encode_vec(authenticated_data)


def _guarded_nonce(nonce: bytes, reuse_guard: bytes) -> bytes:
    """XOR the 4-byte reuse guard into the front of the nonce (RFC 9420 §6.3.1)."""
    if len(reuse_guard) != 4:
        raise ValueError("RFC 9420 §6.3.1: reuse_guard must be 4 bytes")
    head = int.from_bytes(nonce[:4], "big") ^ int.from_bytes(reuse_guard, "big")
    return head.to_bytes(4, "big") + nonce[4:]


def encrypt_private(
    suite: CipherSuite,
    ac: AuthenticatedContent,
    secret_tree: SecretTree,
    sender_data_secret: bytes,
    padding: int = 0,
    reuse_guard: bytes | None = None,
) -> PrivateMessage:
    """Encrypt signed content as a PrivateMessage (RFC 9420 §6.3)."""
    content = ac.content
    if ac.wire_format != WIRE_PRIVATE_MESSAGE or content.sender.sender_type != SENDER_MEMBER:
        raise ValidationError("RFC 9420 §6.3: PrivateMessage content must be signed as private by a member")
    w = Writer()
    content.encode_body(w)
    ac.auth.encode(w)
    w.raw(bytes(padding))
    key = secret_tree.next_key(content.sender.index, _ratchet_type(content.content_type))
    guard = reuse_guard if reuse_guard is not None else os.urandom(4)
    sd_aad = _sender_data_aad(content.group_id, content.epoch, content.content_type)
    aad = _content_aad(sd_aad, content.authenticated_data)
    ciphertext = suite.aead_encrypt(key.key, _guarded_nonce(key.nonce, guard), aad, w.bytes())
    sd_key, sd_nonce = sender_data_key_nonce(suite, sender_data_secret, ciphertext)
    sender_data = _sender_data_bytes(content.sender.index, key.generation, guard)
    encrypted_sender_data = suite.aead_encrypt(sd_key, sd_nonce, sd_aad, sender_data)
    return PrivateMessage(
        content.group_id, content.epoch, content.content_type, content.authenticated_data,
        encrypted_sender_data, ciphertext,
    )  # fmt: skip


def decrypt_sender_data(suite: CipherSuite, msg: PrivateMessage, sender_data_secret: bytes) -> SenderData:
    """The sender data of ``msg`` under ``sender_data_secret``."""
    return _decrypt_sender_data(
        suite, msg, sender_data_secret, _sender_data_aad(msg.group_id, msg.epoch, msg.content_type)
    )


def _decrypt_sender_data(
    suite: CipherSuite, msg: PrivateMessage, sender_data_secret: bytes, sd_aad: bytes
) -> SenderData:
    sd_key, sd_nonce = sender_data_key_nonce(suite, sender_data_secret, msg.ciphertext)
    try:
        plain = suite.aead_decrypt(sd_key, sd_nonce, sd_aad, msg.encrypted_sender_data)
    except CryptoError as exc:
        raise CryptoError("RFC 9420 §6.3.2: sender data does not decrypt") from exc
    return SenderData.from_bytes(plain)


def decrypt_private(
    suite: CipherSuite, msg: PrivateMessage, secret_tree: SecretTree, sender_data_secret: bytes
) -> AuthenticatedContent:
    """Decrypt a PrivateMessage; the caller verifies the signature against the sender's leaf."""
    sd_aad = _sender_data_aad(msg.group_id, msg.epoch, msg.content_type)
    sender_data = _decrypt_sender_data(suite, msg, sender_data_secret, sd_aad)
    if sender_data.leaf_index >= secret_tree.n_leaves:
        raise ValidationError("RFC 9420 §6.3.2: sender leaf index outside the tree")
    ratchet = _ratchet_type(msg.content_type)
    # The key is only deleted once the AEAD check passes, so a forged message cannot burn it (§9.2).
    key = secret_tree.key_for(sender_data.leaf_index, ratchet, sender_data.generation, consume=False)
    aad = _content_aad(sd_aad, msg.authenticated_data)
    try:
        plain = suite.aead_decrypt(key.key, _guarded_nonce(key.nonce, sender_data.reuse_guard), aad, msg.ciphertext)
    except CryptoError as exc:
        raise CryptoError("RFC 9420 §6.3.1: PrivateMessage content does not decrypt") from exc
    secret_tree.consume(sender_data.leaf_index, ratchet, sender_data.generation)
    r = Reader(plain)
    app, proposal, commit = decode_content_body(r, msg.content_type)
    auth = FramedContentAuthData.decode(r, msg.content_type)
    if any(r.raw(r.remaining)):
        raise DecodeError("RFC 9420 §6.3.1: PrivateMessageContent padding must be all zero")
    content = FramedContent(
        msg.group_id, msg.epoch, Sender(SENDER_MEMBER, sender_data.leaf_index), msg.authenticated_data,
        msg.content_type, app, proposal, commit,
    )  # fmt: skip
    if msg.content_type == CONTENT_COMMIT and auth.confirmation_tag is None:
        raise DecodeError("commit without confirmation tag")
    return AuthenticatedContent(WIRE_PRIVATE_MESSAGE, content, auth)
