"""`xmtp_core.untrusted.clean`: attacker text becomes bounded, printable, storable text."""

from hypothesis import given
from hypothesis import strategies as st
from xmtp_core.untrusted import clean, clean_error


def test_nul_newline_and_controls_are_replaced() -> None:
    assert clean("a\x00b\nc\r\x1b[2Jd\u2028") == "a\ufffdb\ufffdc\ufffd\ufffd[2Jd\ufffd"


def test_bytes_are_decoded_with_replacement() -> None:
    assert clean(b"ok\xff\x00") == "ok\ufffd\ufffd"


def test_long_values_are_cut_with_an_ellipsis() -> None:
    out = clean("x" * 10_000, limit=50)
    assert len(out) == 50 and out.endswith("…")
    assert len(clean(b"y" * 10**6, limit=50)) == 50


def test_error_keeps_type_and_cleans_message() -> None:
    assert clean_error(ValueError("bad\x00id")) == "ValueError: bad\ufffdid"


@given(st.one_of(st.text(), st.binary()), st.integers(min_value=1, max_value=300))
def test_output_is_always_storable(value: str | bytes, limit: int) -> None:
    out = clean(value, limit)
    assert len(out) <= limit
    assert "\x00" not in out and "\n" not in out
    out.encode("utf-8")  # no lone surrogates: Postgres and every log sink accept it
