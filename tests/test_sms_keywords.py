"""What a member texts back, read as a phone types it: full-width, stray spaces, any case,
either language's keywords."""

from __future__ import annotations

import pytest

from bot.context import Services
from messages.sms_keywords import SmsIntent, SmsKeywords, SmsReply


@pytest.fixture
def keywords(services: Services) -> SmsKeywords:
    return SmsKeywords(services.renderer)


@pytest.mark.parametrize(
    ("typed", "place"),
    [
        ("报到 深圳南山", "深圳南山"),
        ("报到深圳南山", "深圳南山"),
        ("  报到：深圳 南山 ", "深圳 南山"),
        ("BD 深圳", "深圳"),
        ("ＢＤ　深圳", "深圳"),
        ("bd深圳", "深圳"),
        ("check in Shenzhen Nanshan", "Shenzhen Nanshan"),
        ("CI Berlin", "Berlin"),
        ("报到", ""),
    ],
)
def test_a_checkin_with_its_place(keywords: SmsKeywords, typed: str, place: str) -> None:
    assert keywords.read(typed) == SmsReply(SmsIntent.CHECKIN, place)


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("1", SmsIntent.SAME),
        ("１", SmsIntent.SAME),
        (" 同上 ", SmsIntent.SAME),
        ("same", SmsIntent.SAME),
        ("退订", SmsIntent.STOP),
        ("td", SmsIntent.STOP),
        ("ＴＤ", SmsIntent.STOP),
        ("STOP", SmsIntent.STOP),
        ("恢复", SmsIntent.RESUME),
        ("hf", SmsIntent.RESUME),
        ("Resume.", SmsIntent.RESUME),
        ("start", SmsIntent.RESUME),
        ("帮助", SmsIntent.HELP),
        ("?", SmsIntent.HELP),
        ("？", SmsIntent.HELP),
        ("help!", SmsIntent.HELP),
    ],
)
def test_one_word_answers(keywords: SmsKeywords, typed: str, intent: SmsIntent) -> None:
    assert keywords.read(typed) == SmsReply(intent)


@pytest.mark.parametrize(
    "typed", ["1号楼", "你好，我想问一下", "BDX 深圳", "stopwatch", "退订吗？我还想收", "", "   "]
)
def test_anything_else_is_for_the_staff_inbox(keywords: SmsKeywords, typed: str) -> None:
    assert keywords.read(typed) == SmsReply(SmsIntent.OTHER)
