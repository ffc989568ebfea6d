"""Yearly ratings in storage: each rule counted from the records, the rules changed by
administrators only, caps, adjustments with a reason, ties, units, and the commendation
notice reaching each member once in their language."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication
from bot.terminal import html_to_text
from messages.mydata import context as mydata_context
from messages.mydata import data_json, data_page
from messages.ratings import commended
from messages.render import Reader, Renderer
from storage.db import Database
from storage.models import (
    Activity,
    ActivityInvitation,
    ActivityKind,
    AttendanceSource,
    AuditEvent,
    ChannelName,
    CheckInCycle,
    Delivery,
    Idea,
    IdeaKind,
    IdeaStatus,
    Member,
    MessageKind,
    RatingAdjustment,
    StaffRole,
    StudyMaterial,
    StudyReceipt,
)
from storage.mydata import member_data
from storage.payloads import Commended
from storage.ratings import (
    Ranking,
    RatingError,
    Refusal,
    adjust,
    change_rule,
    commend,
    commendations,
    find_member,
    my_score,
    notify_commended,
    ranking,
    rules,
    uncommend,
)
from storage.settings import Settings
from tests.chat import Person, talk
from tests.conftest import START
from tests.delivery import Deliver
from tests.factories import make_checkin, make_group, make_member, make_staff, make_unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
CYCLE = Settings().default_cycle
YEAR = 2026
ADMIN_ACTOR = "cli:test"
ZHANG = 8201
WANG = 8202


def at(month: int, day: int, hour: int = 12, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(YEAR, month, day, hour, 0, tzinfo=zone).astimezone(UTC)


@pytest.fixture
async def district(db: Database) -> dict[str, int]:
    """民族街 with 民意社区 below it, and 花楼街 beside it; a liaison of 民族街, an
    administrator of everything."""
    top = await make_unit(db, START, "江汉区")
    street = await make_unit(db, START, "民族街")
    community = await make_unit(db, START, "民意社区")
    other = await make_unit(db, START, "花楼街")
    async with db.session() as session:
        for unit in (street, other):
            unit.parent_id = top.id
            await session.merge(unit)
        community.parent_id = street.id
        await session.merge(community)
    ids = {
        "zhang": (
            await make_member(
                db, START, name="张伟", phone="+8613800000001", unit=community,
                telegram_user_id=ZHANG,
            )
        ).id,
        "wang": (
            await make_member(
                db, START, name="王芳", phone="+8613800000002", unit=street,
                telegram_user_id=WANG, locale="en",
            )
        ).id,
        "berlin": (
            await make_member(
                db, START, name="李娜", phone="+8613800000003", unit=street,
                timezone="Europe/Berlin",
            )
        ).id,
        "far": (
            await make_member(db, START, name="赵强", phone="+8613800000004", unit=other)
        ).id,
    }  # fmt: skip
    ids["liaison"] = (
        await make_staff(db, START, telegram_user_id=8101, name="李联络", units=[street])
    ).id
    ids["admin"] = (
        await make_staff(db, START, telegram_user_id=8103, name="钱主任", role=StaffRole.ADMIN)
    ).id
    return ids


async def add_study(db: Database, member_id: int, count: int, month: int = 6) -> None:
    async with db.session() as session:
        for number in range(count):
            material = StudyMaterial(
                title=f"第{number}课", body="学习", created_by="cli:test", created_at=START
            )
            session.add(material)
            await session.flush()
            session.add(
                StudyReceipt(
                    material_id=material.id, member_id=member_id, studied_at=at(month, 1 + number)
                )
            )


async def add_activity(
    db: Database, member_ids: list[int], kind: ActivityKind, when: datetime, *, came: bool = True
) -> None:
    async with db.session() as session:
        activity = Activity(
            kind=kind,
            title="活动",
            starts_at=when,
            ends_at=when + timedelta(hours=2),
            address="民意四路 12 号",
            radius_m=300,
            code="ABC123",
            created_by="cli:test",
            organiser="李联络",
            created_at=START,
            remind_at=when - timedelta(days=1),
        )
        session.add(activity)
        await session.flush()
        for member_id in member_ids:
            session.add(
                ActivityInvitation(
                    activity_id=activity.id,
                    member_id=member_id,
                    invited_at=START,
                    attended_at=when if came else None,
                    attendance_source=AttendanceSource.STAFF if came else None,
                )
            )


async def add_idea(db: Database, member_id: int, adopted: datetime | None) -> None:
    async with db.session() as session:
        session.add(
            Idea(
                member_id=member_id,
                kind=IdeaKind.IDEA,
                body="好主意",
                status=IdeaStatus.ADOPTED if adopted else IdeaStatus.NEW,
                created_at=at(1, 2),
                adopted_at=adopted,
                adopted_by="cli:test" if adopted else None,
            )
        )


async def member(db: Database, member_id: int) -> Member:
    async with db.session() as session:
        found = await session.get(Member, member_id)
        assert found is not None
        return found


async def ranked(
    db: Database, *, staff_id: int | None = None, unit: str | None = None, top: int | None = None
) -> Ranking:
    async with db.session() as session:
        return await ranking(
            session,
            START,
            year=YEAR,
            zone=SHANGHAI,
            cycle=CYCLE,
            staff_id=staff_id,
            actor=ADMIN_ACTOR,
            unit=unit,
            top=top,
        )


async def score_of(db: Database, member_id: int) -> dict[str, int]:
    async with db.session() as session:
        score = await my_score(session, member_id=member_id, year=YEAR, zone=SHANGHAI, cycle=CYCLE)
    assert score is not None
    return {**score.times, "total": score.total, "adjustments": score.adjustments}


async def test_a_check_in_by_the_month_deadline_counts_a_late_one_does_not(
    db: Database, district: dict[str, int]
) -> None:
    zhang = await member(db, district["zhang"])
    # March on time (the 5th), and again later that month: one month. April on the 12th,
    # after the 10th's deadline: late. December 2025: another year.
    await make_checkin(db, zhang, at(3, 5))
    await make_checkin(db, zhang, at(3, 20))
    await make_checkin(db, zhang, at(4, 12))
    await make_checkin(db, zhang, datetime(2025, 12, 3, 4, 0, tzinfo=UTC))
    # The deadline is the escalation day at the prompt time: 08:59 on the 10th is in time.
    await make_checkin(db, zhang, datetime(YEAR, 5, 10, 8, 59, tzinfo=SHANGHAI))
    await make_checkin(db, zhang, datetime(YEAR, 6, 10, 9, 1, tzinfo=SHANGHAI))
    found = await score_of(db, zhang.id)
    assert found["on_time_checkin"] == 2
    assert found["total"] == 2 * 2


async def test_a_member_abroad_is_on_time_by_their_own_clock(
    db: Database, district: dict[str, int]
) -> None:
    """08:30 on 10 May in Berlin is 14:30 in Wuhan, past Wuhan's deadline: still on time
    for a member who lives by Berlin's clock. A month they could not check in (abroad,
    exempt) takes nothing away: only months with a check-in on time add."""
    berlin = await member(db, district["berlin"])
    await make_checkin(db, berlin, datetime(YEAR, 5, 10, 8, 30, tzinfo=BERLIN))
    # 23:30 on 30 June in Berlin is 1 July in Wuhan: June's check-in, on time neither way.
    await make_checkin(db, berlin, datetime(YEAR, 6, 30, 23, 30, tzinfo=BERLIN))
    found = await score_of(db, berlin.id)
    assert found["on_time_checkin"] == 1
    assert found["total"] == 2


async def test_a_groups_own_cycle_sets_its_members_deadline(
    db: Database, district: dict[str, int]
) -> None:
    """A group whose escalation is on the 20th: the 15th is in time for its members (the
    10th stays the deadline of everyone else); a group whose cycle is switched off prompts
    nobody, so any check-in of the month counts."""
    late_group = await make_group(db, START, "驻深圳党小组")
    off_group = await make_group(db, START, "驻上海党小组")
    async with db.session() as session:
        for group, enabled in ((late_group, True), (off_group, False)):
            session.add(
                CheckInCycle(
                    group_id=group.id,
                    enabled=enabled,
                    prompt_day=1,
                    prompt_time="09:00",
                    reminder_days="3,7",
                    escalation_day=20,
                    lost_contact_months=6,
                    updated_at=START,
                    updated_by="cli:test",
                )
            )
    in_late = await make_member(db, START, name="孙丽", phone="+8613800000011", groups=[late_group])
    in_off = await make_member(db, START, name="周杰", phone="+8613800000012", groups=[off_group])
    zhang = await member(db, district["zhang"])
    for someone in (in_late, in_off, zhang):
        await make_checkin(db, someone, at(3, 15))
    await make_checkin(db, in_off, at(4, 28))
    assert (await score_of(db, in_late.id))["on_time_checkin"] == 1
    assert (await score_of(db, in_off.id))["on_time_checkin"] == 2
    assert (await score_of(db, zhang.id))["on_time_checkin"] == 0


async def test_study_attendance_service_and_adopted_ideas_each_count(
    db: Database, district: dict[str, int]
) -> None:
    wang = district["wang"]
    await add_study(db, wang, 3)
    await add_activity(db, [wang], ActivityKind.FORUM, at(5, 1))
    await add_activity(db, [wang], ActivityKind.CLASS, at(7, 1))
    # Invited but not come: nothing. Last year's forum: nothing.
    await add_activity(db, [wang], ActivityKind.MEETING, at(8, 1), came=False)
    await add_activity(db, [wang], ActivityKind.FORUM, datetime(2025, 12, 1, tzinfo=UTC))
    await add_activity(db, [wang], ActivityKind.SERVICE, at(9, 1))
    await add_idea(db, wang, at(10, 1))
    await add_idea(db, wang, None)
    # Adopted on 1 January at 01:00 in Wuhan (still 2025 in UTC): this year's.
    await add_idea(db, wang, datetime(YEAR, 1, 1, 1, 0, tzinfo=SHANGHAI))
    found = await score_of(db, wang)
    assert {k: found[k] for k in found if k not in ("total", "adjustments")} == {
        "on_time_checkin": 0,
        "study_completed": 3,
        "attendance": 2,
        "service_given": 1,
        "idea_adopted": 2,
    }
    assert found["total"] == 3 * 1 + 2 * 3 + 1 * 4 + 2 * 5


async def test_a_changed_rule_changes_the_ranking_and_caps_hold(
    db: Database, district: dict[str, int]
) -> None:
    zhang, wang = district["zhang"], district["wang"]
    await add_study(db, zhang, 25)  # 25 points, capped at 20
    await add_idea(db, wang, at(3, 3))
    await add_idea(db, wang, at(4, 3))  # 10 points
    first = await ranked(db)
    assert [(s.name, s.total, s.rank) for s in first.scores[:2]] == [
        ("张伟", 20, 1),
        ("王芳", 10, 2),
    ]
    async with db.session() as session:
        changed = await change_rule(
            session,
            START,
            criterion="idea_adopted",
            points=15,
            cap=None,
            actor=ADMIN_ACTOR,
            staff_id=district["admin"],
        )
        assert (changed.points, changed.cap) == (15, None)
        # The cap left as it was when not asked to change.
        await change_rule(
            session,
            START,
            criterion="study_completed",
            points=2,
            cap=None,
            change_cap=False,
            actor=ADMIN_ACTOR,
            staff_id=None,
        )
    second = await ranked(db)
    assert [(s.name, s.total) for s in second.scores[:2]] == [("王芳", 30), ("张伟", 20)]
    async with db.session() as session:
        study = next(r for r in await rules(session) if r.criterion == "study_completed")
        assert (study.points, study.cap) == (2, 20)
        events = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "rating.rule.change")
            )
        )
    assert events[0].detail == {
        "old": {"points": 5, "cap": None},
        "new": {"points": 15, "cap": None},
    }


async def test_a_liaison_may_not_change_the_rules(db: Database, district: dict[str, int]) -> None:
    async with db.session() as session:
        refused = await change_rule(
            session,
            START,
            criterion="attendance",
            points=50,
            cap=None,
            actor=f"staff:{district['liaison']}",
            staff_id=district["liaison"],
        )
    assert refused is Refusal.NOT_ADMIN
    async with db.session() as session:
        attendance = next(r for r in await rules(session) if r.criterion == "attendance")
        assert attendance.points == 3
        refusals = list(
            await session.scalars(
                select(AuditEvent.actor).where(AuditEvent.action == "rating.rule.change.refused")
            )
        )
        assert refusals == [f"staff:{district['liaison']}"]
    async with db.session() as session:
        with pytest.raises(RatingError) as unknown:
            await change_rule(
                session, START, criterion="dues", points=1, cap=None, actor="cli:x", staff_id=None
            )
        assert unknown.value.reason == "unknown_criterion"


async def test_an_adjustment_needs_a_reason_and_keeps_markup_literal(
    db: Database, district: dict[str, int]
) -> None:
    zhang = district["zhang"]
    for reason in ("", "   \n "):
        with pytest.raises(RatingError) as refused:
            async with db.session() as session:
                await adjust(
                    session,
                    START,
                    member_id=zhang,
                    year=YEAR,
                    points=3,
                    reason=reason,
                    actor="cli:test",
                    staff_id=None,
                )
        assert refused.value.reason == "no_reason"
    async with db.session() as session:
        await adjust(
            session,
            START,
            member_id=zhang,
            year=YEAR,
            points=-2,
            reason="<b>缺席</b> & 未请假",
            actor=f"staff:{district['liaison']}",
            staff_id=district["liaison"],
        )
        await adjust(
            session,
            START,
            member_id=zhang,
            year=YEAR - 1,
            points=9,
            reason="去年的",
            actor="cli:test",
            staff_id=None,
        )
        stored = await session.scalar(
            select(RatingAdjustment.reason).where(RatingAdjustment.year == YEAR)
        )
    assert stored == "<b>缺席</b> & 未请假"
    found = await score_of(db, zhang)
    assert (found["adjustments"], found["total"]) == (-2, -2)


async def test_a_liaison_adjusts_only_members_in_scope(
    db: Database, district: dict[str, int]
) -> None:
    async with db.session() as session:
        refused = await adjust(
            session,
            START,
            member_id=district["far"],
            year=YEAR,
            points=5,
            reason="好",
            actor=f"staff:{district['liaison']}",
            staff_id=district["liaison"],
        )
    assert refused is Refusal.NOT_FOUND
    async with db.session() as session:
        trail = await session.scalar(
            select(AuditEvent.detail).where(AuditEvent.action == "rating.adjust.refused")
        )
        assert trail == {"reason": "out_of_scope"}
        assert await session.scalar(select(RatingAdjustment.id)) is None
        assert await find_member(session, "+86 138 0000 0004") == district["far"]
        assert await find_member(session, str(district["far"])) == district["far"]
        with pytest.raises(RatingError) as nobody:
            await find_member(session, "+8613900000009")
        assert nobody.value.reason == "not_found"


async def test_equal_scores_share_a_rank_and_units_include_those_below(
    db: Database, district: dict[str, int]
) -> None:
    zhang, wang, berlin, far = (district[k] for k in ("zhang", "wang", "berlin", "far"))
    await add_activity(db, [zhang, wang, far], ActivityKind.FORUM, at(5, 1))
    await add_activity(db, [berlin], ActivityKind.SERVICE, at(6, 1))
    everyone = await ranked(db)
    assert [(s.name, s.total, s.rank) for s in everyone.scores] == [
        ("李娜", 4, 1),
        ("张伟", 3, 2),
        ("王芳", 3, 2),
        ("赵强", 3, 2),
    ]
    # 民族街 has 民意社区 below it: 张伟 is in; 赵强 of 花楼街 is not.
    street = await ranked(db, unit="民族街")
    assert [s.name for s in street.scores] == ["李娜", "张伟", "王芳"]
    assert [s.name for s in (await ranked(db, unit="民意社区")).scores] == ["张伟"]
    # The top 2 ranks keep everyone tied at the cut.
    assert [s.name for s in (await ranked(db, top=2)).scores] == ["李娜", "张伟", "王芳", "赵强"]
    assert [s.name for s in (await ranked(db, top=1)).scores] == ["李娜"]
    # A liaison of 民族街 sees its members only, whatever unit they ask for.
    mine = await ranked(db, staff_id=district["liaison"])
    assert {s.name for s in mine.scores} == {"李娜", "张伟", "王芳"}
    assert (await ranked(db, staff_id=district["liaison"], unit="花楼街")).scores == []
    with pytest.raises(RatingError) as unknown:
        await ranked(db, unit="不存在")
    assert unknown.value.reason == "unknown_unit"


async def test_the_commended_hear_it_once_in_their_language(
    db: Database, district: dict[str, int], deliver: Deliver, bot_api: LocalBotApi
) -> None:
    zhang, wang = district["zhang"], district["wang"]
    liaison = district["liaison"]
    async with db.session() as session:
        refused = await commend(
            session,
            START,
            year=YEAR,
            member_ids=[zhang],
            citation=None,
            actor=f"staff:{liaison}",
            staff_id=liaison,
        )
    assert refused is Refusal.NOT_ADMIN
    async with db.session() as session:
        await commend(
            session,
            START,
            year=YEAR,
            member_ids=[zhang, wang],
            citation="服务<群众>热心",
            actor="staff:admin",
            staff_id=district["admin"],
        )
    # A member once a year: the second time nothing is added, not even the new one.
    with pytest.raises(RatingError) as twice:
        async with db.session() as session:
            await commend(
                session,
                START,
                year=YEAR,
                member_ids=[district["far"], zhang],
                citation=None,
                actor="cli:test",
                staff_id=None,
            )
    assert twice.value.reason == "already_commended"
    async with db.session() as session:
        listed = await commendations(session, year=YEAR, staff_id=None)
        assert [c.name for c in listed] == ["张伟", "王芳"]
        assert [c.name for c in await commendations(session, year=YEAR, staff_id=liaison)] == [
            "张伟",
            "王芳",
        ]
        told = await notify_commended(session, START, year=YEAR, actor="cli:test", staff_id=None)
        again = await notify_commended(session, START, year=YEAR, actor="cli:test", staff_id=None)
    assert (told, again) == (2, 0)
    got = await deliver()
    assert await deliver() == {}
    [to_zhang] = got[ZHANG]
    [to_wang] = got[WANG]
    assert "2026 年度优秀流动党员" in html_to_text(to_zhang.text)
    assert "&lt;群众&gt;" in to_zhang.text
    assert "outstanding mobile member of 2026" in html_to_text(to_wang.text)
    async with db.session() as session:
        kinds = list(await session.scalars(select(Delivery.kind)))
        assert kinds == [MessageKind.COMMENDATION] * 2
        await uncommend(session, START, year=YEAR, member_id=wang, actor="cli:test", staff_id=None)
        assert [c.name for c in await commendations(session, year=YEAR, staff_id=None)] == ["张伟"]
        with pytest.raises(RatingError) as gone:
            await uncommend(
                session, START, year=YEAR, member_id=wang, actor="cli:test", staff_id=None
            )
        assert gone.value.reason == "not_commended"


async def test_a_member_sees_their_own_score_and_its_reasons(
    db: Database, district: dict[str, int], application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    await add_study(db, district["zhang"], 3)
    async with db.session() as session:
        await adjust(
            session,
            START,
            member_id=district["zhang"],
            year=YEAR,
            points=-1,
            reason="<i>迟到</i>",
            actor="cli:test",
            staff_id=None,
        )
    zhang = Person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            (
                "/myscore",
                [
                    "我的 2026 年度得分：2 分",
                    "完成学习：3 次，3 分（每次 1 分，最多 20 分）",
                    "按时报到：0 次，0 分",
                    "减 1 分：<i>迟到</i>",
                ],
            ),
            ("/help", "/myscore — 我的年度得分"),
        ],
    )
    # What staff wrote is shown as written, never as markup.
    assert "&lt;i&gt;迟到&lt;/i&gt;" in bot_api.sent[0].text
    assert "优秀流动党员" not in zhang.last_text
    # On the list: said once the member was told, not before.
    async with db.session() as session:
        await commend(
            session,
            START,
            year=YEAR,
            member_ids=[district["zhang"]],
            citation=None,
            actor="cli:test",
            staff_id=None,
        )
    await talk(zhang, [("/myscore", "我的 2026 年度得分")])
    assert "优秀流动党员" not in zhang.last_text
    async with db.session() as session:
        await notify_commended(session, START, year=YEAR, actor="cli:test", staff_id=None)
    await talk(zhang, [("/myscore", "🏅 您已被评为 2026 年度优秀流动党员")])
    wang = Person(application, bot_api, WANG, language_code="en")
    await talk(
        wang,
        [
            (
                "/myscore",
                ["My score for 2026: 0 points", "Ideas adopted: 0 times, 0 points (5 each)"],
            )
        ],
    )
    stranger = Person(application, bot_api, 4242)
    await talk(stranger, [("/myscore", "只有绑定了党员身份的账号才有年度得分")])
    await talk(
        stranger,
        [
            ("/lang", "请选择语言"),
            ("English", "Language set to English"),
            ("/myscore", "Only an account linked to a member has a yearly score"),
        ],
    )


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh_CN", "【党组织】恭喜您被评为2026年度优秀流动党员！表彰事由：服务<群众>热心"),
        ("en", "Congratulations! You have been commended as an outstanding mobile member of 2026."),
    ],
)
def test_the_commendation_by_sms_is_one_plain_text(
    renderer: Renderer, locale: str, expected: str
) -> None:
    payload = Commended(year=YEAR, citation="服务<群众>热心")
    text, buttons = commended(Reader(renderer, locale, SHANGHAI, ChannelName.SMS), payload)
    # Plain text: the citation as written, nothing escaped, no buttons to press.
    assert text.startswith(expected) and buttons == ()
    assert "服务<群众>热心" in text and "&lt;" not in text
    untitled, _ = commended(
        Reader(renderer, locale, SHANGHAI, ChannelName.SMS), Commended(year=YEAR)
    )
    assert "服务" not in untitled and "For:" not in untitled


async def test_my_data_has_the_adjustments_and_the_commendation_once_told(
    db: Database, district: dict[str, int], renderer: Renderer
) -> None:
    zhang = district["zhang"]
    async with db.session() as session:
        await adjust(
            session,
            START,
            member_id=zhang,
            year=YEAR,
            points=4,
            reason="<b>带头</b>服务",
            actor="cli:test",
            staff_id=None,
        )
        await commend(
            session,
            START,
            year=YEAR,
            member_ids=[zhang],
            citation="热心<服务>",
            actor="cli:test",
            staff_id=None,
        )
        untold = await member_data(session, START, zhang)
    # A look at the ranked list, by someone in whose list zhang is, and one of another unit.
    await ranked(db, top=1)
    await ranked(db, unit="花楼街")
    async with db.session() as session:
        await notify_commended(session, START, year=YEAR, actor="cli:test", staff_id=None)
        told = await member_data(session, START, zhang)
    assert untold is not None and untold.commendations == ()
    assert told is not None
    assert [(a.year, a.points, a.reason) for a in told.adjustments] == [
        (2026, 4, "<b>带头</b>服务")
    ]
    assert [(c.year, c.citation) for c in told.commendations] == [(2026, "热心<服务>")]
    # Only the list that showed zhang is among the looks at her records.
    assert [v.action for v in told.staff_views if v.action.startswith("rating.")] == [
        "rating.rank.view"
    ]
    for locale, words in (("zh_CN", "2026 年 +4 分"), ("en", "2026: +4 points")):
        summary = renderer.render(
            locale, "mydata/summary", **mydata_context(renderer, locale, told, SHANGHAI)
        )
        assert words in summary and "&lt;b&gt;带头&lt;/b&gt;服务" in summary
        page = data_page(renderer, locale, told, SHANGHAI).decode()
        assert "&lt;b&gt;带头&lt;/b&gt;服务" in page and "热心&lt;服务&gt;" in page
    assert json.loads(data_json(told))["commendations"][0]["citation"] == "热心<服务>"
