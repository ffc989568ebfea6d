"""SMS text: alphabet choice, segment limits, surrogate pairs and escapes at every cut."""

from __future__ import annotations

import gsm0338  # type: ignore[import-untyped]  # noqa: F401 (an independent GSM codec)
import pytest

from messages.sms_text import (
    GSM_BASIC,
    GSM_EXTENSION,
    SmsEncoding,
    choose_encoding,
    concat_udh,
    encode_sms,
    encode_text,
    segment_count,
    split_text,
    text_length,
)

EMOJI = "😀"  # U+1F600: two UTF-16 code units


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


def reassemble(text: str, reference: int = 7) -> str:
    """Decode what encode_sms produced, the way a phone would."""
    sms = encode_sms(text, reference)
    decoded = []
    for number, part in enumerate(sms.parts, start=1):
        payload = part.payload
        if sms.concatenated:
            assert payload[:6] == bytes((5, 0, 3, reference, len(sms.parts), number))
            payload = payload[6:]
        codec = "utf-16-be" if sms.encoding is SmsEncoding.UCS2 else "gsm03.38"
        decoded.append(payload.decode(codec))
    return "".join(decoded)


def test_gsm_table_matches_an_independent_codec() -> None:
    for code, char in enumerate(GSM_BASIC):
        if code != 0x1B:
            assert char.encode("gsm03.38") == bytes([code]), char
    for char, code in GSM_EXTENSION.items():
        assert char.encode("gsm03.38") == bytes([0x1B, code]), char


def test_encoding_choice() -> None:
    assert choose_encoding("Hello, world! @£$¥ {[€]}") is SmsEncoding.GSM7
    assert choose_encoding("你好") is SmsEncoding.UCS2
    assert choose_encoding("Hello 你好") is SmsEncoding.UCS2
    assert choose_encoding("café") is SmsEncoding.GSM7  # é is in GSM 03.38
    assert choose_encoding("São Paulo") is SmsEncoding.UCS2  # ã is not
    assert choose_encoding("Thanks " + EMOJI) is SmsEncoding.UCS2
    assert SmsEncoding.GSM7.value == 0 and SmsEncoding.UCS2.value == 8


def test_lengths_count_septets_and_code_units() -> None:
    assert text_length("abc") == 3
    assert text_length("a€[") == 5  # extension characters take two septets
    assert text_length("你好" + EMOJI) == 4


def test_empty_text_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        split_text("")
    with pytest.raises(ValueError, match="empty"):
        encode_sms("", 1)


@pytest.mark.parametrize(("length", "parts"), [(67, 1), (68, 1), (70, 1), (71, 2), (134, 2)])
def test_chinese_limits(length: int, parts: int) -> None:
    text = ("通知今天下午三点开会" * 20)[:length]
    chunks = split_text(text)
    assert len(chunks) == parts
    assert "".join(chunks) == text
    if parts > 1:
        assert all(len(chunk) <= 67 for chunk in chunks)
        assert len(chunks[0]) == 67


def test_chinese_long_text_parts_fit_140_octets() -> None:
    text = "请于本周五前到社区服务中心登记流动党员信息，逾期未登记的请联系支部书记。" * 5
    sms = encode_sms(text, 200)
    assert sms.encoding is SmsEncoding.UCS2
    assert sms.concatenated and sms.esm_class == 0x40 and sms.data_coding == 8
    assert sms.reference == 200
    assert all(len(part.payload) <= 140 for part in sms.parts)
    assert [len(part.payload) for part in sms.parts[:-1]] == [140] * (len(sms.parts) - 1)
    assert sms.text == text
    assert reassemble(text, 200) == text


def test_single_message_has_no_header() -> None:
    sms = encode_sms("你好，世界", 9)
    assert not sms.concatenated and sms.esm_class == 0 and sms.reference is None
    assert sms.parts[0].payload == "你好，世界".encode("utf-16-be")


@pytest.mark.parametrize("position", range(60, 75))
def test_emoji_at_every_boundary_of_the_first_part(position: int) -> None:
    text = "汉" * position + EMOJI + "字" * 80
    chunks = split_text(text)
    assert "".join(chunks) == text
    for chunk in chunks:
        assert utf16_units(chunk) <= 67
        # Each part encodes on its own: no lone surrogate anywhere.
        chunk.encode("utf-16-be")
    assert reassemble(text) == text


@pytest.mark.parametrize("position", range(0, 140))
def test_emoji_anywhere_in_a_long_text(position: int) -> None:
    text = ("中" * 139)[:position] + EMOJI + "文" * (139 - position)
    sms = encode_sms(text, 3)
    assert all(len(part.payload) <= 140 for part in sms.parts)
    assert reassemble(text, 3) == text


def test_emoji_only_text() -> None:
    text = EMOJI * 40  # 80 code units
    chunks = split_text(text)
    assert [utf16_units(chunk) for chunk in chunks] == [66, 14]
    assert reassemble(text) == text


def test_exactly_70_emoji_units_is_one_message() -> None:
    assert segment_count(EMOJI * 35) == 1
    assert segment_count(EMOJI * 35 + "a") == 2


@pytest.mark.parametrize(("length", "parts"), [(153, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm_limits(length: int, parts: int) -> None:
    text = ("The meeting starts at 3 pm. " * 20)[:length]
    chunks = split_text(text)
    assert len(chunks) == parts
    assert all(len(chunk) <= 153 for chunk in chunks) or parts == 1
    assert reassemble(text) == text


def test_gsm_text_single_segment_is_one_octet_per_septet() -> None:
    sms = encode_sms("Hello @ 5€", 1)
    assert sms.encoding is SmsEncoding.GSM7 and not sms.concatenated
    assert sms.parts[0].payload == b"Hello \x00 5\x1be"


@pytest.mark.parametrize("position", range(145, 160))
def test_escape_sequence_is_never_split(position: int) -> None:
    text = "a" * position + "€" + "b" * 30
    chunks = split_text(text)
    assert "".join(chunks) == text
    assert all(text_length(chunk) <= 153 for chunk in chunks)
    for chunk in chunks:
        assert not encode_text(chunk, SmsEncoding.GSM7).endswith(b"\x1b")
    assert reassemble(text) == text


def test_extension_characters_count_double_for_the_single_limit() -> None:
    assert segment_count("€" * 80) == 1  # 160 septets
    assert segment_count("€" * 81) == 2


def test_mixed_text_goes_ucs2() -> None:
    text = "Meeting 会议 at 3pm {room 2} " + EMOJI + " 谢谢!" * 20
    sms = encode_sms(text, 42)
    assert sms.encoding is SmsEncoding.UCS2
    assert reassemble(text, 42) == text


def test_udh() -> None:
    assert concat_udh(0xAB, 3, 2) == bytes.fromhex("050003ab0302")
    with pytest.raises(ValueError, match="reference"):
        concat_udh(256, 2, 1)
    with pytest.raises(ValueError, match="part number"):
        concat_udh(1, 2, 3)


def test_too_many_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        split_text("字" * (67 * 255 + 1))
    assert segment_count("字" * (67 * 255)) == 255
