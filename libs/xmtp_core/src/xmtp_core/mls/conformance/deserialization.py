"""Conformance handler for ``deserialization.json``: RFC 9420 §2.1.2 variable-length integer headers."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls.codec import Reader, encode_varint
from xmtp_core.mls.conformance.util import check, h


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``deserialization.json``; AssertionError names the first mismatch."""
    header = h(case["vlbytes_header"])
    check("encode_varint", encode_varint(case["length"]), header)
    r = Reader(header)
    check("decode varint", r.varint(), case["length"])
    r.finish()
