"""/overdue and /member: liaisons see their own members, everyone else sees nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.botapi import Button, LocalBotApi
from bot.context import LiaisonApplication
from bot.terminal import html_to_text
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    Consent,
    Group,
    Member,
    MemberStatus,
    StaffRole,
    Unit,
    WorkSituation,
)
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.factories import make_checkin, make_group, make_member, make_staff

LIAISON = 9001
OTHER_LIAISON = 9002
ADMIN = 9003
MEMBER = 8001
STRANGER = 424242


async def two_groups(db: Database) -> tuple[Group, Group]:
    """驻深圳 (the liaison's group) and 驻上海 (someone else's), with members of each."""
    shenzhen = await make_group(db, START, "驻深圳党小组")
    shanghai = await make_group(db, START, "驻上海党小组")
    silent = await make_member(
        db, START, name="张伟", phone="+8613800138000", groups=[shenzhen], telegram_user_id=MEMBER
    )
    await make_checkin(db, silent, datetime(2026, 9, 3, 4, tzinfo=UTC), city="深圳市")
    done = await make_member(db, START, name="刘洋", phone="+8613800138001", groups=[shenzhen])
    await make_checkin(db, done, START - timedelta(days=2), city="深圳市")
    await make_member(
        db,
        START,
        name="陈静",
        phone="+8613800138002",
        groups=[shenzhen],
        registered_at=START - timedelta(days=45),
    )
    await make_member(db, START, name="李娜", phone="+8613800138003", groups=[shanghai])
    return shenzhen, shanghai


async def audit_rows(db: Database) -> list[AuditEvent]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# --- /overdue ----------------------------------------------------------------------------


async def test_liaison_sees_only_their_groups_overdue_members(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    shenzhen, _ = await two_groups(db)
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    liaison = Person(application, bot_api, LIAISON)

    await talk(
        liaison,
        [
            (
                "/overdue",
                [
                    "本月（2026-11）尚未报到：2 人",
                    "1. 张伟 +86 138****8000",
                    "已 2 个月未联系，上次报到 2026-09-03",
                    "2. 陈静 +86 138****8002 ⚠️未绑定",
                    "从未报到，登记于 45 天前",
                    "可以直接回复短信报到",
                ],
            )
        ],
    )
    assert "李娜" not in liaison.last_text  # another group's member
    assert "刘洋" not in liaison.last_text  # checked in this month
    assert "13800138000" not in liaison.last_text
    [event] = await audit_rows(db)
    assert (event.actor, event.action) == (f"staff:{staff.id}", "overdue.view")
    # Whom it listed, by member id, in the order shown.
    async with db.session() as session:
        ids = {m.name: m.id for m in await session.scalars(select(Member))}
    assert event.detail == {"total": 2, "shown": 2, "members": [ids["张伟"], ids["陈静"]]}


async def test_overdue_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    shenzhen, _ = await two_groups(db)
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen], locale="en")
    liaison = Person(application, bot_api, LIAISON, language_code="en")

    await talk(
        liaison,
        [
            (
                "/overdue",
                [
                    "Not checked in this month (2026-11): 2",
                    "1. 张伟 +86 138****8000",
                    "silent for 2 months, last check-in 2026-09-03",
                    "2. 陈静 +86 138****8002 ⚠️ not bound",
                    "never checked in, registered 45 days ago",
                ],
            )
        ],
    )
    clock.set(datetime(2026, 12, 2, 4, tzinfo=UTC))
    await talk(liaison, [("/overdue", ["Not checked in this month (2026-12): 3", "刘洋"])])
    assert "silent for 19 days, last check-in 2026-11-13" in liaison.last_text


async def test_everyone_checked_in(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    group = await make_group(db, START)
    member = await make_member(db, START, groups=[group])
    await make_checkin(db, member, START)
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[group])
    await talk(Person(application, bot_api, LIAISON), [("/overdue", "都已报到")])


async def test_a_liaison_without_groups_is_told_so_not_that_all_checked_in(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await make_member(db, START)
    await make_staff(db, START, telegram_user_id=LIAISON)
    await make_staff(db, START, telegram_user_id=OTHER_LIAISON, locale="en")
    await talk(Person(application, bot_api, LIAISON), [("/overdue", "您还没有负责的党小组或单位")])
    await talk(
        Person(application, bot_api, OTHER_LIAISON),
        [("/overdue", "You do not look after any group or unit yet")],
    )


async def test_unit_liaison_sees_their_unit_and_the_units_below(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        district = Unit(name="江汉区委组织部", created_at=START)
        session.add(district)
        await session.flush()
        street = Unit(name="民族街道", parent_id=district.id, created_at=START)
        neighbour = Unit(name="花楼街道", parent_id=district.id, created_at=START)
        session.add_all([street, neighbour])
        await session.flush()
        community = Unit(name="长春街社区", parent_id=street.id, created_at=START)
        session.add(community)
    await make_member(db, START, name="街道党员", phone="+8613800138000", unit=street)
    await make_member(db, START, name="社区党员", phone="+8613800138001", unit=community)
    await make_member(db, START, name="隔壁党员", phone="+8613800138002", unit=neighbour)
    await make_member(db, START, name="区里党员", phone="+8613800138003", unit=district)
    await make_staff(db, START, telegram_user_id=LIAISON, units=[street])
    liaison = Person(application, bot_api, LIAISON)

    await talk(liaison, [("/overdue", ["尚未报到：2 人", "街道党员", "社区党员"])])
    assert "隔壁党员" not in liaison.last_text
    assert "区里党员" not in liaison.last_text


async def test_admin_without_scope_sees_everyone(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await two_groups(db)
    await make_member(db, START, name="无组党员", phone="+8613800138009")
    await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN)

    await talk(
        Person(application, bot_api, ADMIN),
        [("/overdue", ["尚未报到：4 人", "张伟", "陈静", "李娜", "无组党员"])],
    )


async def test_month_boundary_in_each_members_own_time_zone(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, START)
    november = datetime(2026, 11, 10, 4, tzinfo=UTC)
    for name, phone, zone in (
        ("Anna Berlin", "+4915112345678", "Europe/Berlin"),
        ("王武汉", "+8613800138000", None),
    ):
        member = await make_member(db, START, name=name, phone=phone, groups=[group], timezone=zone)
        await make_checkin(db, member, november)
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[group])
    liaison = Person(application, bot_api, LIAISON)

    # 00:30 on 1 December in Wuhan; 17:30 on 30 November in Berlin, still November there.
    clock.set(datetime(2026, 11, 30, 16, 30, tzinfo=UTC))
    await talk(liaison, [("/overdue", ["本月（2026-12）尚未报到：1 人", "王武汉"])])
    assert "Anna" not in liaison.last_text
    # Past midnight in Berlin: December there too.
    clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    await talk(liaison, [("/overdue", ["尚未报到：2 人", "Anna Berlin", "王武汉"])])


async def test_a_long_list_is_cut_at_200_and_split_under_telegrams_limit(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    group = await make_group(db, START)
    async with db.session() as session:
        group = await session.merge(group)
        session.add_all(
            [
                Member(
                    name=f"党员{number:03d}",
                    phone=f"+86139{number:08d}",
                    status=MemberStatus.OUTFLOW,
                    registered_at=START - timedelta(days=number),
                    updated_at=START,
                    groups=[group],
                )
                for number in range(230)
            ]
        )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[group])
    liaison = Person(application, bot_api, LIAISON)

    await talk(liaison, [("/overdue", ["尚未报到：230 人", "1. 党员229", "另有 30 人未列出"])])
    assert len(liaison.last) > 1
    assert "党员029" not in liaison.last_text  # the 30 most recently registered are left out
    assert all(len(html_to_text(reply.text)) <= 4096 for reply in liaison.last)


# --- /member -----------------------------------------------------------------------------


async def test_member_by_name_shows_the_card(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    shenzhen, _ = await two_groups(db)
    async with db.session() as session:
        zhang = await session.scalar(select(Member).where(Member.name == "张伟"))
        assert zhang is not None
        zhang.origin, zhang.destination = "武汉市江汉区", "深圳市南山区"
        zhang.workplace, zhang.trade, zhang.consent = "华强电子", "电子", Consent.GIVEN
    await make_checkin(
        db,
        zhang,
        datetime(2026, 8, 2, 4, tzinfo=UTC),
        situation=WorkSituation.LOOKING,
        needs="孩子入学",
    )
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    liaison = Person(application, bot_api, LIAISON)

    await talk(
        liaison,
        [
            ("/member", ["用法：/member 姓名或电话", "/member 138 0013 8000"]),
            (
                "/member 张",
                [
                    "张伟（流出党员）",
                    "党小组：驻深圳党小组",
                    "流出地：武汉市江汉区",
                    "流入地：深圳市南山区",
                    "工作单位：华强电子",
                    "行业：电子",
                    "电话：+86 138****8000",
                    "Telegram：已绑定",
                    "信息使用授权：已同意",
                    "• 2026-09-03 深圳市，工作稳定",
                    "• 2026-08-02 未填地点，正在找工作；需要帮助：孩子入学",
                ],
            ),
        ],
    )
    assert "13800138000" not in liaison.last_text
    [event] = await audit_rows(db)
    assert (event.actor, event.action, event.subject) == (
        f"staff:{staff.id}",
        "member.view",
        f"member:{zhang.id}",
    )


async def test_member_by_phone_in_a_messy_format_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    shenzhen, _ = await two_groups(db)
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen], locale="en")
    liaison = Person(application, bot_api, LIAISON, language_code="en")

    await talk(
        liaison,
        [
            (
                "/member 0086 138-0013 8002",
                [
                    "陈静 (outflow member)",
                    "Groups: 驻深圳党小组",
                    "Phone: +86 138****8002",
                    "Telegram: not bound (⚠️ the bot cannot reach them)",
                    "Consent to use their data: not answered yet",
                    "No check-ins yet.",
                ],
            ),
            ("/member", "Usage: /member NAME or PHONE"),
        ],
    )
    event = (await audit_rows(db))[0]
    assert event.detail == {"query": "+86 138****8002", "matches": 1}


async def test_several_matches_offer_a_button_each(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    group = await make_group(db, START)
    await make_member(db, START, name="王芳", phone="+8613800138010", groups=[group])
    await make_member(db, START, name="王芳芳", phone="+8613800138011", groups=[group])
    await make_member(db, START, name="王芳", phone="+8613800138012")  # not in the group
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[group])
    liaison = Person(application, bot_api, LIAISON)

    await talk(
        liaison,
        [
            ("/member 王芳", ["找到 2 位", "1. 王芳（流出党员） +86 138****8010"]),
            ("2", ["王芳芳（流出党员）", "电话：+86 138****8011"]),
        ],
    )
    assert liaison.button_texts == ["王芳  +86 138****8010", "王芳芳  +86 138****8011"]


async def test_out_of_scope_is_the_same_not_found_as_nonexistent(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    shenzhen, _ = await two_groups(db)
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    liaison = Person(application, bot_api, LIAISON)

    await talk(liaison, [("/member 李娜", "没有找到这位党员")])
    outside = liaison.last_text
    await talk(liaison, [("/member 13800138003", None)])
    assert liaison.last_text == outside
    await talk(liaison, [("/member 没有这个人", None)])
    assert liaison.last_text == outside
    await talk(liaison, [("/member 13900000000", None)])
    assert liaison.last_text == outside


async def test_a_forged_card_button_is_refused(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    shenzhen, _ = await two_groups(db)
    async with db.session() as session:
        li_na = await session.scalar(select(Member).where(Member.name == "李娜"))
        assert li_na is not None
    staff = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/member 0", "没有找到")])
    shown = liaison.last[-1]

    for data in (f"staff:card:{li_na.id}", "staff:card:99999", "staff:card:x"):
        forged = liaison.updates.press(liaison.user, shown, Button("x", callback_data=data))
        replies = await liaison.send_update(forged)
        text = " ".join(reply.text for reply in replies)
        assert "没有找到这位党员" in text and "李娜" not in text
    events = await audit_rows(db)
    # The liaison heard "not found" thrice; the trail tells probing another's member apart.
    assert [
        (e.actor, e.action, e.subject, (e.detail or {}).get("reason")) for e in events[-3:]
    ] == [
        (f"staff:{staff.id}", "member.view.refused", f"member:{li_na.id}", "out_of_scope"),
        (f"staff:{staff.id}", "member.view.refused", "member:99999", "not_found"),
        (f"staff:{staff.id}", "member.view.refused", None, "not_found"),
    ]
    assert events[-3].detail == {"requested": str(li_na.id), "reason": "out_of_scope"}


async def test_member_names_with_markup_are_escaped(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    group = await make_group(db, START)
    await make_member(db, START, name="<b>Bad</b> & Co", phone=None, groups=[group])
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[group])
    liaison = Person(application, bot_api, LIAISON)

    await talk(liaison, [("/overdue", "<b>Bad</b> & Co"), ("/member Bad", "<b>Bad</b> & Co")])
    assert "&lt;b&gt;Bad&lt;/b&gt; &amp; Co" in liaison.last[0].text


# --- everyone else -----------------------------------------------------------------------


async def test_members_and_strangers_are_refused_without_a_hint(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    shenzhen, _ = await two_groups(db)
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/member 张", "张伟")])
    real_button = liaison.last[-1]

    for user_id, language, refusal in (
        (MEMBER, "zh-hans", "这个命令只供联络员使用"),
        (STRANGER, "zh-hans", "这个命令只供联络员使用"),
        (STRANGER + 1, "en", "this command is for liaison staff only"),
    ):
        person = Person(application, bot_api, user_id, language_code=language)
        if language == "en":
            await talk(person, [("/lang", "Choose a language"), ("English", "English")])
        answers = set()
        for line in ("/overdue", "/member 张伟", "/member 没有这个人", "/member"):
            await talk(person, [(line, refusal)])
            answers.add(person.last_text)
        pressed = person.updates.press(
            person.user, real_button, Button("x", callback_data="staff:card:1")
        )
        answers.add(said(await person.send_update(pressed)))
        assert len(answers) == 1, answers
    # Refusals look nothing up, so only the liaison's own search is in the audit log.
    assert [event.action for event in await audit_rows(db)] == ["member.view"]
