"""One open conversation per chat, for every kind of conversation the bot has.

Each conversation is opened as its person would open it; then a command that starts
another one ends it (one line says so, and what is typed next belongs to the new one), a
command that starts none (/help) leaves it where it was, and /cancel ends it. The table
below must name every flow the application runs: a new conversation without its opening
here fails the first test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import FEATURES
from bot.background import make_sms_inbox
from bot.botapi import Button, LocalBotApi
from bot.context import LiaisonApplication
from messages.channels.base import MobileOriginated
from storage.activities import create_activity
from storage.certificates import apply
from storage.clock import FakeClock
from storage.db import Database
from storage.ideas import submit
from storage.models import (
    ActivityKind,
    CheckIn,
    Consent,
    Conversation,
    IdeaKind,
    Member,
    RequestStatus,
    ServiceCategory,
    Staff,
)
from storage.requests import create_request, set_status
from storage.rights import Field, propose_correction
from storage.sms_inbox import fingerprint
from tests.chat import Person, talk
from tests.conftest import START
from tests.delivery import Deliver
from tests.factories import make_group, make_member, make_request_catalogue, make_staff

ZHANG = 9701  # 张伟, a member of 驻深圳
LIAISON = 9702  # 李联络, liaison of 驻深圳
STRANGER = 9703  # not bound to anyone yet


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    await make_request_catalogue(db, START)
    shenzhen = await make_group(db, START, "驻深圳党小组")
    await make_member(
        db,
        START,
        name="张伟",
        phone="+8613800000001",
        telegram_user_id=ZHANG,
        groups=[shenzhen],
        consent=Consent.GIVEN,
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])


async def open_conversations(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        return [(row.flow, row.step) for row in await session.scalars(select(Conversation))]


async def zhang_id(db: Database) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Member.id).where(Member.telegram_user_id == ZHANG))
        assert found is not None
        return found


async def a_request(db: Database, clock: FakeClock) -> int:
    async with db.session() as session:
        category = await session.scalar(select(ServiceCategory).order_by(ServiceCategory.id))
        assert category is not None
        request = await create_request(
            session,
            clock.now(),
            member_id=await zhang_id(db),
            category_id=category.id,
            description="房东要涨租",
            zone=ZoneInfo("Asia/Shanghai"),
        )
        return request.id


@dataclass
class World:
    application: LiaisonApplication
    bot_api: LocalBotApi
    db: Database
    clock: FakeClock
    deliver: Deliver

    def person(self, user_id: int) -> Person:
        return Person(self.application, self.bot_api, user_id)

    async def press(self, who: Person, data: str) -> None:
        """Press the button carrying data under the last message that had buttons."""
        message = next(o for o in reversed(who.last) if o.buttons)
        who.last = await who.send_update(who.updates.press(who.user, message, Button("x", data)))


Opening = Callable[[World], Awaitable[Person]]


def command(user_id: int, typed: str, expected: str) -> Opening:
    """The conversation a command opens: user_id types it and is asked expected."""

    async def opening(world: World) -> Person:
        who = world.person(user_id)
        await talk(who, [(typed, expected)])
        return who

    return opening


async def request_comment(world: World) -> Person:
    """The member says the closed request was not solved, and gives it one star."""
    zhang = world.person(ZHANG)  # in the chat before the answer arrives
    request_id = await a_request(world.db, world.clock)
    async with world.db.session() as session:
        staff_id = await session.scalar(select(Staff.id).where(Staff.telegram_user_id == LIAISON))
        assert staff_id is not None
        await set_status(
            session,
            world.clock.now(),
            request_id,
            staff_id=staff_id,
            status=RequestStatus.CANNOT_HELP,
            answer="本区没有这项服务。",
        )
    await world.deliver()
    await talk(zhang, [("👎 没有解决", "请打分"), ("1⭐", "哪里还没有解决")])
    return zhang


async def idea_reply(world: World) -> Person:
    async with world.db.session() as session:
        found = await submit(
            session, START, member_id=await zhang_id(world.db), kind=IdeaKind.IDEA, text="多办夜校"
        )
    liaison = world.person(LIAISON)
    await talk(liaison, [(f"/ideas {found.id}", "多办夜校"), ("✍️ 回复", "回复建议")])
    return liaison


async def certificate_rejection(world: World) -> Person:
    async with world.db.session() as session:
        applied = await apply(
            session,
            START,
            member_id=await zhang_id(world.db),
            origin_organisation="湖北省武汉市江汉区委组织部",
            destination="广东省深圳市南山区",
            reason="外出务工",
            expected_months=12,
        )
    liaison = world.person(LIAISON)
    await talk(liaison, [(f"/certificates {applied.id}", "已申请"), ("❌ 不予通过", "请写明原因")])
    return liaison


async def request_card(world: World) -> tuple[Person, int]:
    """A liaison with a member's open request's card in front of them."""
    request_id = await a_request(world.db, world.clock)
    liaison = world.person(LIAISON)
    await talk(liaison, [("/requests", "待办的服务申请"), ("1", f"服务申请 #{request_id}")])
    return liaison, request_id


async def request_note(world: World) -> Person:
    liaison, request_id = await request_card(world)
    await world.press(liaison, f"request:note:{request_id}")
    return liaison


async def request_answer(world: World) -> Person:
    liaison, request_id = await request_card(world)
    await world.press(liaison, f"request:status:{request_id}")
    await world.press(liaison, f"request:close:{request_id}:resolved")
    return liaison


async def sms_answer(world: World) -> Person:
    """A liaison answers, from /inbox, an SMS 张伟 sent that no keyword took."""
    inbox = make_sms_inbox(world.application.bot_data.services)
    text = "周六的会在哪里开？"
    octets = text.encode("utf-16-be")
    await inbox(
        MobileOriginated("+8613800000001", "Liaison", text, fingerprint("+86", "L", 8, 0, octets))
    )
    await inbox.handle_pending()
    liaison = world.person(LIAISON)
    await talk(liaison, [("/inbox", "周六的会"), ("✍️ 回复 #1", "回复短信 #1")])
    return liaison


async def rights_rejection(world: World) -> Person:
    async with world.db.session() as session:
        await propose_correction(
            session, START, member_id=await zhang_id(world.db), field=Field.WORKPLACE, text="汉口"
        )
    liaison = world.person(LIAISON)
    await talk(liaison, [("/rights 1", "信息更正申请 #1"), ("❌ 不同意（写明理由）", "请输入理由")])
    return liaison


async def activity(world: World) -> Person:
    liaison = world.person(LIAISON)
    await talk(liaison, [("/activities", "活动"), ("➕ 新活动", "新活动 1/7")])
    return liaison


async def activity_change(world: World) -> Person:
    """李联络 changes the time of an activity of his group: the new time is asked."""
    async with world.db.session() as session:
        created = await create_activity(
            session,
            START,
            kind=ActivityKind.FORUM,
            title="流动党员座谈会",
            starts_at=START + timedelta(days=3),
            ends_at=START + timedelta(days=3, hours=2),
            groups=["驻深圳党小组"],
            actor="cli:test",
            organiser="区委组织部",
            zone=ZoneInfo("Asia/Shanghai"),
            address="武汉市江汉区民意四路 12 号",
        )
    liaison = world.person(LIAISON)
    await talk(
        liaison,
        [(f"/activities {created.activity.id}", "签到码"), ("🕒 改时间", "请输入新的时间")],
    )
    return liaison


async def attend(world: World) -> Person:
    """张伟 at the venue of an activity that starts in ten minutes: /attend asks for the code."""
    async with world.db.session() as session:
        await create_activity(
            session,
            START,
            kind=ActivityKind.FORUM,
            title="流动党员座谈会",
            starts_at=START + timedelta(minutes=10),
            ends_at=START + timedelta(hours=2),
            groups=["驻深圳党小组"],
            actor="cli:test",
            organiser="区委组织部",
            zone=ZoneInfo("Asia/Shanghai"),
            address="武汉市江汉区民意四路 12 号",
        )
    zhang = world.person(ZHANG)
    await talk(zhang, [("/attend", "签到码")])
    return zhang


# Each flow, how its person opens it, and the command that starts another conversation for
# that person (None: there is none — a stranger can only give an invite code).
OPENINGS: dict[str, tuple[Opening, str | None]] = {
    "checkin": (command(ZHANG, "/checkin", "您现在在哪里"), "/request"),
    "request": (command(ZHANG, "/request", "申请服务 1/5"), "/checkin"),
    "certificate": (command(ZHANG, "/certificate", "活动证"), "/checkin"),
    "idea": (command(ZHANG, "/idea", "1/3"), "/checkin"),
    "request_comment": (request_comment, "/checkin"),
    "start": (command(STRANGER, "/start", "邀请码"), None),
    "notice": (command(LIAISON, "/notice", "发给谁"), "/material"),
    "material": (command(LIAISON, "/material", "标题"), "/notice"),
    "idea_reply": (idea_reply, "/notice"),
    "certificate_rejection": (certificate_rejection, "/notice"),
    "request_note": (request_note, "/notice"),
    "request_answer": (request_answer, "/material"),
    "correct": (command(ZHANG, "/correct", "1/3"), "/checkin"),
    "leave": (command(ZHANG, "/leave", "退出并删除我的信息"), "/checkin"),
    "rights_rejection": (rights_rejection, "/notice"),
    "sms_answer": (sms_answer, "/notice"),
    "activity": (activity, "/notice"),
    "activity_change": (activity_change, "/notice"),
    "attend": (attend, "/checkin"),
}
# What each flow is called in the line that says it ended (messages/locales/zh_CN/flow.toml).
ENDED = "未完成的{}已结束"


@pytest.fixture
def world(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> World:
    return World(application, bot_api, db, clock, deliver)


def test_every_conversation_has_its_opening_here() -> None:
    flows = {flow.name for feature in FEATURES for flow in feature.flows}
    assert flows == set(OPENINGS)


SWITCHING = [name for name, (_, switch) in OPENINGS.items() if switch is not None]


@pytest.mark.parametrize("name", SWITCHING)
async def test_a_command_of_another_conversation_ends_the_open_one(
    world: World, db: Database, name: str
) -> None:
    opening, switch = OPENINGS[name]
    assert switch is not None
    who = await opening(world)
    assert [flow for flow, _ in await open_conversations(db)] == [name]
    what = world.application.bot_data.services.renderer.label("zh_CN", f"flow.{name}")
    await talk(who, [(switch, ENDED.format(what))])
    [(flow, step)] = await open_conversations(db)
    new = switch.removeprefix("/")
    assert flow == new
    # What is typed next is the new conversation's: a check-in takes it as the place, a
    # material as its title; nothing of the old one is saved.
    await who.say("深圳市南山区")
    after = await open_conversations(db)
    assert [flow for flow, _ in after] == [new]
    if new in ("checkin", "material"):
        assert after != [(flow, step)]
    async with db.session() as session:
        assert list(await session.scalars(select(CheckIn))) == []


@pytest.mark.parametrize("name", list(OPENINGS))
async def test_a_command_that_opens_no_conversation_leaves_it_where_it_was(
    world: World, db: Database, name: str
) -> None:
    opening, _ = OPENINGS[name]
    who = await opening(world)
    before = await open_conversations(db)
    await talk(who, [("/help", "/cancel")])
    assert "已结束" not in who.last_text
    assert await open_conversations(db) == before


@pytest.mark.parametrize("name", list(OPENINGS))
async def test_cancel_ends_whichever_is_open(world: World, db: Database, name: str) -> None:
    opening, _ = OPENINGS[name]
    who = await opening(world)
    await who.say("/cancel")
    assert await open_conversations(db) == []
    # And once more: nothing is open any more, and the person is told so.
    await talk(who, [("/cancel", "没有")])
