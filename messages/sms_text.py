"""SMS text: choosing the alphabet, splitting into segments, building concatenation headers.

Pure functions, no I/O. A text goes out in the GSM 03.38 7-bit default alphabet when every
character is in it (the extension table's characters cost two septets: escape + code), and
in UCS-2 otherwise (UTF-16BE in practice, so an emoji is a surrogate pair of two code units).

One SMS carries 140 octets: 160 GSM septets or 70 UCS-2 code units. A longer text is sent
as concatenated parts, each starting with a 6-octet user data header (UDH: IEI 0x00, 8-bit
reference), which leaves 153 septets or 67 code units (134 octets) per part. A part never
ends between an escape and its code, nor inside a surrogate pair.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# GSM 03.38 default alphabet: the character at index n has code n; 0x1B is the escape.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_ESCAPE = 0x1B
# The extension table: written as escape + code, two septets each.
GSM_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_GSM_CODE = {char: code for code, char in enumerate(GSM_BASIC) if code != GSM_ESCAPE}

GSM_SINGLE = 160  # septets in one SMS
GSM_PART = 153  # septets in one part of a concatenated SMS
UCS2_SINGLE = 70  # UTF-16 code units in one SMS
UCS2_PART = 67  # UTF-16 code units in one part (134 octets + 6-octet UDH = 140)
MAX_PARTS = 255  # the UDH counts parts in one octet
UDH_LENGTH = 6


class SmsEncoding(enum.IntEnum):
    """The alphabet of a message; the value is SMPP's data_coding."""

    GSM7 = 0  # SMSC default alphabet: GSM 03.38, one septet per octet
    UCS2 = 8


def _gsm_cost(char: str) -> int | None:
    """Septets a character takes in GSM 03.38, or None when it is not in the alphabet."""
    if char in _GSM_CODE:
        return 1
    if char in GSM_EXTENSION:
        return 2
    return None


def is_gsm(text: str) -> bool:
    """Whether every character of text is in the GSM 03.38 alphabet (with the extension)."""
    return all(_gsm_cost(char) is not None for char in text)


def choose_encoding(text: str) -> SmsEncoding:
    """GSM 7-bit when every character fits it, UCS-2 otherwise."""
    return SmsEncoding.GSM7 if is_gsm(text) else SmsEncoding.UCS2


def _units(char: str, encoding: SmsEncoding) -> int:
    """What one character costs: septets in GSM, UTF-16 code units in UCS-2."""
    if encoding is SmsEncoding.UCS2:
        return 2 if ord(char) > 0xFFFF else 1
    cost = _gsm_cost(char)
    if cost is None:
        raise ValueError(f"character {char!r} is not in the GSM 03.38 alphabet")
    return cost


def text_length(text: str, encoding: SmsEncoding | None = None) -> int:
    """Length as the network counts it: GSM septets, or UTF-16 code units for UCS-2."""
    encoding = choose_encoding(text) if encoding is None else encoding
    return sum(_units(char, encoding) for char in text)


def split_text(text: str, encoding: SmsEncoding | None = None) -> list[str]:
    """The text of each SMS: one when it fits a single message, else concatenated parts.

    Parts are cut between characters, so an escape sequence or surrogate pair is never
    split; joining the parts gives the text back exactly.
    """
    if not text:
        raise ValueError("an SMS cannot be empty")
    encoding = choose_encoding(text) if encoding is None else encoding
    single, part_limit = (
        (GSM_SINGLE, GSM_PART) if encoding is SmsEncoding.GSM7 else (UCS2_SINGLE, UCS2_PART)
    )
    if text_length(text, encoding) <= single:
        return [text]
    parts: list[str] = []
    start = 0
    used = 0
    for index, char in enumerate(text):
        cost = _units(char, encoding)
        if used + cost > part_limit:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    if len(parts) > MAX_PARTS:
        raise ValueError(f"text too long for one SMS ({len(parts)} parts, at most {MAX_PARTS})")
    return parts


def encode_text(text: str, encoding: SmsEncoding) -> bytes:
    """The user data of text: one octet per GSM septet (SMPP default), or UTF-16BE."""
    if encoding is SmsEncoding.UCS2:
        return text.encode("utf-16-be")
    out = bytearray()
    for char in text:
        code = _GSM_CODE.get(char)
        if code is not None:
            out.append(code)
        elif char in GSM_EXTENSION:
            out += bytes((GSM_ESCAPE, GSM_EXTENSION[char]))
        else:
            raise ValueError(f"character {char!r} is not in the GSM 03.38 alphabet")
    return bytes(out)


def concat_udh(reference: int, total: int, number: int) -> bytes:
    """The user data header of part number (1-based) of total: IEI 0x00, 8-bit reference."""
    if not 0 <= reference <= 0xFF:
        raise ValueError("reference must fit one octet")
    if not 1 <= number <= total <= MAX_PARTS:
        raise ValueError("part number out of range")
    return bytes((0x05, 0x00, 0x03, reference, total, number))


@dataclass(frozen=True, slots=True)
class SmsPart:
    """One SMS as submitted: its characters and its short_message octets (UDH included)."""

    text: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class EncodedSms:
    """A text ready for submit_sm: alphabet, parts and, when concatenated, the reference."""

    encoding: SmsEncoding
    parts: tuple[SmsPart, ...]
    reference: int | None

    @property
    def concatenated(self) -> bool:
        return len(self.parts) > 1

    @property
    def data_coding(self) -> int:
        return int(self.encoding)

    @property
    def esm_class(self) -> int:
        """0x40 (UDH indicator) for concatenated parts, 0 for a single message."""
        return 0x40 if self.concatenated else 0x00

    @property
    def text(self) -> str:
        return "".join(part.text for part in self.parts)


def encode_sms(text: str, reference: int) -> EncodedSms:
    """Choose the alphabet, split, and build every part's octets (reference: 0-255)."""
    encoding = choose_encoding(text)
    texts = split_text(text, encoding)
    if len(texts) == 1:
        return EncodedSms(encoding, (SmsPart(text, encode_text(text, encoding)),), None)
    total = len(texts)
    parts = tuple(
        SmsPart(chunk, concat_udh(reference, total, number) + encode_text(chunk, encoding))
        for number, chunk in enumerate(texts, start=1)
    )
    return EncodedSms(encoding, parts, reference)


_GSM_EXTENSION_CHAR = {code: char for char, code in GSM_EXTENSION.items()}


@dataclass(frozen=True, slots=True)
class Concatenation:
    """A part's place in a long message, from its user data header."""

    reference: int
    total: int
    number: int


def read_udh(octets: bytes) -> tuple[Concatenation | None, bytes]:
    """The concatenation element of a user data header (8- or 16-bit reference) and the
    octets after the header; ValueError when the header does not fit the octets."""
    if not octets or octets[0] + 1 > len(octets):
        raise ValueError("a user data header longer than the message")
    header, rest = octets[1 : 1 + octets[0]], octets[1 + octets[0] :]
    found = None
    index = 0
    while index + 2 <= len(header):
        iei, length = header[index], header[index + 1]
        value = header[index + 2 : index + 2 + length]
        if len(value) < length:
            raise ValueError("a user data header element longer than the header")
        if iei == 0x00 and length == 3:
            found = Concatenation(value[0], value[1], value[2])
        elif iei == 0x08 and length == 4:
            found = Concatenation(int.from_bytes(value[:2], "big"), value[2], value[3])
        index += 2 + length
    if found is not None and not 1 <= found.number <= found.total:
        found = None  # a header no phone writes: read the part as a message of its own
    return found, rest


def decode_text(octets: bytes, data_coding: int) -> str:
    """The text of user data: UCS-2 (8, read as UTF-16BE: emoji come as surrogate pairs),
    Latin-1 (3), IA5/ASCII (1), else the GSM 03.38 default alphabet, one septet per octet
    (0, the SMS centre's default); octets that are no GSM code are read as Latin-1."""
    if data_coding == SmsEncoding.UCS2:
        return octets.decode("utf-16-be", errors="replace")
    if data_coding == 3:
        return octets.decode("latin-1")
    if data_coding == 1:
        return octets.decode("ascii", errors="replace")
    if any(octet > 0x7F for octet in octets):
        return octets.decode("latin-1")
    out: list[str] = []
    escaped = False
    for octet in octets:
        if escaped:
            out.append(_GSM_EXTENSION_CHAR.get(octet, " "))
            escaped = False
        elif octet == GSM_ESCAPE:
            escaped = True
        else:
            out.append(GSM_BASIC[octet])
    return "".join(out)


def segment_count(text: str) -> int:
    """How many SMS a text takes."""
    return len(split_text(text))


__all__ = [
    "GSM_PART",
    "GSM_SINGLE",
    "MAX_PARTS",
    "UCS2_PART",
    "UCS2_SINGLE",
    "Concatenation",
    "EncodedSms",
    "SmsEncoding",
    "SmsPart",
    "choose_encoding",
    "concat_udh",
    "decode_text",
    "encode_sms",
    "encode_text",
    "is_gsm",
    "read_udh",
    "segment_count",
    "split_text",
    "text_length",
]
