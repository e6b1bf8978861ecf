"""Remote attachments: HKDF + AES-256-GCM encryption, digest check, and upload/download with a size limit."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from xmtp_core.content import Attachment, ContentDecodeError, ContentEncodeError, RemoteAttachment, default_registry
from xmtp_core.content.remote_attachment import (
    RemoteAttachmentError,
    decrypt_attachment,
    download_attachment,
    encrypt_attachment,
    encrypt_payload,
    upload_attachment,
)

FILE = Attachment("image/png", b"\x89PNG fake image bytes" * 10, "cat.png")
SECRET, SALT, NONCE = bytes(range(32)), bytes(range(32, 64)), bytes(range(64, 76))


def _remote(ciphertext: bytes, **overrides: object) -> RemoteAttachment:
    base = RemoteAttachment(
        url="https://files.example/abc",
        content_digest=hashlib.sha256(ciphertext).hexdigest(),
        secret=SECRET,
        salt=SALT,
        nonce=NONCE,
        content_length=len(ciphertext),
        filename="cat.png",
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def test_encryption_follows_the_scheme() -> None:
    encrypted = encrypt_attachment(FILE, secret=SECRET, salt=SALT, nonce=NONCE)
    # Independent derivation: plaintext is the serialized attachment EncodedContent, key from HKDF(secret, salt).
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=b"").derive(SECRET)
    plaintext = AESGCM(key).decrypt(NONCE, encrypted.ciphertext, None)
    assert default_registry().decode_bytes(plaintext).value == FILE
    assert len(encrypted.ciphertext) == len(plaintext) + 16
    assert encrypted.content_digest == hashlib.sha256(encrypted.ciphertext).hexdigest()


def test_round_trip_with_random_key_material() -> None:
    first, second = encrypt_attachment(FILE), encrypt_attachment(FILE)
    assert first.secret != second.secret and first.ciphertext != second.ciphertext
    remote = dataclasses.replace(_remote(first.ciphertext), secret=first.secret, salt=first.salt, nonce=first.nonce)
    assert decrypt_attachment(first.ciphertext, remote) == FILE


def test_digest_is_checked_before_decrypting() -> None:
    encrypted = encrypt_attachment(FILE, secret=SECRET, salt=SALT, nonce=NONCE)
    tampered = bytes([encrypted.ciphertext[0] ^ 1]) + encrypted.ciphertext[1:]
    with pytest.raises(RemoteAttachmentError, match="digest"):
        decrypt_attachment(tampered, _remote(encrypted.ciphertext))
    # Upper-case hex digests (other SDKs) are accepted.
    upper = _remote(encrypted.ciphertext, content_digest=encrypted.content_digest.upper())
    assert decrypt_attachment(encrypted.ciphertext, upper) == FILE


def test_wrong_key_material_is_rejected() -> None:
    ct = encrypt_attachment(FILE, secret=SECRET, salt=SALT, nonce=NONCE).ciphertext
    with pytest.raises(RemoteAttachmentError, match="decrypt"):
        decrypt_attachment(ct, _remote(ct, secret=bytes(32)))
    with pytest.raises(RemoteAttachmentError, match="salt"):
        decrypt_attachment(ct, _remote(ct, salt=SALT[:16]))
    with pytest.raises(RemoteAttachmentError, match="nonce"):
        decrypt_attachment(ct, _remote(ct, nonce=NONCE + b"\x00"))
    assert issubclass(RemoteAttachmentError, ContentDecodeError)


def test_non_attachment_payload_is_rejected() -> None:
    encrypted = encrypt_payload(
        default_registry().encode("just text").to_bytes(), secret=SECRET, salt=SALT, nonce=NONCE
    )
    with pytest.raises(RemoteAttachmentError, match="not an attachment"):
        decrypt_attachment(encrypted.ciphertext, _remote(encrypted.ciphertext))


async def test_upload_then_download() -> None:
    store: dict[str, bytes] = {}

    async def upload(ciphertext: bytes) -> str:
        url = f"https://store.example/{len(store)}"
        store[url] = ciphertext
        return url

    requested: list[tuple[str, int]] = []

    async def fetch(url: str, max_bytes: int) -> bytes:
        requested.append((url, max_bytes))
        return store[url]

    remote = await upload_attachment(FILE, upload)
    assert remote.content_length == len(store[remote.url])
    assert remote.filename == "cat.png"
    # The descriptor survives its own codec, then downloads and decrypts.
    sent = default_registry().decode_bytes(default_registry().prepare(remote).payload).value
    assert isinstance(sent, RemoteAttachment)
    assert await download_attachment(sent, fetch, max_size=10_000) == FILE
    assert requested == [(remote.url, 10_000)]


async def test_upload_must_return_https() -> None:
    async def upload(_: bytes) -> str:
        return "http://insecure.example/x"

    with pytest.raises(ContentEncodeError, match="https"):
        await upload_attachment(FILE, upload)


async def test_download_limits() -> None:
    ct = encrypt_attachment(FILE, secret=SECRET, salt=SALT, nonce=NONCE).ciphertext
    calls = 0

    async def fetch(url: str, max_bytes: int) -> bytes:
        nonlocal calls
        calls += 1
        return ct

    with pytest.raises(RemoteAttachmentError, match="declares"):
        await download_attachment(_remote(ct), fetch, max_size=len(ct) - 1)
    assert calls == 0  # refused before any network access
    with pytest.raises(RemoteAttachmentError, match="larger than"):
        await download_attachment(_remote(ct, content_length=None), fetch, max_size=len(ct) - 1)
    with pytest.raises(RemoteAttachmentError, match="non-https"):
        await download_attachment(_remote(ct, url="http://x.example/a"), fetch)
    assert await download_attachment(_remote(ct, url="http://x.example/a"), fetch, require_https=False) == FILE
