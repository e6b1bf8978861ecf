"""Remote attachments: encrypt an Attachment for upload, and download + verify + decrypt one.

Scheme (compatible with libxmtp and the JS codec): the plaintext is the serialized EncodedContent of the
Attachment; key = HKDF-SHA256(ikm=secret, salt=salt, info=b"", 32 bytes); AES-256-GCM with a 12-byte
nonce and no AAD; contentDigest = hex SHA-256 of the ciphertext (tag included). Network I/O is pluggable:
callers pass async upload/fetch functions, so nothing here opens a connection.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from xmtp_core.content.codecs._common import quoted
from xmtp_core.content.codecs.attachment import ATTACHMENT, Attachment, AttachmentCodec, RemoteAttachment
from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError
from xmtp_core.content.types import EncodedContent

SECRET_SIZE = 32
SALT_SIZE = 32
NONCE_SIZE = 12
# Ciphertexts larger than this are refused on download unless the caller raises the limit.
DEFAULT_MAX_DOWNLOAD_SIZE = 25 * 1024 * 1024

Upload = Callable[[bytes], Awaitable[str]]
"""Stores the ciphertext somewhere public and returns its https URL."""

Fetch = Callable[[str, int], Awaitable[bytes]]
"""Fetches `url`, reading at most `max_bytes + 1` bytes so oversized bodies can be detected and dropped."""


class RemoteAttachmentError(ContentDecodeError):
    """A downloaded attachment failed verification (digest, size, key material or decryption)."""


@dataclass(frozen=True)
class EncryptedAttachment:
    """An attachment encrypted for upload, with the key material the RemoteAttachment carries."""

    ciphertext: bytes
    content_digest: str
    secret: bytes
    salt: bytes
    nonce: bytes


def _key(secret: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"").derive(secret)


def encrypt_payload(
    plaintext: bytes,
    *,
    secret: bytes | None = None,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> EncryptedAttachment:
    """Encrypt bytes under fresh random key material (injectable for known-answer tests)."""
    secret = os.urandom(SECRET_SIZE) if secret is None else secret
    salt = os.urandom(SALT_SIZE) if salt is None else salt
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(salt) != SALT_SIZE or len(nonce) != NONCE_SIZE:
        raise ContentEncodeError(f"salt must be {SALT_SIZE} bytes and nonce {NONCE_SIZE} bytes")
    ciphertext = AESGCM(_key(secret, salt)).encrypt(nonce, plaintext, None)
    return EncryptedAttachment(ciphertext, hashlib.sha256(ciphertext).hexdigest(), secret, salt, nonce)


def decrypt_payload(ciphertext: bytes, remote: RemoteAttachment) -> bytes:
    """Check the digest first (cheap, and catches a swapped file), then key sizes, then decrypt."""
    digest = hashlib.sha256(ciphertext).hexdigest()
    if not hmac.compare_digest(digest, remote.content_digest.lower()):
        raise RemoteAttachmentError("remote attachment digest does not match the downloaded content")
    if len(remote.salt) != SALT_SIZE:
        raise RemoteAttachmentError(f"remote attachment salt must be {SALT_SIZE} bytes")
    if len(remote.nonce) != NONCE_SIZE:
        raise RemoteAttachmentError(f"remote attachment nonce must be {NONCE_SIZE} bytes")
    try:
        return AESGCM(_key(remote.secret, remote.salt)).decrypt(remote.nonce, ciphertext, None)
    except InvalidTag as exc:
        raise RemoteAttachmentError("remote attachment failed to decrypt (wrong key or tampered)") from exc


def encrypt_attachment(attachment: Attachment, **key_material: bytes) -> EncryptedAttachment:
    """Encrypt an Attachment for upload (fresh key material unless given)."""
    return encrypt_payload(AttachmentCodec().encode(attachment).to_bytes(), **key_material)


def decrypt_attachment(ciphertext: bytes, remote: RemoteAttachment) -> Attachment:
    """The Attachment in downloaded `ciphertext`, checked against the RemoteAttachment's digest and keys."""
    encoded = EncodedContent.from_bytes(decrypt_payload(ciphertext, remote))
    if not encoded.type.same_type(ATTACHMENT):
        raise RemoteAttachmentError(f"remote attachment holds {quoted(str(encoded.type))}, not an attachment")
    return AttachmentCodec().decode(encoded)


async def upload_attachment(attachment: Attachment, upload: Upload, *, scheme: str = "https://") -> RemoteAttachment:
    """Encrypt, hand the ciphertext to `upload`, and describe the result for a RemoteAttachment message."""
    encrypted = encrypt_attachment(attachment)
    url = await upload(encrypted.ciphertext)
    if not url.startswith("https://"):
        raise ContentEncodeError(f"upload returned a non-https URL: {url!r}")
    return RemoteAttachment(
        url=url,
        content_digest=encrypted.content_digest,
        secret=encrypted.secret,
        salt=encrypted.salt,
        nonce=encrypted.nonce,
        scheme=scheme,
        content_length=len(encrypted.ciphertext),
        filename=attachment.filename,
    )


async def download_attachment(
    remote: RemoteAttachment,
    fetch: Fetch,
    *,
    max_size: int = DEFAULT_MAX_DOWNLOAD_SIZE,
    require_https: bool = True,
) -> Attachment:
    """Fetch, size-check, verify and decrypt a remote attachment."""
    if require_https and not remote.url.startswith("https://"):
        raise RemoteAttachmentError(f"refusing to fetch a non-https attachment URL: {quoted(remote.url)}")
    if remote.content_length is not None and remote.content_length > max_size:
        raise RemoteAttachmentError(f"remote attachment declares {remote.content_length} bytes, over {max_size}")
    ciphertext = await fetch(remote.url, max_size)
    # The fetcher is asked to stop early, but a misbehaving one must not get past the limit either.
    if len(ciphertext) > max_size:
        raise RemoteAttachmentError(f"remote attachment is larger than {max_size} bytes")
    return decrypt_attachment(ciphertext, remote)
