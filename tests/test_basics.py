"""The bot answers everyone sensibly before any feature: help, language, the unexpected."""

from __future__ import annotations

from bot.botapi import BotApiError, LocalBotApi
from bot.context import LiaisonApplication
from storage.clock import FakeClock
from storage.db import Database
from storage.models import Consent
from tests.chat import Person, talk
from tests.factories import make_member

STRANGER = 424242


async def test_help_lists_member_commands_in_chinese_by_default(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    stranger = Person(application, bot_api, STRANGER)
    await talk(stranger, [("/help", ["可用命令", "/checkin", "/lang", "邀请码"])])
    assert "/overdue" not in stranger.last_text


async def test_lang_switches_to_english_and_back(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    stranger = Person(application, bot_api, STRANGER)
    await talk(
        stranger,
        [
            ("/lang", "请选择语言"),
            ("English", "Language set to English"),
            ("/help", ["Commands", "/checkin", "invite code"]),
            ("/lang", "Choose a language"),
            ("中文", "已切换为中文"),
        ],
    )


async def test_unexpected_input_gets_a_short_helpful_answer(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    stranger = Person(application, bot_api, STRANGER)
    await talk(
        stranger,
        [
            ("/frobnicate <b>x</b>", "没有 /frobnicate 这个命令"),
            ("你好", "邀请码"),
            ("长" * 5000, ["消息太长了", "没有保存"]),
        ],
    )
    sticker = await stranger.send_update(stranger.updates.sticker(stranger.user))
    assert "只能读文字" in sticker[0].text
    edited = await stranger.send_update(stranger.updates.edited_text(stranger.user, "改"))
    assert "修改过的消息" in edited[0].text


async def test_command_menu_is_published_per_language(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    menus = bot_api.commands
    zh = next(v for k, v in menus.items() if k.startswith("zh|"))
    en = next(v for k, v in menus.items() if k.startswith("en|"))
    assert {c["command"] for c in zh} == {c["command"] for c in en}
    assert any(c["description"] == "帮助" for c in zh)
    assert any(c["description"] == "Help" for c in en)
    assert "overdue" not in {c["command"] for c in zh}


async def test_a_failed_reply_gets_an_apology_in_chinese(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    stranger = Person(application, bot_api, STRANGER)
    bot_api.fail_next("sendMessage", BotApiError(502, "Bad Gateway"))
    await talk(stranger, [("/help", "抱歉，出了点问题")])


async def test_a_pin_far_from_any_city_is_not_kept(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    await make_member(db, clock.now(), telegram_user_id=STRANGER, consent=Consent.GIVEN)
    member = Person(application, bot_api, STRANGER)
    await talk(
        member,
        [
            ("/checkin", "您现在在哪里"),
            ("/loc 0 -160", ["没能从这个位置找到所在城市", "位置没有保存"]),
            ("深圳南山", "广东省 深圳市 南山区"),
        ],
    )
