"""Conformance handler for ``transcript-hashes.json``: confirmed and interim transcript hashes (RFC 9420 §8.2)."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.conformance.util import check, h
from xmtp_core.mls.framing import AuthenticatedContent


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``transcript-hashes.json``; AssertionError names the first mismatch."""
    cs = get_cipher_suite(case["cipher_suite"])
    raw = h(case["authenticated_content"])
    r = Reader(raw)
    content = AuthenticatedContent.decode(r)
    r.finish()
    check("authenticated_content round trip", content.to_bytes(), raw)
    tag = content.auth.confirmation_tag
    if tag is None:
        raise AssertionError("authenticated_content is not a commit (no confirmation_tag)")

    # ConfirmedTranscriptHashInput = wire_format || FramedContent || signature<V>.
    w = Writer().u16(content.wire_format)
    content.content.encode(w)
    confirmed_input = w.vec(content.auth.signature).bytes()

    confirmed = ks.confirmed_transcript_hash(cs, h(case["interim_transcript_hash_before"]), confirmed_input)
    check("confirmed_transcript_hash_after", confirmed, h(case["confirmed_transcript_hash_after"]))
    check("confirmation_tag", ks.confirmation_tag(cs, h(case["confirmation_key"]), confirmed), tag)
    interim = ks.interim_transcript_hash(cs, confirmed, tag)
    check("interim_transcript_hash_after", interim, h(case["interim_transcript_hash_after"]))
