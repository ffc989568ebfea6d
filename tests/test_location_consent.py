"""Withdrawing consent to location (PIPL Arts. 15, 28–29): the member chooses what check-ins
keep — the province or no place — and it holds for what is already stored as well as for
every check-in after it (typed, pinned, "same as last month"), in the staff card and the
cycle's messages; agreeing again counts for check-ins to come."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import build_application
from bot.botapi import Button, LocalBotApi, LocalBotApiRequest
from bot.context import LiaisonApplication, Services
from storage.checkins import Whereabouts, record_checkin, same_as_last_month
from storage.clock import FakeClock, FakeMonotonic
from storage.consent import set_consent, withdraw_location_consent
from storage.db import Database
from storage.models import (
    AuditEvent,
    Base,
    CheckIn,
    Consent,
    LocationPrecision,
    LocationReport,
    LocationSource,
    Member,
    WorkSituation,
)
from storage.outbox import enqueue_to_members
from storage.payloads import CheckInPrompt
from tests.chat import Person, talk
from tests.delivery import Deliver
from tests.factories import make_group, make_member, make_staff

ALICE = 860_001  # a member, Chinese
BOB = 860_002  # a member, English
LIAISON = 860_003

AUG = datetime(2026, 8, 10, 2, 0, tzinfo=UTC)
SEP = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)
OCT = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)

NANSHAN = (22.54, 113.93)  # 广东省 深圳市 南山区
WUHAN = (30.58, 114.27)  # 湖北省 武汉市
TOKYO = (35.69, 139.69)  # abroad: kept as the country's name
# Whatever is finer than a province, in any form it could be stored in: none of it may be
# left anywhere in the database after the withdrawal.
FINER = ("深圳", "南山", "科技园", "新宿", "东京", "武汉", "113.93", "22.54", "114.27", "139.69")

ZH_REST = [
    ("工作稳定", "想补充说明吗"),
    ("跳过", "3/3 有没有需要组织帮忙的事"),
    ("不需要", "请核对您的报到"),
    ("✅ 确认提交", "已保存，谢谢您"),
]


@pytest.fixture
async def storing_application(
    services: Services, bot_api: LocalBotApi, monotonic: FakeMonotonic
) -> AsyncIterator[LiaisonApplication]:
    """The bot of a district that keeps exact coordinates (LIAISON_STORE_COORDINATES=true):
    what a withdrawal has to undo is there to undo."""
    settings = services.settings.model_copy(update={"store_coordinates": True})
    app = build_application(
        dataclasses.replace(services, settings=settings),
        request=LocalBotApiRequest(bot_api),
        monotonic=monotonic,
    )
    await app.initialize()
    yield app
    await app.shutdown()


async def member_with_history(
    db: Database, services: Services, clock: FakeClock, user_id: int, locale: str | None = None
) -> int:
    """A member in a liaison's group who checked in by pin (Shenzhen, coordinates kept), by
    a typed place nobody recognises, by a typed street address, and by a pin abroad."""
    group = await make_group(db, clock.now(), "流动党员党小组")
    await make_staff(db, clock.now(), telegram_user_id=LIAISON, groups=[group])
    member = await make_member(
        db,
        clock.now(),
        name=f"成员{user_id}",
        phone=f"+86138{user_id:08d}",
        telegram_user_id=user_id,
        consent=Consent.GIVEN,
        groups=[group],
        locale=locale,
    )
    regions = services.regions
    places = [
        (AUG, Whereabouts.shared(*NANSHAN, regions.resolve_point(*NANSHAN))),
        (SEP, Whereabouts.typed("东京新宿", None)),
        (SEP + timedelta(days=1), Whereabouts(text="日本", latitude=TOKYO[0], longitude=TOKYO[1])),
        (OCT, Whereabouts.typed("深圳南山区科技园", regions.resolve_text("深圳南山区科技园"))),
    ]
    async with db.session() as session:
        for at, place in places:
            await record_checkin(
                session,
                at,
                member_id=member.id,
                zone=services.settings.zone,
                location=place,
                work_situation=WorkSituation.STABLE,
                store_coordinates=True,
            )
    return member.id


async def reports_of(db: Database, member_id: int) -> list[tuple[object, ...]]:
    async with db.session() as session:
        rows = await session.scalars(
            select(LocationReport)
            .where(LocationReport.member_id == member_id)
            .order_by(LocationReport.reported_at)
        )
        return [
            (r.source, r.province, r.city, r.district, r.text, r.latitude, r.longitude)
            for r in rows
        ]


async def checkins_of(db: Database, member_id: int) -> list[CheckIn]:
    async with db.session() as session:
        rows = await session.scalars(
            select(CheckIn).where(CheckIn.member_id == member_id).order_by(CheckIn.checked_in_at)
        )
        return list(rows)


async def finer_places_left(db: Database) -> list[str]:
    """Every row of every table that still holds something finer than a province."""
    found = []
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in await session.execute(select(table)):
                text = repr(tuple(row))
                found += [f"{table.name}: {needle} in {text}" for needle in FINER if needle in text]
    return found


async def actions(db: Database) -> list[tuple[str, dict[str, object] | None]]:
    async with db.session() as session:
        rows = await session.execute(
            select(AuditEvent.action, AuditEvent.detail)
            .where(AuditEvent.action.startswith("consent."))
            .order_by(AuditEvent.id)
        )
        return [(action, detail) for action, detail in rows]


async def december_prompt(
    db: Database, clock: FakeClock, monotonic: FakeMonotonic, member_id: int
) -> None:
    """December's check-in prompt, due now (and the chat's last answer long enough ago)."""
    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    monotonic.advance(10.0)
    async with db.session() as session:
        await enqueue_to_members(
            session,
            clock.now(),
            payload=CheckInPrompt(period="2026-12"),
            topic="chk:2026-12:prompt",
            condition=Member.id == member_id,
        )


# --- withdrawing: the province only ---------------------------------------------------------


async def test_keeping_the_province_reduces_every_place_and_every_checkin_after(
    storing_application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    services: Services,
    clock: FakeClock,
    monotonic: FakeMonotonic,
    deliver: Deliver,
) -> None:
    member_id = await member_with_history(db, services, clock, ALICE)
    alice = Person(storing_application, bot_api, ALICE)
    # A check-in half filled in, its pin (Wuhan) in the draft.
    await talk(alice, [("/checkin", "1/3"), ("/loc 30.58 114.27", "湖北省 武汉市")])
    assert await finer_places_left(db) != []

    await talk(
        alice,
        [
            ("/privacy", "您的选择：已同意"),
            ("撤回同意", ["只记录省份", "不记录地点", "请选择"]),
            (
                "只记录省份",
                [
                    "未完成的报到已结束",
                    "您不同意记录位置",
                    "以后报到只记录省份",
                    "（3 条）",
                    "（1 条）",
                ],
            ),
        ],
    )
    # The pins and the typed address are now their province; the typed place nobody could
    # place is gone; the pin abroad is its country.
    assert await reports_of(db, member_id) == [
        (LocationSource.SHARED, "广东省", None, None, None, None, None),
        (LocationSource.SHARED, None, None, None, "日本", None, None),
        (LocationSource.TYPED, "广东省", None, None, None, None, None),
    ]
    assert [c.location_report_id is None for c in await checkins_of(db, member_id)] == [
        False,
        True,
        False,
        False,
    ]
    assert await finer_places_left(db) == []
    # A second press (another copy of the message) changes nothing and says nothing.
    again = await alice.send_update(
        alice.updates.press(alice.user, alice.last[-1], Button("x", "privacy:keep:province"))
    )
    assert again == []
    [(action, detail)] = await actions(db)
    assert action == "consent.declined"
    assert detail == {"previous": "given", "precision": "province", "coarsened": 3, "erased": 1}

    # The next check-in: a typed street address is kept as its province, a place with no
    # recognisable province is asked again, a pin is reduced at once.
    await talk(
        alice,
        [
            ("/checkin", ["1/3", "请输入所在的省份", "只记下省份"]),
            ("东京新宿", ["没有从“东京新宿”认出省份", "请输入所在的省份"]),
            ("深圳南山区科技园", "所在地：广东省（只记录省份）"),
            *ZH_REST,
            ("/checkin", "1/3"),
            ("/loc 22.54 113.93", "所在地：广东省（只记录省份）"),
        ],
    )
    # Not even the draft of the open check-in holds the pin.
    assert await finer_places_left(db) == []
    await talk(alice, ZH_REST)
    assert (await reports_of(db, member_id))[-2:] == [
        (LocationSource.TYPED, "广东省", None, None, None, None, None),
        (LocationSource.SHARED, "广东省", None, None, None, None, None),
    ]

    # The staff card shows what is stored, the province.
    liaison = Person(storing_application, bot_api, LIAISON)
    await talk(liaison, [(f"/member 成员{ALICE}", ["广东省", "已拒绝（报到只记录省份）"])])
    assert "深圳" not in liaison.last_text

    # December's prompt offers last month's province, and "same as last month" keeps it.
    await december_prompt(db, clock, monotonic, member_id)
    got = await deliver()
    assert "上次（2026-11）：广东省，工作稳定" in got[ALICE][0].text
    await talk(alice, [("✅ 与上月相同", "已记录您 2026-12 的报到：广东省，工作稳定")])
    assert (await reports_of(db, member_id))[-1] == (
        LocationSource.SHARED,
        "广东省",
        None,
        None,
        None,
        None,
        None,
    )
    assert await finer_places_left(db) == []

    # Agreeing again: check-ins to come are kept as usual; what was reduced stays reduced.
    await talk(
        alice,
        [
            ("/privacy", ["报到只记录省份", "重新同意只对以后的报到有效"]),
            ("同意", ["您同意", "从下一次报到起恢复正常记录", "不会恢复"]),
            ("/checkin", ["请输入所在的城市和区县", "发送我的位置"]),
            ("/loc 22.54 113.93", "广东省 深圳市 南山区"),
            *ZH_REST,
        ],
    )
    reports = await reports_of(db, member_id)
    assert reports[-1] == (LocationSource.SHARED, "广东省", "深圳市", "南山区", None, *NANSHAN)
    assert all(r[2] is None for r in reports[:-1])
    assert [a for a, _ in await actions(db)] == ["consent.declined", "consent.given"]


# --- withdrawing: no place ------------------------------------------------------------------


async def test_keeping_no_place_erases_every_place_and_checkins_ask_none(
    storing_application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    services: Services,
    clock: FakeClock,
    monotonic: FakeMonotonic,
    deliver: Deliver,
) -> None:
    member_id = await member_with_history(db, services, clock, ALICE)
    alice = Person(storing_application, bot_api, ALICE)
    await talk(
        alice,
        [
            ("/privacy", "您的选择：已同意"),
            ("撤回同意", "请选择"),
            ("不记录地点", ["您不同意记录位置", "以后报到不记录地点", "已删除（4 条）"]),
            ("/privacy", ["您的选择：不同意", "报到不记录地点"]),
        ],
    )
    assert alice.button_texts == ["同意", "只记录省份", "✏️ 更正我的信息", "🗑 退出并删除我的信息"]
    assert await reports_of(db, member_id) == []
    assert all(c.location_report_id is None for c in await checkins_of(db, member_id))
    assert await finer_places_left(db) == []

    # The check-in does not ask where; a pin sent anyway is not taken.
    await talk(
        alice,
        [
            ("/checkin", ["您选择了报到不记录地点", "2/3 工作情况怎么样"]),
            ("/loc 22.54 113.93", "2/3 工作情况怎么样"),
            ("工作稳定", "想补充说明吗"),
            ("跳过", "3/3"),
            ("不需要", "所在地：不记录（您的选择）"),
            ("🔄 重新填写", "2/3 工作情况怎么样"),
            *ZH_REST,
        ],
    )
    assert await reports_of(db, member_id) == []
    assert len(await checkins_of(db, member_id)) == 5

    # December: "same as last month" is offered for the work situation alone.
    await december_prompt(db, clock, monotonic, member_id)
    got = await deliver()
    assert "上次（2026-11）：工作稳定" in got[ALICE][0].text
    await talk(alice, [("✅ 与上月相同", "已记录您 2026-12 的报到：工作稳定")])
    december = (await checkins_of(db, member_id))[-1]
    assert (december.period, december.location_report_id) == ("2026-12", None)
    assert await finer_places_left(db) == []

    # Changing to the province later keeps nothing from before (it is gone) and asks again.
    await talk(
        alice,
        [
            ("/privacy", "报到不记录地点"),
            ("只记录省份", ["以后报到只记录省份", "（0 条）"]),
            ("/checkin", "请输入所在的省份"),
        ],
    )
    assert [a for a, _ in await actions(db)] == ["consent.declined", "consent.precision"]


async def test_withdrawing_in_english(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    services: Services,
    clock: FakeClock,
) -> None:
    member_id = await member_with_history(db, services, clock, BOB, locale="en")
    bob = Person(application, bot_api, BOB, language_code="en")
    await talk(
        bob,
        [
            ("/privacy", "Your choice: you agreed"),
            ("Withdraw consent", ["Only the province", "No place", "Please choose"]),
            ("Keep only the province", ["keep only the province from now on", "(3)", "(1)"]),
            ("/privacy", ["check-ins keep only the province", "The province you are in"]),
        ],
    )
    assert bob.button_texts == [
        "I agree",
        "Keep no place",
        "✏️ Correct my details",
        "🗑 Leave and delete my data",
    ]
    await talk(
        bob,
        [
            ("/checkin", ["Type your province", "only its province is kept"]),
            ("Tokyo Shinjuku", ["could not find a province", "Type your province"]),
            ("Shenzhen Nanshan", "Place: 广东省 (the province only)"),
            ("Stable", "Anything to add?"),
            ("Skip", "3/3"),
            ("No", "Place: 广东省"),
            ("✅ Confirm", "Saved, thank you!"),
            ("/privacy", None),
            ("Keep no place", ["keep no place from now on", "deleted (4)"]),
            ("/checkin", ["keep no place", "2/3"]),
            ("Stable", None),
            ("Skip", None),
            ("No", "Place: not kept (your choice)"),
            ("/privacy", None),
            ("I agree", ["you agree", "Check-ins keep places as usual again"]),
            ("/checkin", "Type your city and district"),
        ],
    )
    assert await reports_of(db, member_id) == []
    assert await finer_places_left(db) == []


# --- "same as last month", in storage -------------------------------------------------------


async def test_same_as_last_month_copies_no_coordinates_once_consent_is_withdrawn(
    db: Database, services: Services, clock: FakeClock
) -> None:
    """However the withdrawal came about, the pin of the last check-in is not copied."""
    member_id = await member_with_history(db, services, clock, ALICE)
    async with db.session() as session:
        await record_checkin(
            session,
            clock.now() - timedelta(days=30),
            member_id=member_id,
            zone=services.settings.zone,
            location=Whereabouts.shared(*NANSHAN, services.regions.resolve_point(*NANSHAN)),
            work_situation=WorkSituation.LOOKING,
            store_coordinates=True,
        )
        await set_consent(session, clock.now(), member_id, Consent.DECLINED)
        repeated = await same_as_last_month(
            session, clock.now(), member_id=member_id, zone=services.settings.zone
        )
        assert repeated.location is not None
        assert (repeated.location.latitude, repeated.location.longitude) == (None, None)
        assert repeated.work_situation is WorkSituation.LOOKING


@pytest.mark.parametrize(
    ("precision", "kept"),
    [
        (LocationPrecision.PROVINCE, ("广东省", None, None, None, None, None)),
        (LocationPrecision.NONE, None),
    ],
)
async def test_same_as_last_month_keeps_only_what_the_member_chose(
    db: Database,
    services: Services,
    clock: FakeClock,
    precision: LocationPrecision,
    kept: tuple[object, ...] | None,
) -> None:
    """Even a place stored finer than the choice (written before it, by another process)
    is repeated only as finely as the choice allows."""
    member_id = await member_with_history(db, services, clock, ALICE)
    async with db.session() as session:
        await withdraw_location_consent(
            session, clock.now(), member_id, precision, services.regions
        )
        # As if written by a check-in that raced the withdrawal.
        report = LocationReport(
            member_id=member_id,
            reported_at=clock.now(),
            source=LocationSource.SHARED,
            province="广东省",
            city="深圳市",
            district="南山区",
            latitude=NANSHAN[0],
            longitude=NANSHAN[1],
        )
        session.add(report)
        await session.flush()
        latest = await session.scalar(
            select(CheckIn).where(CheckIn.member_id == member_id).order_by(CheckIn.id.desc())
        )
        assert latest is not None
        latest.location_report_id = report.id
    async with db.session() as session:
        repeated = await same_as_last_month(
            session,
            clock.now() + timedelta(days=20),
            member_id=member_id,
            zone=services.settings.zone,
        )
        location = repeated.location
        got = (
            None
            if location is None
            else (
                location.province,
                location.city,
                location.district,
                location.text,
                location.latitude,
                location.longitude,
            )
        )
        assert got == kept
