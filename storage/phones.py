"""Phone number normalisation for member rosters.

Spreadsheets deliver phone numbers in every shape imaginable: with spaces,
dashes and brackets, with the ``0086`` international prefix, in full-width
digits, and -- because Excel stores a typed-in number as a float -- as
``13800138000.0`` or even ``1.38001380E+10``.  :func:`normalize_phone` turns
all of those into E.164 (``+8613800138000``) or raises :class:`InvalidPhone`
with a short English reason.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

__all__ = ["InvalidPhone", "mask_phone", "normalize_phone"]


class InvalidPhone(ValueError):
    """The value cannot be read as a valid phone number; ``str(exc)`` is the reason."""


# Longest input we bother to look at; E.164 numbers have at most 15 digits,
# the rest is formatting.
_MAX_INPUT_CHARS = 64
_MAX_DIGITS = 17  # 15 digits + a "00" international prefix

# Characters allowed in a phone number once the text is NFKC-normalised
# (which turns full-width digits, "＋", "（", "）" and "－" into ASCII).
_ALLOWED = frozenset("0123456789+-(). /")

_EXCEL_TEXT_FORMULA = re.compile(r'="(.*)"')
# "13800138000.0": a float that went through str().
_TRAILING_ZERO_DECIMAL = re.compile(r"(\d+)\.0+")
# "1380013800.5": a real decimal fraction, never part of a phone number's
# formatting (dot-separated groups have three or more digits).
_DECIMAL_FRACTION = re.compile(r"\d+\.\d{1,2}")
# "1.38001380E+10": Excel's scientific notation.
_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?[eE]\+?\d+")
# Excel's "General" format shows at most six significant digits in
# scientific notation (1.38001E+10), its "Scientific" format three
# (1.38E+10): both have thrown digits away.  Trust only longer mantissas.
_MIN_SCIENTIFIC_DIGITS = 7

# Numbers a person can be reached on.  Toll-free, premium-rate, shared-cost
# and "universal access" (400/800) numbers are valid but belong to companies.
_PERSONAL_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.PERSONAL_NUMBER,
        PhoneNumberType.VOIP,
    }
)

_CN_MOBILE_DIGITS = 11


def normalize_phone(raw: object, region: str = "CN") -> str:
    """Return ``raw`` as an E.164 string such as ``"+8613800138000"``.

    ``raw`` may be a ``str``, an ``int`` or a ``float`` (as read from Excel).
    Numbers without an international prefix are read as numbers of ``region``.

    Raises:
        InvalidPhone: the value is empty, has letters, is too short or too long,
            or is not a valid personal number according to ``phonenumbers``.
    """
    text = _to_text(raw)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhone(_parse_error_reason(exc)) from None
    if number.extension:
        raise InvalidPhone("extensions are not supported")
    # number_type() is UNKNOWN exactly when is_valid_number() is False; calling
    # only the former halves the cost of a 100,000-row import.
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise InvalidPhone(_invalid_reason(number))
    if kind not in _PERSONAL_TYPES:
        raise InvalidPhone("not a personal number (service, toll-free or 400/800 number)")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Mask a phone number for logs and lists: ``"+8613800138000"`` -> ``"+86 138****8000"``.

    Keeps the country code, the first three and the last four digits of the
    national number; shorter numbers keep proportionally less.  Never raises:
    anything that is not a parseable number is masked as a whole.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return _mask_digits("".join(ch for ch in e164 if ch.isdigit())) or "***"
    national = phonenumbers.national_significant_number(number)
    return f"+{number.country_code} {_mask_digits(national)}"


def _mask_digits(digits: str) -> str:
    n = len(digits)
    if n >= 8:
        head, tail = 3, 4
    else:
        # Show at most about half: 7 -> 1+2, 5 -> 1+1, 3 -> 0+1, 1..2 -> nothing.
        head, tail = n // 4, n // 3
    return digits[:head] + "*" * (n - head - tail) + digits[n - tail :]


def _to_text(raw: object) -> str:
    """Turn a cell value into the text of a phone number, undoing Excel's damage."""
    if raw is None:
        raise InvalidPhone("empty")
    if isinstance(raw, bool):
        raise InvalidPhone("not a phone number")
    if isinstance(raw, int):
        if raw <= 0:
            raise InvalidPhone("not a phone number")
        return str(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw) or raw <= 0 or not raw.is_integer():
            raise InvalidPhone("not a phone number")
        return str(int(raw))
    if isinstance(raw, Decimal):
        raw = str(raw)
    if not isinstance(raw, str):
        raise InvalidPhone("not a phone number")
    if raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS:
        return raw  # the common case, already clean

    text = unicodedata.normalize("NFKC", raw)
    text = " ".join(text.split())  # tabs, NBSP, ideographic space, runs of spaces
    if not text:
        raise InvalidPhone("empty")
    if len(text) > _MAX_INPUT_CHARS:
        raise InvalidPhone("too long")
    # Tricks people use to stop Excel from mangling numbers: '13800138000
    # (text prefix) and ="13800138000" (formula, common in exported CSV).
    match = _EXCEL_TEXT_FORMULA.fullmatch(text)
    if match:
        text = match.group(1).strip()
    elif text.startswith("'"):
        text = text[1:].strip()

    if _SCIENTIFIC.fullmatch(text):
        return _from_scientific(text)
    match = _TRAILING_ZERO_DECIMAL.fullmatch(text)
    if match:
        text = match.group(1)
    elif _DECIMAL_FRACTION.fullmatch(text):
        raise InvalidPhone("not a phone number (decimal fraction)")

    for ch in text:
        if ch not in _ALLOWED:
            if ch.isalpha():
                raise InvalidPhone("contains letters")
            raise InvalidPhone(f"unexpected character {ch!r}")
    digits = sum(ch.isdigit() for ch in text)
    if digits == 0:
        raise InvalidPhone("no digits")
    if digits > _MAX_DIGITS:
        # Two mobiles in one cell ("13800138000/13900139000") are 22 digits.
        raise InvalidPhone("too long (more than one number?)" if digits >= 20 else "too long")
    return text


def _from_scientific(text: str) -> str:
    mantissa = text.lower().partition("e")[0]
    significant = mantissa.replace(".", "").lstrip("0")
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
        raise InvalidPhone("not a phone number") from None
    if value != value.to_integral_value():
        raise InvalidPhone("not a phone number (decimal fraction)")
    integral = str(int(value))
    if len(significant) < _MIN_SCIENTIFIC_DIGITS and len(significant) < len(integral):
        raise InvalidPhone("scientific notation has lost digits; format the column as text")
    if len(integral) > _MAX_DIGITS:
        raise InvalidPhone("too long")
    return integral


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


def _parse_error_reason(exc: NumberParseException) -> str:
    return _PARSE_REASONS.get(exc.error_type, "not a phone number")


def _invalid_reason(number: phonenumbers.PhoneNumber) -> str:
    national = phonenumbers.national_significant_number(number)
    if number.country_code == 86 and national.startswith("1"):
        # Chinese mobile numbers: the commonest mistake is a missing or extra digit.
        if len(national) < _CN_MOBILE_DIGITS:
            return "too short"
        if len(national) > _CN_MOBILE_DIGITS:
            return "too long"
        return "not a valid number"
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == phonenumbers.ValidationResult.TOO_SHORT:
        return "too short"
    if reason == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return "too short (area code missing?)"
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        return "too long"
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return "unknown country code"
    if reason == phonenumbers.ValidationResult.INVALID_LENGTH:
        return "wrong number of digits"
    return "not a valid number"
