"""What a member's SMS reply asks for: a check-in with a place, "same as last month", stop
SMS notices (and resume them), help, the answer to an activity's invitation ("参加 12",
"不参加 12") — or anything else (for the staff inbox).

The keywords live in the locale files (messages/locales/<locale>/sms.toml, "|" between
words) and every language's are understood from everyone: a member who reads Chinese may
still type "BD". Phones type full-width characters and stray spaces ("ＢＤ　深圳", "报到深圳"):
the text is read after NFKC normalisation, case-blind, spaces squeezed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from messages.render import Renderer
from storage.settings import LOCALES
from storage.sms_inbox import SmsIntent


@dataclass(frozen=True, slots=True)
class SmsReply:
    intent: SmsIntent
    # CHECKIN: the place as typed after the keyword ("" when none came); ACTIVITY_YES/NO:
    # the activity's number ("" when none came); else "".
    argument: str = ""


def normalize(text: str) -> str:
    """Full-width to half-width, case folded, runs of spaces as one, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _cjk(character: str) -> bool:
    return unicodedata.category(character) == "Lo"


class SmsKeywords:
    """The keywords of every locale, read once from the renderer's locale files."""

    # Every intent with keywords of its own (OTHER has none); the check-in's is read first
    # as a prefix, the others only as the whole message.
    KEYWORDS = (
        SmsIntent.CHECKIN,
        SmsIntent.SAME,
        SmsIntent.STOP,
        SmsIntent.RESUME,
        SmsIntent.HELP,
        SmsIntent.ACTIVITY_YES,
        SmsIntent.ACTIVITY_NO,
    )
    WHOLE = (SmsIntent.SAME, SmsIntent.STOP, SmsIntent.RESUME, SmsIntent.HELP)
    # "不参加" before "参加": a prefix of the one is not the other's.
    ANSWERS = (SmsIntent.ACTIVITY_NO, SmsIntent.ACTIVITY_YES)

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    @cached_property
    def words(self) -> dict[SmsIntent, tuple[str, ...]]:
        found: dict[SmsIntent, set[str]] = {}
        for intent in self.KEYWORDS:
            for locale in LOCALES:
                raw = self.renderer.label(locale, f"sms.kw_{intent.value}")
                words = {normalize(word) for word in raw.split("|") if normalize(word)}
                found.setdefault(intent, set()).update(words)
        # Longest first: "check in" before "ci".
        return {i: tuple(sorted(w, key=len, reverse=True)) for i, w in found.items()}

    def read(self, text: str) -> SmsReply:
        typed = normalize(text)
        # "1", "同上", "退订", "恢复", "?" only as the whole message: "1号楼" answers no prompt.
        bare = typed.strip(" .。!！")
        for intent in self.WHOLE:
            if bare in self.words[intent]:
                return SmsReply(intent)
        for intent in self.ANSWERS:
            for word in self.words[intent]:
                if not typed.startswith(word):
                    continue
                # Only the activity's number may follow ("参加12", "CJ #12", "参加 12。"):
                # "参加了上次的活动" is something to tell the staff, not an answer.
                number = typed[len(word) :].strip(" #:：,，.。!！")
                if not number or (number.isascii() and number.isdigit() and len(number) <= 9):
                    return SmsReply(intent, number)
        for word in self.words[SmsIntent.CHECKIN]:
            if not typed.startswith(word):
                continue
            rest = typed[len(word) :]
            # After a Latin keyword a space or a Chinese character must follow ("bd深圳",
            # "bd 深圳", not "bdx"); a Chinese keyword may run straight into the place.
            if rest and not rest[0].isspace() and not (_cjk(word[-1]) or _cjk(rest[0])):
                continue
            original = unicodedata.normalize("NFKC", text).strip()
            return SmsReply(SmsIntent.CHECKIN, _place_after(original, word))
        return SmsReply(SmsIntent.OTHER)


def _place_after(original: str, word: str) -> str:
    """The place as the member typed it (case kept), after the keyword and separators."""
    pattern = r"\s*".join(re.escape(part) for part in word.split())
    match = re.match(rf"\s*{pattern}", original, flags=re.IGNORECASE)
    rest = original[match.end() :] if match else original
    return " ".join(rest.strip(" :：,，").split())


__all__ = ["SmsIntent", "SmsKeywords", "SmsReply", "normalize"]
