"""The one inbox-id format check: 64 lowercase hex characters, refused with a typed, cleaned error."""

from __future__ import annotations

import pytest
from xmtp_core.identity import (
    InvalidIdentifierError,
    InvalidInboxIdError,
    ethereum_address,
    inbox_id,
    is_inbox_id,
    require_inbox_id,
)


def test_derived_inbox_ids_are_well_formed() -> None:
    derived = inbox_id(ethereum_address("0x" + "ab" * 20), 0)
    assert is_inbox_id(derived)
    assert require_inbox_id(derived) == derived


@pytest.mark.parametrize(
    "value",
    [
        *("", "a" * 63, "a" * 65, "A" * 64, "g" * 64, "a" * 63 + "\n", "a" * 64 + "\n", " " + "a" * 63),
        *("a" * 10**6, b"a" * 64, None, 7),
    ],
)
def test_malformed_inbox_ids_are_refused(value: object) -> None:
    assert not is_inbox_id(value)
    with pytest.raises(InvalidInboxIdError) as excinfo:
        require_inbox_id(value, "credential inbox id")
    assert isinstance(excinfo.value, InvalidIdentifierError)
    message = str(excinfo.value)
    assert message.startswith("credential inbox id")
    assert "\n" not in message and "\x00" not in message and len(message) < 400


def test_attacker_text_in_the_error_is_cleaned() -> None:
    with pytest.raises(InvalidInboxIdError) as excinfo:
        require_inbox_id("\x00evil\nline" + "x" * 5000)
    assert "\x00" not in str(excinfo.value) and "\n" not in str(excinfo.value)
