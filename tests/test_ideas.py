"""Ideas and opinions in storage: who is told, who may see and answer, what the member hears."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication, Services
from bot.terminal import html_to_text
from messages.ideas import idea_reply
from messages.render import Reader, Rendered
from storage.clock import FakeClock
from storage.db import Database
from storage.ideas import (
    MAX_TEXT_LENGTH,
    IdeaError,
    adopt,
    count_unanswered,
    get_idea,
    list_ideas,
    my_idea,
    my_ideas,
    reply_to,
    submit,
)
from storage.models import (
    AuditEvent,
    ChannelName,
    Delivery,
    DeliveryStatus,
    Idea,
    IdeaKind,
    IdeaStatus,
    MessageKind,
    StaffRole,
)
from storage.payloads import IdeaReply
from tests.conftest import START
from tests.cycle_harness import District
from tests.factories import make_group, make_member, make_staff, make_unit

ZHANG = 7201  # 张伟, 驻深圳
WANG = 7202  # 王芳, 驻深圳, English
LI_NA = 7203  # 李娜, 驻上海 (a group without a liaison)
LIAISON = 7101  # 李联络: 驻深圳
OTHER_LIAISON = 7102  # 刘联络: 律师 only
ADMIN = 7103  # 钱主任: administrator of everything
STREET_ADMIN = 7104  # 周主任: administrator of 民族街 (no groups)


@pytest.fixture
async def district(db: Database) -> dict[str, int]:
    street = await make_unit(db, START, "民族街")
    shenzhen = await make_group(db, START, "驻深圳党小组")
    lawyers = await make_group(db, START, "律师党小组")
    shanghai = await make_group(db, START, "驻上海党小组")
    ids = {}
    for key, member in (
        (
            "zhang",
            await make_member(
                db,
                START,
                name="张伟",
                phone="+8613800000001",
                telegram_user_id=ZHANG,
                groups=[shenzhen],
            ),
        ),
        (
            "wang",
            await make_member(
                db,
                START,
                name="王芳",
                phone="+8613800000002",
                telegram_user_id=WANG,
                groups=[shenzhen],
                locale="en",
            ),
        ),
        (
            "li_na",
            await make_member(
                db,
                START,
                name="李娜",
                phone="+8613800000003",
                telegram_user_id=LI_NA,
                groups=[shanghai],
            ),
        ),
        # Reached by SMS only; in no group, home unit 民族街.
        (
            "sms",
            await make_member(db, START, name="赵强", phone="+8613800000004", unit=street),
        ),
    ):
        ids[key] = member.id
    for key, staff in (
        ("liaison", await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])),
        (
            "other",
            await make_staff(
                db, START, telegram_user_id=OTHER_LIAISON, name="刘联络", groups=[lawyers]
            ),
        ),
        (
            "admin",
            await make_staff(
                db, START, telegram_user_id=ADMIN, name="钱主任", role=StaffRole.ADMIN
            ),
        ),
        (
            "street_admin",
            await make_staff(
                db,
                START,
                telegram_user_id=STREET_ADMIN,
                name="周主任",
                role=StaffRole.ADMIN,
                units=[street],
            ),
        ),
    ):
        ids[key] = staff.id
    return ids


async def send(db: Database, member_id: int, text: str, kind: IdeaKind = IdeaKind.IDEA) -> int:
    async with db.session() as session:
        return (await submit(session, START, member_id=member_id, kind=kind, text=text)).id


async def alerts(db: Database, idea_id: int) -> list[int | None]:
    """The staff ids told of a new idea."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Delivery.staff_id)
            .where(Delivery.kind == MessageKind.IDEA_NEW, Delivery.topic == f"idea:{idea_id}:new")
            .order_by(Delivery.staff_id)
        )
        return list(rows)


async def audit_actions(db: Database) -> list[tuple[str, str | None, str | None]]:
    async with db.session() as session:
        rows = await session.execute(
            select(AuditEvent.action, AuditEvent.actor, AuditEvent.subject).order_by(AuditEvent.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_the_liaisons_of_the_members_groups_are_told_else_the_admins_over_them(
    db: Database, district: dict[str, int]
) -> None:
    # A group with a liaison: only that liaison.
    assert await alerts(db, await send(db, district["zhang"], "建议")) == [district["liaison"]]
    # 驻上海 has no liaison: the admins whose scope covers it (the unscoped one).
    assert await alerts(db, await send(db, district["li_na"], "建议")) == [district["admin"]]
    # In no group: the admins over the member (home unit 民族街), the unscoped one too.
    assert await alerts(db, await send(db, district["sms"], "建议")) == [
        district["admin"],
        district["street_admin"],
    ]


async def test_the_text_is_checked_and_kept_as_typed(
    db: Database, district: dict[str, int]
) -> None:
    for text, reason in (("  \n ", "empty"), ("好" * (MAX_TEXT_LENGTH + 1), "too_long")):
        with pytest.raises(IdeaError) as refused:
            await send(db, district["zhang"], text)
        assert refused.value.reason == reason
    markup = "<b>加强</b> & 改进 <script>x</script>\r\n第二行"
    first = await send(db, district["zhang"], markup)
    longest = await send(db, district["zhang"], "长" * MAX_TEXT_LENGTH, IdeaKind.OPINION)
    async with db.session() as session:
        rows = {s.id: s for s in await session.scalars(select(Idea))}
    assert rows[first].body == "<b>加强</b> & 改进 <script>x</script>\n第二行"
    assert (rows[first].kind, rows[first].status) == (IdeaKind.IDEA, IdeaStatus.NEW)
    assert (len(rows[longest].body), rows[longest].kind) == (
        MAX_TEXT_LENGTH,
        IdeaKind.OPINION,
    )
    with pytest.raises(IdeaError) as unknown:
        async with db.session() as session:
            await submit(session, START, member_id=999_999, kind=IdeaKind.IDEA, text="x")
    assert unknown.value.reason == "not_found"


async def test_staff_see_and_answer_only_their_scope(
    db: Database, district: dict[str, int]
) -> None:
    zhang = await send(db, district["zhang"], "张伟的建议")
    li_na = await send(db, district["li_na"], "李娜的建议")
    async with db.session() as session:
        mine = await list_ideas(session, staff_id=district["liaison"])
        assert [s.id for s in mine] == [zhang]
        assert mine[0].groups == ("驻深圳党小组",)
        assert mine[0].phone_masked == "+86 138****0001"
        assert await list_ideas(session, staff_id=district["other"]) == []
        assert await get_idea(session, li_na, staff_id=district["liaison"]) is None
        everyone = await list_ideas(session, staff_id=district["admin"])
        assert {s.id for s in everyone} == {zhang, li_na}
        assert await count_unanswered(session, staff_id=district["other"]) == 0
    for action in (
        lambda s: reply_to(
            s, START, li_na, text="越权回复", actor="staff:x", staff_id=district["liaison"]
        ),
        lambda s: adopt(s, START, li_na, actor="staff:x", staff_id=district["liaison"]),
        lambda s: adopt(s, START, 424242, actor="staff:x", staff_id=district["admin"]),
    ):
        with pytest.raises(IdeaError) as refused:
            async with db.session() as session:
                await action(session)
        assert refused.value.reason == "not_found"
    async with db.session() as session:
        row = await session.get(Idea, li_na)
        assert row is not None and (row.reply, row.status) == (None, IdeaStatus.NEW)
        assert (
            list(
                await session.scalars(
                    select(Delivery).where(Delivery.kind == MessageKind.IDEA_REPLY)
                )
            )
            == []
        )
    assert await audit_actions(db) == []


async def test_a_member_sees_only_their_own(db: Database, district: dict[str, int]) -> None:
    zhang = await send(db, district["zhang"], "张伟的建议")
    wang = await send(db, district["wang"], "Wang's opinion", IdeaKind.OPINION)
    async with db.session() as session:
        assert [s.id for s in await my_ideas(session, district["zhang"])] == [zhang]
        assert await my_idea(session, district["zhang"], wang) is None
        own = await my_idea(session, district["wang"], wang)
        assert own is not None and own.body == "Wang's opinion"


async def test_unanswered_first_then_newest_first(
    db: Database, district: dict[str, int], clock: FakeClock
) -> None:
    ids = []
    for day in range(4):
        async with db.session() as session:
            row = await submit(
                session,
                START + timedelta(days=day),
                member_id=district["zhang"],
                kind=IdeaKind.IDEA,
                text=f"第{day}条",
            )
            ids.append(row.id)
    async with db.session() as session:
        await reply_to(session, START, ids[3], text="谢谢", actor="cli:test", staff_id=None)
        await adopt(session, START, ids[1], actor="cli:test", staff_id=None)
    async with db.session() as session:
        listed = await list_ideas(session, staff_id=district["liaison"])
        assert [s.id for s in listed] == [ids[2], ids[0], ids[3], ids[1]]
        assert await count_unanswered(session, staff_id=district["liaison"]) == 2
        adopted = await list_ideas(session, staff_id=None, status=IdeaStatus.ADOPTED)
        assert [s.id for s in adopted] == [ids[1]]


async def test_a_reply_and_the_adoption_reach_the_member_once_each(
    db: Database,
    district: dict[str, int],
    services: Services,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    clock: FakeClock,
) -> None:
    world = District(services, application, bot_api, clock)
    idea = await send(db, district["wang"], "<i>More</i> evening classes & talks")
    [alert] = (await world.send_due(START))[LIAISON]
    assert "新的金点子 #" in html_to_text(alert.text)
    assert "&lt;i&gt;More&lt;/i&gt; evening classes &amp; talks" in alert.text
    assert [b.callback_data for b in alert.flat_buttons] == [f"ideas:card:{idea}"]
    async with db.session() as session:
        view = await reply_to(
            session,
            START,
            idea,
            text="好主意 <b>谢谢</b>",
            actor=f"staff:{district['liaison']}",
            staff_id=district["liaison"],
        )
        assert (view.status, view.replied_by) == (IdeaStatus.REPLIED, "李联络")
        await adopt(
            session, START, idea, actor=f"staff:{district['liaison']}", staff_id=district["liaison"]
        )
    await world.send_due(START + timedelta(minutes=1))
    await world.send_due(START + timedelta(minutes=2))
    told = [o for o in bot_api.sent if o.chat_id == WANG]
    # In the member's language (English), once each, their words and the reply escaped.
    assert len(told) == 2
    reply_text = html_to_text(told[0].text)
    assert "The organisation replied to your idea #" in reply_text
    assert "&lt;i&gt;More&lt;/i&gt;" in told[0].text and "&lt;b&gt;谢谢&lt;/b&gt;" in told[0].text
    assert "was adopted" in html_to_text(told[1].text)
    assert [b.callback_data for b in told[1].flat_buttons] == [f"idea:show:{idea}"]
    # Adopting again is refused and tells nobody.
    with pytest.raises(IdeaError) as again:
        async with db.session() as session:
            await adopt(session, START, idea, actor="cli:test", staff_id=None)
    assert again.value.reason == "already_adopted"
    assert await world.send_due(START + timedelta(minutes=3)) == {}
    async with db.session() as session:
        row = await session.get(Idea, idea)
        assert row is not None and row.status is IdeaStatus.ADOPTED
    assert [a[0] for a in await audit_actions(db)] == ["idea.reply", "idea.adopt"]


async def test_a_second_reply_replaces_the_first_and_the_member_hears_the_new_one(
    db: Database,
    district: dict[str, int],
    services: Services,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    clock: FakeClock,
) -> None:
    world = District(services, application, bot_api, clock)
    idea = await send(db, district["zhang"], "建议增加夜校")
    for text in ("第一次回复", "第二次回复"):
        async with db.session() as session:
            await reply_to(session, START, idea, text=text, actor="cli:test", staff_id=None)
    # Both written before anything was sent: only the newer one goes.
    [told] = [html_to_text(o.text) for o in (await world.send_due(START))[ZHANG]]
    assert "第二次回复" in told and "更新了对您的金点子" in told
    async with db.session() as session:
        statuses = list(
            await session.execute(
                select(Delivery.topic, Delivery.status, Delivery.last_error)
                .where(Delivery.kind == MessageKind.IDEA_REPLY)
                .order_by(Delivery.id)
            )
        )
    assert [(t, s) for t, s, _ in statuses] == [
        (f"idea:{idea}:reply:1", DeliveryStatus.SUPPRESSED),
        (f"idea:{idea}:reply:2", DeliveryStatus.DELIVERED),
    ]
    # A third reply after the second was sent: the member hears it too.
    async with db.session() as session:
        view = await reply_to(
            session, START, idea, text="第三次回复", actor="cli:test", staff_id=None
        )
        assert view.reply == "第三次回复"
    [third] = (await world.send_due(START + timedelta(minutes=1)))[ZHANG]
    assert "第三次回复" in html_to_text(third.text)


async def test_a_member_reached_by_sms_gets_a_short_text(
    db: Database,
    district: dict[str, int],
    services: Services,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    clock: FakeClock,
) -> None:
    world = District(services, application, bot_api, clock)
    idea = await send(db, district["sms"], "社区活动改到周末", IdeaKind.OPINION)
    async with db.session() as session:
        await reply_to(session, START, idea, text="好的" * 100, actor="cli:test", staff_id=None)
    await world.send_due(START)
    [(_, sms)] = world.sms.sent
    assert sms.text.startswith(f"【党组织】您的意见建议#{idea}有回复：好的")
    assert sms.text.endswith("全文请在机器人中发送 /myideas 查看。")
    assert len(sms.text) < 200


def test_the_answer_in_both_languages(services: Services) -> None:
    payload = IdeaReply(id=7, kind="opinion", body="多办<讲座>", event="adopted")

    def answer(locale: str, channel: ChannelName) -> Rendered:
        return idea_reply(Reader(services.renderer, locale, UTC, channel), payload)

    zh, _ = answer("zh_CN", ChannelName.TELEGRAM)
    en, _ = answer("en", ChannelName.TELEGRAM)
    sms_en, buttons = answer("en", ChannelName.SMS)
    assert "您的意见建议 #7 被采纳了" in html_to_text(zh) and "多办&lt;讲座&gt;" in zh
    assert "Your opinion #7 was adopted" in html_to_text(en)
    assert (sms_en, buttons) == ("Your opinion #7 was adopted. Thank you!", ())
