"""What the trial found about access: member details stay in private chats, one scope for
cards and notices, only a notice's author cancels it, forged steps change nothing, and
failed lookups leave a trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.botapi import BotApiError, Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication
from messages.callbacks import CERTIFICATE_BUTTON_STEPS, CERTIFICATE_STEP
from storage.certificates import STAFF_STEPS, apply
from storage.clock import FakeClock
from storage.db import Database
from storage.ideas import submit
from storage.invites import create_invite
from storage.models import (
    AuditEvent,
    Certificate,
    CertificateStatus,
    Consent,
    Delivery,
    IdeaKind,
    Member,
    MemberStatus,
    Notice,
    NoticeStatus,
    StaffRole,
    Unit,
)
from storage.notices import addressable_groups, create_notice
from storage.outbox import enqueue_notice
from storage.requests import create_request
from storage.scope import may_see
from tests.chat import Person, said, talk
from tests.conftest import INVITE_KEY, START
from tests.factories import (
    make_group,
    make_member,
    make_request_catalogue,
    make_staff,
    make_unit,
)

LIAISON = 9001
OTHER_LIAISON = 9002
ADMIN = 9003
MEMBER = 8001
GROUP_CHAT = -100_777

ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class Desk:
    """A member of the liaison's group with a request, an idea and a certificate."""

    member_id: int
    request_id: int
    idea_id: int
    certificate_id: int


async def desk(db: Database) -> Desk:
    group = await make_group(db, START, "驻深圳党小组")
    member = await make_member(
        db,
        START,
        name="张伟",
        groups=[group],
        telegram_user_id=MEMBER,
        consent=Consent.GIVEN,
        status=MemberStatus.OUTFLOW,
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[group], locale="en")
    category, _ = await make_request_catalogue(db, START)
    async with db.session() as session:
        request = await create_request(
            session,
            START,
            member_id=member.id,
            category_id=category,
            description="门面续租遇到困难",
            zone=ZONE,
        )
        idea = await submit(
            session, START, member_id=member.id, kind=IdeaKind.IDEA, text="建议每月开一次线上会"
        )
        certificate = await apply(
            session,
            START,
            member_id=member.id,
            origin_organisation="湖北省武汉市江汉区委组织部",
            destination="广东省深圳市南山区",
            reason="外出务工",
            expected_months=12,
        )
        return Desk(member.id, request.id, idea.id, certificate.id)


def in_chat(chat_id: int) -> Outgoing:
    """A message of the bot's in a chat, under which a button is pressed."""
    return Outgoing("sendMessage", chat_id, 1, "…", "HTML")


async def press(who: Person, chat_id: int, data: str) -> list[Outgoing]:
    return await who.send_update(who.updates.press(who.user, in_chat(chat_id), Button("x", data)))


async def audit_rows(db: Database, action: str | None = None) -> list[AuditEvent]:
    async with db.session() as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(await session.scalars(query))


# --- member details only in private chats ---------------------------------------------


async def test_staff_buttons_in_a_group_chat_post_nothing_there(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    records = await desk(db)
    liaison = Person(application, bot_api, LIAISON, language_code="en")
    buttons = [
        f"staff:card:{records.member_id}",
        f"request:card:{records.request_id}",
        f"ideas:card:{records.idea_id}",
        f"cert:letter:{records.certificate_id}",
        f"cert:step:{records.certificate_id}:checked",
        f"cycle:lost:{records.member_id}",
        f"request:take:{records.request_id}",
        f"ideas:adopt:{records.idea_id}",
    ]
    before = len(await audit_rows(db))
    for data in buttons:
        sent = await press(liaison, GROUP_CHAT, data)
        assert sent == [], f"{data} posted {said(sent)!r} in the group"
        assert bot_api.toasts[-1].text == (
            "Members' details are shown only in a private chat with me: open it there."
        ), data
    # Nothing looked up, nothing changed: not even an audit row of a view.
    assert len(await audit_rows(db)) == before
    # In the private chat the same buttons work: the card names the member.
    assert "张伟" in said(await press(liaison, LIAISON, f"staff:card:{records.member_id}"))
    assert "门面续租遇到困难" in said(
        await press(liaison, LIAISON, f"request:card:{records.request_id}")
    )
    assert "建议每月开一次线上会" in said(
        await press(liaison, LIAISON, f"ideas:card:{records.idea_id}")
    )


async def test_a_staff_button_in_a_group_says_so_in_chinese_to_anyone(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    records = await desk(db)
    await make_staff(db, START, telegram_user_id=OTHER_LIAISON, name="王联络")
    for user_id in (OTHER_LIAISON, MEMBER, 424242):
        who = Person(application, bot_api, user_id)
        assert await press(who, GROUP_CHAT, f"staff:card:{records.member_id}") == []
        assert bot_api.toasts[-1].text == "党员信息只在与我的私聊中显示，请在私聊中打开。"


@pytest.mark.parametrize(
    "command", ["/member 张伟", "/overdue", "/requests", "/ideas", "/certificates"]
)
async def test_staff_commands_in_a_group_point_to_the_private_chat(
    command: str,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
) -> None:
    await desk(db)
    liaison = Person(application, bot_api, LIAISON, language_code="en")
    sent = await liaison.send_update(liaison.updates.group_text(liaison.user, command, GROUP_CHAT))
    assert [o.chat_id for o in sent] == [GROUP_CHAT]
    assert "private chat" in said(sent)
    assert "张伟" not in said(sent) and "门面" not in said(sent)
    assert await audit_rows(db, "member.view") == []
    # The same command in the private chat shows what it shows.
    await talk(liaison, [(command, None)])
    assert liaison.last_text


# --- only a notice's author (or an administrator) cancels it --------------------------


async def scheduled_notice(db: Database, now: datetime, staff_id: int, group: str) -> int:
    async with db.session() as session:
        notice = await create_notice(
            session,
            now,
            author=f"staff:{staff_id}",
            author_name="李联络",
            body="周六上午九点开会",
            groups=[group],
            staff_id=staff_id,
            send_at=now + timedelta(days=1),
        )
        return notice.id


async def notice_status(db: Database, notice_id: int) -> NoticeStatus:
    async with db.session() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        return notice.status


async def test_a_liaison_cannot_cancel_a_colleagues_notice(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, START, "驻深圳党小组")
    author = await make_staff(db, START, telegram_user_id=LIAISON, groups=[group])
    await make_staff(
        db, START, telegram_user_id=OTHER_LIAISON, name="王联络", groups=[group], locale="en"
    )
    admin_id = (
        await make_staff(db, START, telegram_user_id=ADMIN, name="赵管理", role=StaffRole.ADMIN)
    ).id
    first = await scheduled_notice(db, clock.now(), author.id, group.name)
    second = await scheduled_notice(db, clock.now(), author.id, group.name)

    colleague = Person(application, bot_api, OTHER_LIAISON, language_code="en")
    await talk(colleague, [("/notices", [f"#{first}", "周六上午九点开会"])])
    assert colleague.button_texts == []  # listed, but no button to cancel it
    refused = said(await press(colleague, OTHER_LIAISON, f"notice:stop:{first}"))
    assert refused == (
        f"Notice #{first} was written by a colleague: "
        "only its author or an administrator can cancel it."
    )
    assert await notice_status(db, first) is NoticeStatus.SCHEDULED
    assert await audit_rows(db, "notice.cancel") == []

    writer = Person(application, bot_api, LIAISON)
    await talk(writer, [("/notices", f"#{first}")])
    assert len(writer.button_texts) == 2
    [mine] = [text for text in writer.button_texts if f"#{first}" in text]
    await talk(writer, [(mine, f"已取消通知 #{first}")])
    assert await notice_status(db, first) is NoticeStatus.CANCELLED

    admin = Person(application, bot_api, ADMIN)
    assert f"已取消通知 #{second}" in said(await press(admin, ADMIN, f"notice:stop:{second}"))
    assert await notice_status(db, second) is NoticeStatus.CANCELLED
    assert [e.actor for e in await audit_rows(db, "notice.cancel")] == [
        f"staff:{author.id}",
        f"staff:{admin_id}",
    ]


# --- a forged certificate step changes nothing ------------------------------------------


async def test_a_forged_certificate_step_is_refused_before_anything_changes(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    records = await desk(db)
    liaison = Person(application, bot_api, LIAISON, language_code="en")
    number = records.certificate_id
    for forged in (" CHECKED ", "CHECKED", "checked ", "rejected", "issued;drop"):
        sent = said(await press(liaison, LIAISON, f"cert:step:{number}:{forged}"))
        assert sent == "That step cannot be taken.", forged
    async with db.session() as session:
        certificate = await session.get(Certificate, number)
        assert certificate is not None
        assert certificate.status is CertificateStatus.APPLIED
    assert [e.action for e in await audit_rows(db) if e.action.startswith("certificate.")] == [
        "certificate.applied"
    ]
    # The real button takes the step, and says so.
    assert f"Application no. {number}: checked by the liaison" in said(
        await press(liaison, LIAISON, f"cert:step:{number}:checked")
    )


def test_certificate_buttons_carry_only_steps_storage_takes() -> None:
    assert set(CERTIFICATE_BUTTON_STEPS) <= set(STAFF_STEPS)
    assert CERTIFICATE_STEP.unpack("cert:step:4: CHECKED ") is None
    assert CERTIFICATE_STEP.unpack("cert:step:4:reviewed") == (4, "reviewed")


# --- one scope: a notice reaches exactly the members whose card the sender opens ---------


async def test_a_liaisons_notices_reach_exactly_the_members_whose_card_they_open(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    district = await make_unit(db, now, "江汉区委组织部")
    async with db.session() as session:
        street = Unit(name="民族街道党工委", parent_id=district.id, created_at=now)
        session.add(street)
    elsewhere = await make_unit(db, now, "武昌区委组织部")
    own = await make_group(db, now, "驻深圳党小组")
    of_street = await make_group(db, now, "民族街道流动党员党小组", unit=street)
    foreign = await make_group(db, now, "武昌流动党员党小组", unit=elsewhere)
    people = {
        "在本组": ([own], elsewhere),
        # The trial's case: in a group of the liaison's unit, home unit elsewhere. Notices
        # reached them; the card was refused.
        "在街道组": ([of_street], elsewhere),
        "户在街道": ([], street),
        "外组本区": ([foreign], district),
        "外组外区": ([foreign], elsewhere),
    }
    ids: dict[str, int] = {}
    for index, (name, (groups, unit)) in enumerate(people.items()):
        member = await make_member(
            db,
            now,
            name=name,
            phone=f"+861380013{index:04d}",
            groups=groups,
            unit=unit,
            telegram_user_id=70_000 + index,
        )
        ids[name] = member.id
    liaison = await make_staff(
        db, now, telegram_user_id=LIAISON, groups=[own], units=[district], locale="en"
    )

    async with db.session() as session:
        openable = {
            name for name, member_id in ids.items() if await may_see(session, liaison.id, member_id)
        }
        groups = [g.name for g in await addressable_groups(session, liaison.id)]
        to_groups = await create_notice(
            session,
            now,
            author=f"staff:{liaison.id}",
            author_name="李联络",
            body="开会",
            groups=groups,
            staff_id=liaison.id,
        )
        to_everyone = await create_notice(
            session,
            now,
            author=f"staff:{liaison.id}",
            author_name="李联络",
            body="开会",
            everyone=True,
            staff_id=liaison.id,
        )
        by_group = [
            await recipients(session, now, to_groups.id, ids),
            *[
                await recipients(
                    session,
                    now,
                    (
                        await create_notice(
                            session,
                            now,
                            author=f"staff:{liaison.id}",
                            author_name="李联络",
                            body="开会",
                            groups=[group],
                            staff_id=liaison.id,
                        )
                    ).id,
                    ids,
                )
                for group in groups
            ],
        ]
        everyone = await recipients(session, now, to_everyone.id, ids)

    assert sorted(groups) == sorted([own.name, of_street.name])
    assert openable == {"在本组", "在街道组", "户在街道", "外组本区"}
    assert everyone == openable
    for reached in by_group:
        assert reached <= openable
    # The trial's case, as the liaison meets it: the card opens now.
    person = Person(application, bot_api, LIAISON, language_code="en")
    assert "在街道组" in said(await press(person, LIAISON, f"staff:card:{ids['在街道组']}"))
    outside = said(await press(person, LIAISON, f"staff:card:{ids['外组外区']}"))
    assert "外组外区" not in outside


async def recipients(
    session: AsyncSession, now: datetime, notice_id: int, ids: dict[str, int]
) -> set[str]:
    """The names of the members a notice was enqueued for."""
    await enqueue_notice(session, now, notice_id)
    names = {member_id: name for name, member_id in ids.items()}
    rows = await session.scalars(
        select(Delivery.member_id).where(
            Delivery.notice_id == notice_id, Delivery.member_id.is_not(None)
        )
    )
    return {names[member_id] for member_id in rows if member_id is not None}


# --- failed lookups leave a trail ----------------------------------------------------------


async def test_lookups_outside_the_scope_are_recorded(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    records = await desk(db)
    other = await make_staff(db, START, telegram_user_id=OTHER_LIAISON, name="王联络", locale="en")
    prober = Person(application, bot_api, OTHER_LIAISON, language_code="en")
    await talk(
        prober,
        [
            ("/member 张伟", "No member"),
            ("/member +86 138 0013 8000", "No member"),
            ("/member 无此人", "No member"),
            (f"/certificates {records.certificate_id}", "There is no such application"),
        ],
    )
    for data in (
        f"staff:card:{records.member_id}",
        f"request:card:{records.request_id}",
        f"ideas:card:{records.idea_id}",
        f"cert:letter:{records.certificate_id}",
        "request:card:99999",
    ):
        answer = said(await press(prober, OTHER_LIAISON, data))
        assert "张伟" not in answer and "门面" not in answer and "建议" not in answer
    assert not [o for o in bot_api.sent if o.method == "sendDocument"]

    refused = [
        (e.actor, e.action, e.subject, (e.detail or {}).get("reason"))
        for e in await audit_rows(db)
        if e.action.endswith(".refused")
    ]
    me = f"staff:{other.id}"
    assert refused == [
        (me, "member.view.refused", None, "out_of_scope"),
        (me, "member.view.refused", None, "out_of_scope"),
        (me, "certificate.view.refused", f"certificate:{records.certificate_id}", "out_of_scope"),
        (me, "member.view.refused", f"member:{records.member_id}", "out_of_scope"),
        (me, "request.view.refused", f"request:{records.request_id}", "out_of_scope"),
        (me, "idea.view.refused", f"idea:{records.idea_id}", "out_of_scope"),
        (me, "certificate.letter.refused", f"certificate:{records.certificate_id}", "out_of_scope"),
        (me, "request.view.refused", "request:99999", "not_found"),
    ]
    # The typed queries: whom they hit, with the phone masked as the audit keeps it.
    by_query = [e.detail for e in await audit_rows(db, "member.view.refused")][:2]
    assert by_query == [
        {"query": "张伟", "reason": "out_of_scope", "members": [records.member_id]},
        {"query": "+86 138****8000", "reason": "out_of_scope", "members": [records.member_id]},
    ]
    # A query that found nobody anywhere stays an ordinary (empty) search.
    [nobody] = await audit_rows(db, "member.view")
    assert nobody.detail == {"query": "无此人", "matches": 0}


# --- an account replaced through a new invite is told ------------------------------------

OLD_ACCOUNT = 8101
NEW_ACCOUNT = 8102


async def new_invite(db: Database, clock: FakeClock, member_id: int) -> str:
    async with db.session() as session:
        code, _ = await create_invite(
            session,
            clock.now(),
            member_id=member_id,
            created_by="cli:liaison",
            valid_days=14,
            key=INVITE_KEY,
        )
    return code


def told(api: LocalBotApi, chat_id: int) -> str:
    return said([o for o in api.sent if o.chat_id == chat_id and o.method == "sendMessage"])


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "Your membership record was just linked to another Telegram account"),
        (None, "您的党员信息刚刚用新的邀请码关联到了另一个 Telegram 账号"),
    ],
)
async def test_the_old_account_is_told_in_the_members_language(
    locale: str | None,
    expected: str,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
) -> None:
    member = await make_member(
        db, clock.now(), telegram_user_id=OLD_ACCOUNT, consent=Consent.GIVEN, locale=locale
    )
    code = await new_invite(db, clock, member.id)
    await talk(Person(application, bot_api, NEW_ACCOUNT), [(f"/start {code}", "张伟")])
    old = told(bot_api, OLD_ACCOUNT)
    assert expected in old
    assert ("liaison" in old) or ("联络员" in old)
    assert "张伟" not in old  # whoever holds the old account now learns no name
    assert expected not in told(bot_api, NEW_ACCOUNT)


async def test_an_old_account_that_cannot_be_reached_does_not_stop_the_binding(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    member = await make_member(db, clock.now(), telegram_user_id=OLD_ACCOUNT, consent=Consent.GIVEN)
    code = await new_invite(db, clock, member.id)
    bot_api.fail_next(
        "sendMessage", BotApiError(403, "Forbidden: user is deactivated"), chat_id=OLD_ACCOUNT
    )
    newcomer = Person(application, bot_api, NEW_ACCOUNT)
    await talk(newcomer, [(f"/start {code}", "绑定成功")])
    async with db.session() as session:
        bound = await session.get(Member, member.id)
        assert bound is not None and bound.telegram_user_id == NEW_ACCOUNT
    assert told(bot_api, OLD_ACCOUNT) == ""


async def test_binding_the_first_account_tells_nobody_else(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    member = await make_member(db, clock.now())
    code = await new_invite(db, clock, member.id)
    await talk(Person(application, bot_api, NEW_ACCOUNT), [(f"/start {code}", "绑定成功")])
    assert {o.chat_id for o in bot_api.sent} == {NEW_ACCOUNT}
