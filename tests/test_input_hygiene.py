"""What a person types, and what reaches a terminal or a phone, is clean text.

A NUL character in typed text is dropped on the way in (PostgreSQL cannot store one);
coordinates out of range are refused; control and bidi characters never reach a terminal
or an SMS.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication
from storage.db import Database
from storage.models import CheckIn, Consent, Idea, LocationReport
from tests.chat import Person, talk
from tests.conftest import START
from tests.factories import make_group, make_member, make_staff

MEMBER = 8601
LIAISON = 8602


async def district(db: Database) -> None:
    shenzhen = await make_group(db, START, "驻深圳党小组")
    await make_member(
        db,
        START,
        name="张伟",
        phone="+8613800000001",
        telegram_user_id=MEMBER,
        groups=[shenzhen],
        consent=Consent.GIVEN,
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])


# --- NUL characters in typed text -----------------------------------------------------------


async def test_a_nul_in_a_typed_place_is_dropped_and_the_checkin_saved(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await district(db)
    zhang = Person(application, bot_api, MEMBER)
    await talk(
        zhang,
        [
            ("/checkin", "1/3 您现在在哪里"),
            ("武汉市\x00江汉区", ["所在地：湖北省 武汉市 江汉区", "2/3 工作情况怎么样"]),
            ("工作稳定", "想补充说明吗"),
            ("还在\x00华强电子", "3/3"),
            ("不需要", ["请核对您的报到", "还在华强电子"]),
            ("✅ 确认提交", "已保存，谢谢您"),
        ],
    )
    async with db.session() as session:
        checkin = await session.scalar(select(CheckIn))
        report = await session.scalar(select(LocationReport))
    assert checkin is not None and report is not None
    assert checkin.work_note == "还在华强电子"
    assert report.text == "武汉市江汉区"


async def test_a_nul_in_an_idea_is_dropped_and_the_idea_kept(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await district(db)
    zhang = Person(application, bot_api, MEMBER)
    await talk(
        zhang,
        [
            ("/idea", "1/3"),
            ("💡 金点子", "金点子 2/3：内容"),
            ("开办\x00夜校", ["金点子 3/3：请确认", "开办夜校"]),
            ("📨 发送", "已收到您的金点子，编号 #1"),
        ],
    )
    async with db.session() as session:
        bodies = list(await session.scalars(select(Idea.body)))
    assert bodies == ["开办夜校"]


async def test_a_nul_in_a_member_query_finds_the_member(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await district(db)
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/member 张\x00伟", ["张伟（流出党员）", "电话：+86 138****0001"])])
