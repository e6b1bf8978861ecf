"""The `content` command: crypto re-reads the sender's EncodedContent with its own registry, so a read receipt or a
markdown reply goes out as that value, and bytes that are no EncodedContent, a type crypto has no codec for,
or content its codec refuses become `invalid_command` (never another exception)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from crypto.commands import CommandError, content_of
from xmtp_core.bus.schemas import ContentCommand
from xmtp_core.content import default_registry
from xmtp_core.content.codecs.read_receipt import READ_RECEIPT, ReadReceipt
from xmtp_core.content.codecs.reply import REPLY, Reply
from xmtp_core.content.codecs.text import Markdown
from xmtp_core.content.types import ContentTypeId, EncodedContent

REGISTRY = default_registry()
AGENT: Any = SimpleNamespace(runtime=SimpleNamespace(registry=REGISTRY))


def _command(encoded: bytes) -> ContentCommand:
    return ContentCommand(agent="a", idempotency_key="k-1", conversation_id="ab" * 16, encoded_content=encoded)


def test_known_content_goes_out_as_its_value() -> None:
    assert content_of(_command(REGISTRY.encode(ReadReceipt()).to_bytes()), AGENT) == (ReadReceipt(), READ_RECEIPT)
    inner = REGISTRY.encode(Markdown("**hi**"))
    value, content_type = content_of(_command(REGISTRY.encode(Reply("cd" * 32, inner)).to_bytes()), AGENT)
    assert content_type == REPLY and isinstance(value, Reply)
    assert REGISTRY.decode(value.content).value == Markdown("**hi**")


@pytest.mark.parametrize(
    "encoded",
    [
        b"\xff\xff\xff not a protobuf",
        EncodedContent(ContentTypeId("example.com", "custom", 1, 0), b"x").to_bytes(),
        EncodedContent(ContentTypeId("xmtp.org", "walletSendCalls", 1, 0), b"{not json").to_bytes(),
    ],
)
def test_bytes_crypto_cannot_read_are_an_invalid_command(encoded: bytes) -> None:
    with pytest.raises(CommandError) as caught:
        content_of(_command(encoded), AGENT)
    assert caught.value.reason == "invalid_command" and caught.value.detail
    assert "ContentCommand(" in repr(_command(encoded)) and "not json" not in repr(_command(encoded))
