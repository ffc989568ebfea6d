"""A member's deliver_sm read from its octets: the forms SMS centres use besides the one the
loopback centre sends (16-bit references, SAR parameters, Latin-1, the GSM extension table),
and what makes two deliver_sm the same."""

from __future__ import annotations

import struct

import pytest

from messages.channels.sms import read_mobile_originated
from messages.sms_text import decode_text, read_udh


def pdu(
    short_message: bytes,
    *,
    source: str = "8613800138000",
    ton: int = 1,
    esm_class: int = 0,
    data_coding: int = 8,
    tlvs: bytes = b"",
) -> bytes:
    """A deliver_sm PDU as SMPP 3.4 lays it out (header, mandatory fields, TLVs)."""
    body = (
        b"\0"  # service_type
        + bytes((ton, 1))
        + source.encode()
        + b"\0"
        + bytes((5, 0))
        + b"Liaison\0"
        + bytes((esm_class, 0, 0))
        + b"\0\0"  # schedule_delivery_time, validity_period
        + bytes((0, 0, data_coding, 0, len(short_message)))
        + short_message
        + tlvs
    )
    return struct.pack("!IIII", 16 + len(body), 0x00000005, 0, 1) + body


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack("!HH", tag, len(value)) + value


def test_a_part_with_a_16_bit_reference() -> None:
    udh = bytes((6, 0x08, 4, 0x12, 0x34, 3, 2))
    read = read_mobile_originated(pdu(udh + "第二段".encode("utf-16-be"), esm_class=0x40))
    assert (read.sender, read.text) == ("+8613800138000", "第二段")
    assert (read.reference, read.total, read.number) == (0x1234, 3, 2)


def test_a_part_numbered_by_sar_parameters() -> None:
    sar = tlv(0x020C, b"\x00\x07") + tlv(0x020E, b"\x02") + tlv(0x020F, b"\x01")
    read = read_mobile_originated(pdu("前半段".encode("utf-16-be"), tlvs=sar))
    assert (read.reference, read.total, read.number) == (7, 2, 1)
    # Another part of the same message, same text: a different deliver_sm.
    other = tlv(0x020C, b"\x00\x07") + tlv(0x020E, b"\x02") + tlv(0x020F, b"\x02")
    assert read_mobile_originated(pdu("前半段".encode("utf-16-be"), tlvs=other)).dedupe_key != (
        read.dedupe_key
    )


def test_a_national_number_and_the_text_in_message_payload() -> None:
    read = read_mobile_originated(
        pdu(b"", source="13800138000", ton=2, data_coding=0, tlvs=tlv(0x0424, b"BD Shenzhen"))
    )
    assert (read.sender, read.text, read.total) == ("13800138000", "BD Shenzhen", 1)


def test_the_same_deliver_sm_twice_has_the_same_key_and_another_sender_another() -> None:
    octets = "报到 深圳".encode("utf-16-be")
    assert read_mobile_originated(pdu(octets)).dedupe_key == (
        read_mobile_originated(pdu(octets)).dedupe_key
    )
    assert read_mobile_originated(pdu(octets)).dedupe_key != (
        read_mobile_originated(pdu(octets, source="8613900139000")).dedupe_key
    )


def test_alphabets() -> None:
    # GSM: "@" is 0x00, "€" is escape + 0x65; Latin-1 (3); UCS-2 with an emoji.
    assert decode_text(bytes((0x00, 0x1B, 0x65, 0x41)), 0) == "@€A"
    assert decode_text("Müller".encode("latin-1"), 3) == "Müller"
    assert decode_text("好👍".encode("utf-16-be"), 8) == "好👍"


def test_a_header_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than the message"):
        read_udh(bytes((9, 0, 3)))
    # A header without a concatenation element: the rest is a message of its own.
    assert read_udh(bytes((3, 0x24, 1, 0)) + b"hi") == (None, b"hi")
