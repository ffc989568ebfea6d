"""Partner organisations: who belongs to which (by place, or by hand), who to none, and what
the half-yearly letter to each says, drawn from records built here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage import demo
from storage.db import Database
from storage.models import (
    Activity,
    ActivityInvitation,
    ActivityKind,
    AuditEvent,
    Group,
    Idea,
    IdeaKind,
    IdeaStatus,
    LocationReport,
    LocationSource,
    Member,
    MemberStatus,
    PartnerOrganisation,
    RequestStatus,
    StudyMaterial,
    StudyReceipt,
    Unit,
)
from storage.partners import (
    LetterData,
    PartnerError,
    add_partner,
    assign_member,
    edit_partner,
    half_bounds,
    letter_data,
    list_partners,
    mark_sent,
    memberships,
    record_letter,
)
from storage.regions import default_index
from tests.conftest import START
from tests.factories import (
    make_checkin,
    make_group,
    make_member,
    make_request_catalogue,
    make_unit,
)

WUHAN = ZoneInfo("Asia/Shanghai")
CLI = "cli:test"


def at(month: int, day: int, hour: int = 10) -> datetime:
    """A moment of 2026 in Wuhan."""
    return datetime(2026, month, day, hour, tzinfo=WUHAN).astimezone(UTC)


async def mobile(
    db: Database,
    name: str,
    phone: str,
    status: MemberStatus,
    *,
    origin: str | None = None,
    destination: str | None = None,
    workplace: str | None = None,
    groups: tuple[Group, ...] = (),
    unit: Unit | None = None,
) -> Member:
    member = await make_member(
        db, START, name=name, phone=phone, status=status, groups=groups, unit=unit
    )
    async with db.session() as session:
        row = await session.merge(member)
        row.origin, row.destination, row.workplace = origin, destination, workplace
    return member


@dataclass
class Street:
    """民意街道 with partners in Henan and Shenzhen, and members from and to there."""

    shenqiu: int  # 沈丘县委组织部: origin side, the county
    henan: int  # 河南省委组织部: origin side, the province
    nanshan: int  # 南山区委组织部: destination side
    wang: Member  # inflow from 沈丘, the busy one
    li: Member  # inflow from 郑州: the province's
    zhang: Member  # outflow to 深圳南山
    zhao: Member  # inflow, origin text the index cannot place
    chen: Member  # outflow to 沈丘: the county is an origin partner, not his
    local: Member
    group: Group


async def build_street(db: Database) -> Street:
    index = default_index()
    unit = await make_unit(db, START, "民意街道")
    group = await make_group(db, START, "沈丘籍流入党员党小组", unit=unit)
    other = await make_group(db, START, "驻深圳党小组", unit=unit)
    async with db.session() as session:
        made = []
        for name, region, side in (
            ("沈丘县委组织部", "河南省周口市沈丘县", "origin"),
            ("河南省委组织部", "河南省", "origin"),
            ("深圳市南山区委组织部", "深圳南山", "destination"),
        ):
            made.append(
                await add_partner(
                    session,
                    START,
                    index=index,
                    name=name,
                    region=region,
                    side=side,
                    address="河南省沈丘县槐店镇" if side == "origin" else None,
                    contact_person="刘主任",
                    contact_phone="0394-5121234" if side == "origin" else "13800138999",
                    unit="民意街道",
                    actor=CLI,
                )
            )
    wang = await mobile(
        db,
        "王芳",
        "+8613800000001",
        MemberStatus.INFLOW,
        origin="河南省周口市沈丘县",
        workplace="汉口茶叶公司",
        groups=(group,),
        unit=unit,
    )
    li = await mobile(
        db, "李强", "+8613800000002", MemberStatus.INFLOW, origin="河南郑州", unit=unit
    )
    zhang = await mobile(
        db,
        "张伟",
        "+8613800000003",
        MemberStatus.OUTFLOW,
        destination="深圳南山",
        groups=(other,),
        unit=unit,
    )
    zhao = await mobile(
        db,
        "赵敏",
        "+8613800000004",
        MemberStatus.INFLOW,
        origin="老家村里",
        groups=(group,),
        unit=unit,
    )
    chen = await mobile(
        db, "陈刚", "+8613800000005", MemberStatus.OUTFLOW, destination="沈丘县", unit=unit
    )
    local = await mobile(db, "孙丽", "+8613800000006", MemberStatus.LOCAL, unit=unit)
    return Street(made[0].id, made[1].id, made[2].id, wang, li, zhang, zhao, chen, local, group)


async def busy_half(db: Database, street: Street) -> None:
    """王芳's second half of 2026: check-ins, study, an activity, a request, an idea."""
    wang, zhao = street.wang, street.zhao
    for moment in (at(7, 5), at(8, 3), at(11, 2), at(11, 20), at(5, 6)):  # May: first half
        await make_checkin(db, wang, moment)
    category_id, _ = await make_request_catalogue(db, START)
    from storage.models import ServiceRequest

    async with db.session() as session:
        session.add(
            LocationReport(
                member_id=wang.id,
                reported_at=at(10, 1),
                source=LocationSource.TYPED,
                province="湖北省",
                city="武汉市",
                district="江汉区",
            )
        )
        materials = [
            StudyMaterial(title=f"第{n}课", body="……", created_by=CLI, created_at=at(5, 1))
            for n in (1, 2)
        ]
        session.add_all(materials)
        await session.flush()
        session.add_all(
            [
                StudyReceipt(material_id=materials[0].id, member_id=wang.id, studied_at=at(9, 9)),
                StudyReceipt(material_id=materials[1].id, member_id=wang.id, studied_at=at(6, 9)),
            ]
        )
        activities = []
        for title, kind, when in (
            ("社区义诊志愿服务", ActivityKind.SERVICE, at(10, 10)),
            ("上半年座谈会", ActivityKind.FORUM, at(5, 10)),
        ):
            activity = Activity(
                kind=kind,
                title=title,
                starts_at=when,
                ends_at=when,
                address="民意四路 12 号",
                radius_m=300,
                code="123456",
                created_by=CLI,
                organiser="李联络",
                created_at=at(5, 1),
                remind_at=when,
                groups=[await session.merge(street.group)],
            )
            session.add(activity)
            activities.append(activity)
        await session.flush()
        service, forum = activities
        session.add_all(
            [
                ActivityInvitation(
                    activity_id=service.id,
                    member_id=wang.id,
                    invited_at=at(10, 1),
                    attended_at=at(10, 10),
                ),
                ActivityInvitation(activity_id=service.id, member_id=zhao.id, invited_at=at(10, 1)),
                ActivityInvitation(
                    activity_id=forum.id,
                    member_id=wang.id,
                    invited_at=at(5, 1),
                    attended_at=at(5, 10),
                ),
                ServiceRequest(
                    member_id=wang.id,
                    category_id=category_id,
                    description="门面到期",
                    status=RequestStatus.RESOLVED,
                    created_at=at(9, 1),
                    updated_at=at(9, 5),
                    due_at=at(9, 15),
                    closed_at=at(9, 5),
                    solved=True,
                ),
                Idea(
                    member_id=wang.id,
                    kind=IdeaKind.IDEA,
                    body="在茶叶市场设流动党员服务点",
                    status=IdeaStatus.ADOPTED,
                    created_at=at(8, 1),
                    adopted_at=at(10, 1),
                    adopted_by=CLI,
                ),
            ]
        )


async def the_letter(db: Database, partner_id: int, half: str = "2026H2") -> LetterData:
    async with db.session() as session:
        found = await letter_data(
            session,
            START,
            partner_id,
            half,
            index=default_index(),
            zone=WUHAN,
            issuer="民意街道党工委",
            actor=CLI,
        )
    assert found is not None
    return found


@pytest.fixture
async def street(db: Database) -> Street:
    return await build_street(db)


async def test_inflow_members_go_to_their_origin_and_outflow_to_their_destination(
    db: Database, street: Street
) -> None:
    async with db.session() as session:
        found = await memberships(session, default_index())
    names = {pid: [m.name for m in members] for pid, members in found.members.items()}
    assert names[street.shenqiu] == ["王芳"]
    # 郑州 is in Henan, not 沈丘: the province's partner has him; 沈丘's, more precise, has 王芳.
    assert names[street.henan] == ["李强"]
    assert names[street.nanshan] == ["张伟"]
    # 陈刚 went to 沈丘 (outflow): the county there is an origin partner, so nobody's yet; 赵敏's
    # origin is no place the index knows. The local member is nobody's and not listed.
    unmatched = {row.name: row for row in found.unmatched}
    assert set(unmatched) == {"陈刚", "赵敏"}
    assert unmatched["陈刚"].resolved == "河南省 周口市 沈丘县"
    assert unmatched["赵敏"].resolved is None
    assert unmatched["赵敏"].place == "老家村里"


async def test_an_assignment_by_hand_wins_over_the_place(db: Database, street: Street) -> None:
    async with db.session() as session:
        await assign_member(session, START, street.zhao.id, street.shenqiu, actor=CLI)
        # 李强 is from Henan but his agreement is with 沈丘: by hand it is 沈丘's.
        await assign_member(session, START, street.li.id, street.shenqiu, actor=CLI)
    async with db.session() as session:
        listed = await list_partners(session, START, "2026H2", index=default_index(), actor=CLI)
    counts = {line.partner.name: (line.members, line.assigned) for line in listed.partners}
    assert counts["沈丘县委组织部"] == (3, 2)
    assert counts["河南省委组织部"] == (0, 0)
    assert [row.name for row in listed.unmatched] == ["陈刚"]
    async with db.session() as session:
        await assign_member(session, START, street.li.id, None, actor=CLI)
        with pytest.raises(PartnerError) as refused:
            await assign_member(session, START, street.local.id, street.shenqiu, actor=CLI)
        assert refused.value.reason == "not_mobile"
    async with db.session() as session:
        found = await memberships(session, default_index())
        actions = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.startswith("partner."))
            )
        )
    assert [m.name for m in found.members[street.henan]] == ["李强"]
    assert actions.count("partner.assign") == 3


async def test_a_partner_held_by_a_street_has_only_that_streets_members(
    db: Database, street: Street
) -> None:
    other = await make_unit(db, START, "民族街道")
    await mobile(db, "周杰", "+8613800000007", MemberStatus.INFLOW, origin="沈丘县", unit=other)
    async with db.session() as session:
        found = await memberships(session, default_index())
    assert [m.name for m in found.members[street.shenqiu]] == ["王芳"]
    # Not 沈丘's of 民意街道; the province's partner is 民意街道's too: nobody's.
    assert "周杰" in {row.name for row in found.unmatched}
    async with db.session() as session:
        await edit_partner(
            session, START, street.shenqiu, {"unit": ""}, index=default_index(), actor=CLI
        )
        found = await memberships(session, default_index())
    assert [m.name for m in found.members[street.shenqiu]] == ["周杰", "王芳"]


async def test_bad_input_writes_nothing(db: Database, street: Street) -> None:
    cases = {
        "unknown_region": {"region": "火星基地"},
        "duplicate_name": {"name": "沈丘县委组织部"},
        "bad_phone": {"contact_phone": "12345"},
        "bad_side": {"side": "sideways"},
        "unknown_unit": {"unit": "没有这个街道"},
    }
    for reason, wrong in cases.items():
        given = {"name": "新的组织", "region": "周口", "side": "origin", **wrong}
        with pytest.raises(PartnerError) as refused:
            async with db.session() as session:
                await add_partner(session, START, index=default_index(), actor=CLI, **given)
        assert refused.value.reason == reason
    for half in ("2026H3", "2026", "26H1", "２０２６H1"):
        with pytest.raises(PartnerError) as refused:
            half_bounds(half, WUHAN)
        assert refused.value.reason == "bad_half"
    async with db.session() as session:
        listed = await list_partners(session, START, "2026h2", index=default_index(), actor=CLI)
    assert len(listed.partners) == 3
    assert listed.half == "2026H2"


async def test_the_letter_carries_what_the_programme_asks(db: Database, street: Street) -> None:
    await busy_half(db, street)
    async with db.session() as session:
        await assign_member(session, START, street.zhao.id, street.shenqiu, actor=CLI)
    letter = await the_letter(db, street.shenqiu)
    assert (letter.first_day.isoformat(), letter.last_day.isoformat()) == (
        "2026-07-01",
        "2026-12-31",
    )
    # How many, where from.
    assert [m.name for m in letter.members] == ["王芳", "赵敏"]
    assert (letter.inflow, letter.outflow) == (2, 0)
    assert [(p.place, p.count) for p in letter.places] == [
        ("河南省 周口市 沈丘县", 1),
        ("老家村里", 1),
    ]
    # Our group and what it held in the half (the May forum is the first half's).
    assert [(g.name, g.members) for g in letter.groups] == [("沈丘籍流入党员党小组", 2)]
    assert [
        (a.title, a.kind, a.on.isoformat(), a.invited, a.attended, a.ours)
        for a in letter.activities
    ] == [("社区义诊志愿服务", ActivityKind.SERVICE, "2026-10-10", 2, 1, 1)]
    wang = letter.members[0]
    assert wang.place == "湖北省 武汉市 江汉区"
    assert wang.workplace == "汉口茶叶公司"
    assert wang.months_checked_in == 3  # July, August, November (twice); May is not this half
    assert wang.studied == 1
    assert wang.attended == 1
    assert wang.volunteer_attended == 1
    assert wang.ideas_adopted == 1
    assert [(s.category_zh, s.status, s.solved) for s in wang.services] == [
        ("门面续租", RequestStatus.RESOLVED, True)
    ]
    zhao = letter.members[1]
    assert (zhao.months_checked_in, zhao.studied, zhao.attended, zhao.services) == (0, 0, 0, ())
    assert (letter.services, letter.ideas_adopted, letter.volunteer_attended) == (1, 1, 1)
    # The first half's letter: the forum, the May check-in, the June study.
    first = await the_letter(db, street.shenqiu, "2026H1")
    assert [a.title for a in first.activities] == ["上半年座谈会"]
    assert (first.members[0].months_checked_in, first.members[0].studied) == (1, 1)
    async with db.session() as session:
        exported = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "partner.letter"))
        )
    assert [(e.subject, (e.detail or {})["half"]) for e in exported] == [
        (f"partner:{street.shenqiu}", "2026H2"),
        (f"partner:{street.shenqiu}", "2026H1"),
    ]


async def test_sending_is_recorded_after_drawing(db: Database, street: Street) -> None:
    index = default_index()
    async with db.session() as session:
        with pytest.raises(PartnerError) as refused:
            await mark_sent(
                session, START, street.shenqiu, "2026H2", how="post", note=None, actor=CLI,
                index=index,
            )  # fmt: skip
        assert refused.value.reason == "not_generated"
    async with db.session() as session:
        await record_letter(session, START, street.shenqiu, "2026H2", digest="a" * 64, actor=CLI)
        sent = await mark_sent(
            session, START, street.shenqiu, "2026H2", how="post", note="挂号信 XA123", actor=CLI,
            index=index,
        )  # fmt: skip
        with pytest.raises(PartnerError) as refused:
            await mark_sent(
                session, START, street.shenqiu, "2026H2", how="pigeon", note=None, actor=CLI,
                index=index,
            )  # fmt: skip
        assert refused.value.reason == "bad_means"
    assert sent.sent_how is not None and sent.sent_how.value == "post"
    assert sent.sent_digest == "a" * 64
    async with db.session() as session:
        listed = await list_partners(session, START, "2026H2", index=index, actor=CLI)
        earlier = await list_partners(session, START, "2026H1", index=index, actor=CLI)
    state = {line.partner.id: line.letter for line in listed.partners}
    assert state[street.shenqiu] is not None and state[street.shenqiu].note == "挂号信 XA123"
    assert state[street.henan] is None
    assert all(line.letter is None for line in earlier.partners)


async def test_the_sample_district_writes_to_its_partners(db: Database) -> None:
    """`make run`'s sample district has partners on both sides, each with members of its own."""
    async with db.session() as session:
        await demo.load_demo(session, START)
    async with db.session() as session:
        partners = {p.name: p.id for p in await session.scalars(select(PartnerOrganisation))}
        found = await memberships(session, default_index())
    names = {
        name: sorted(m.name for m in found.members.get(partner_id, []))
        for name, partner_id in partners.items()
    }
    assert names["中共温州市委组织部"] == ["吴刚"]  # inflow, from 温州
    assert names["中共信阳市委组织部"] == ["孙杰"]
    assert "张伟" in names["中共深圳市南山区委组织部"]  # outflow, working in 深圳
