"""An activity for members without Telegram: the invitation by SMS says how to answer, the
member's "参加 1" / "不参加 1" texted back is their answer (as the buttons give it), one SMS
says what was recorded, and the reminder the day before goes by SMS too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.background import make_sms_inbox
from bot.context import Services
from messages.channels.base import MobileOriginated
from messages.sms_keywords import SmsKeywords
from scheduler.jobs import run_due
from storage.activities import create_activity
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    ActivityInvitation,
    ActivityKind,
    InboundSms,
    Member,
)
from storage.sms_inbox import SmsIntent, fingerprint
from tests.delivery import RecordingSms, make_dispatcher
from tests.factories import make_group, make_member

ZHAO = "+8613900000011"  # 赵敏: SMS only, reads Chinese
QIAN = "+8613900000012"  # 钱军: SMS only, reads Chinese
SUN = "+8613900000013"  # 孙丽: SMS only, reads English
STARTS = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)  # 14:00 in Wuhan


@pytest.fixture(autouse=True)
async def district(db: Database, clock: FakeClock) -> None:
    group = await make_group(db, clock.now(), "驻深圳党小组")
    for name, phone, locale in (("赵敏", ZHAO, None), ("钱军", QIAN, None), ("孙丽", SUN, "en")):
        await make_member(db, clock.now(), name=name, phone=phone, groups=[group], locale=locale)


async def forum(db: Database, clock: FakeClock, *, capacity: int | None = 1) -> int:
    async with db.session() as session:
        created = await create_activity(
            session,
            clock.now(),
            kind=ActivityKind.FORUM,
            title="流动党员座谈会",
            starts_at=STARTS,
            ends_at=STARTS + timedelta(hours=2),
            groups=["驻深圳党小组"],
            actor="cli:test",
            organiser="区委组织部",
            zone=ZoneInfo("Asia/Shanghai"),
            address="武汉市江汉区民意四路 12 号",
            capacity=capacity,
        )
    return created.activity.id


class Phones:
    """Members texting back, as the SMS centre hands their messages to the service."""

    def __init__(self, services: Services) -> None:
        self.inbox = make_sms_inbox(services)
        self.sent = 0

    async def text(self, sender: str, text: str) -> None:
        self.sent += 1
        octets = text.encode("utf-16-be")
        key = fingerprint(sender, "10690000", 8, 0, octets + bytes([self.sent]))
        await self.inbox(MobileOriginated(sender, "10690000", text, key))
        await self.inbox.handle_pending()


async def test_members_answer_by_sms_and_hear_what_was_recorded(
    db: Database, clock: FakeClock, services: Services
) -> None:
    sms = RecordingSms()
    dispatcher = make_dispatcher(services, sms=sms)
    phones = Phones(services)
    activity_id = await forum(db, clock)
    await dispatcher.run_once()
    (invitation,) = sms.to(ZHAO)
    assert "【活动邀请】流动党员座谈会" in invitation
    assert f"参加请回复“参加{activity_id}”" in invitation
    assert "限1人" in invitation
    (english,) = sms.to(SUN)
    assert f'reply "JOIN {activity_id}"' in english

    await phones.text(ZHAO, f"参加{activity_id}")
    # The place is taken: 钱军's bare "参加" answers the invitation he got by SMS: he waits.
    await phones.text(QIAN, "参加")
    # The same answer again (typed otherwise: a repeat of the same SMS counts once anyway).
    await phones.text(ZHAO, f"参加 {activity_id}")
    await dispatcher.run_once()
    assert sms.to(ZHAO)[1:] == [
        f"已登记您参加“流动党员座谈会”（12-05 14:00）。来不了请回复“不参加{activity_id}”。",
        "您已经回复过参加“流动党员座谈会”，不用再回复。",
    ]
    (full,) = sms.to(QIAN)[1:]
    assert full.startswith("“流动党员座谈会”名额已满，已把您排进候补名单，第1位。")

    # 孙丽 waits too, second in line; 钱军 texting yes again hears where he stands.
    await phones.text(SUN, f"join {activity_id}")
    await phones.text(QIAN, f"CJ {activity_id}")
    await dispatcher.run_once()
    assert sms.to(SUN)[-1].startswith(
        '"流动党员座谈会" is full: you are on the waiting list, number 2'
    )
    assert sms.to(QIAN)[-1] == "您已在“流动党员座谈会”的候补名单上，第1位，不用再回复。"
    # 赵敏 cannot come after all (full-width, lower case); 钱军, first in line, has the place
    # and is told by SMS; 孙丽 moves up.
    await phones.text(ZHAO, f"ｂｃｊ{activity_id}")
    await dispatcher.run_once()
    assert "已登记您不能参加" in sms.to(ZHAO)[-1]
    assert sms.to(QIAN)[-1] == (
        "【候补成功】流动党员座谈会（2026-12-05 14:00，武汉市江汉区民意四路 12 号）有名额空出，"
        f"已登记您参加。来不了请回复“不参加{activity_id}”。"
    )
    await phones.text(SUN, f"join {activity_id}")
    await dispatcher.run_once()
    assert "number 1" in sms.to(SUN)[-1]
    async with db.session() as session:
        rows = await session.execute(
            select(Member.name, ActivityInvitation.answer).join(
                ActivityInvitation, ActivityInvitation.member_id == Member.id
            )
        )
        assert dict(rows.all()) == {"赵敏": "no", "钱军": "yes", "孙丽": None}

    # Another number, or text that is no answer, goes to the staff as any SMS does.
    await phones.text(ZHAO, "参加 99")
    await phones.text(ZHAO, "参加了上次的活动，很好")
    await dispatcher.run_once()
    assert sms.to(ZHAO)[-1] == "没有找到发给您的第 99 号活动邀请。请核对短信里的编号。"
    async with db.session() as session:
        inbox = list(await session.scalars(select(InboundSms.text).where(InboundSms.in_inbox)))
    assert inbox == ["参加了上次的活动，很好"]

    # The day before, the reminder to 钱军, who is coming, by SMS.
    clock.set(STARTS - timedelta(days=1))
    await run_due(db, clock.now(), services.settings)
    await dispatcher.run_once()
    reminders = [(m.address, m.text) for m in sms.sent if "【活动提醒】" in m.text]
    assert reminders == [
        (
            QIAN,
            "【活动提醒】明天14:00：流动党员座谈会，武汉市江汉区民意四路 12 号。"
            f"来不了请回复“不参加{activity_id}”。",
        )
    ]
    # Once it has started, answers are closed.
    clock.set(STARTS + timedelta(minutes=5))
    await phones.text(QIAN, f"不参加{activity_id}")
    await dispatcher.run_once()
    assert sms.to(QIAN)[-1] == "“流动党员座谈会”已经开始或结束，不能再修改回复。"


async def test_in_english_the_answers_by_sms_say_so(
    db: Database, clock: FakeClock, services: Services
) -> None:
    sms = RecordingSms()
    dispatcher = make_dispatcher(services, sms=sms)
    phones = Phones(services)
    activity_id = await forum(db, clock, capacity=None)
    await dispatcher.run_once()
    for text in (
        f"JOIN {activity_id}",
        f"yes {activity_id}",
        f"decline {activity_id}",
        "no 77",
        f"join {activity_id}",
    ):
        await phones.text(SUN, text)
    clock.set(STARTS - timedelta(days=1))
    await run_due(db, clock.now(), services.settings)
    clock.set(STARTS + timedelta(minutes=1))
    await phones.text(SUN, f"DECLINE {activity_id}")
    await dispatcher.run_once()
    coming = (
        'You are down as coming to "流动党员座谈会" (12-05 14:00). '
        f'If you cannot, reply "DECLINE {activity_id}".'
    )
    # (December's check-in prompt goes in the same run: not ours to count.)
    ours = [text for text in sms.to(SUN)[1:] if not text.startswith("Monthly check-in")]
    assert ours == [
        coming,
        'You already answered that you will come to "流动党员座谈会".',
        'You are down as not coming to "流动党员座谈会" (12-05 14:00). '
        f'To come after all, reply "JOIN {activity_id}".',
        "No invitation number 77 was sent to you. Please check the number in the SMS.",
        coming,
        "[Reminder] Tomorrow 14:00: 流动党员座谈会, 武汉市江汉区民意四路 12 号. "
        f'If you cannot come, reply "DECLINE {activity_id}".',
        '"流动党员座谈会" has started or is over: the answer cannot change now.',
    ]


@pytest.mark.parametrize(
    ("text", "intent", "argument"),
    [
        ("参加12", SmsIntent.ACTIVITY_YES, "12"),
        ("参加 #12。", SmsIntent.ACTIVITY_YES, "12"),
        ("不参加 12", SmsIntent.ACTIVITY_NO, "12"),
        ("ＢＣＪ１２", SmsIntent.ACTIVITY_NO, "12"),
        ("cj", SmsIntent.ACTIVITY_YES, ""),
        ("NO", SmsIntent.ACTIVITY_NO, ""),
        ("Yes 3", SmsIntent.ACTIVITY_YES, "3"),
        ("参加了上次的活动", SmsIntent.OTHER, ""),
        ("nothing to add", SmsIntent.OTHER, ""),
        ("yesterday", SmsIntent.OTHER, ""),
        ("1", SmsIntent.SAME, ""),
    ],
)
def test_the_answer_keywords_take_a_number_and_nothing_else(
    services: Services, text: str, intent: SmsIntent, argument: str
) -> None:
    read = SmsKeywords(services.renderer).read(text)
    assert (read.intent, read.argument) == (intent, argument)
