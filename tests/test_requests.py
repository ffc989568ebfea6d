"""Service requests on the real database: filing, the staff's changes within their scope,
the member's feedback, and the deadline check on a fake clock."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from scheduler.jobs import job_specs, run_due
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    Delivery,
    DeliveryStatus,
    Member,
    MessageKind,
    RequestEventKind,
    RequestStatus,
    ServiceRequest,
    ServiceRequestEvent,
    Staff,
    StaffRole,
)
from storage.requests import (
    FEEDBACK_WAIT,
    MAX_DESCRIPTION_LENGTH,
    Attachment,
    RequestError,
    add_note,
    answer_solved,
    assign,
    check_deadlines,
    colleagues,
    comment_on,
    create_request,
    list_requests,
    my_requests,
    rate,
    request_card,
    set_status,
    take,
)
from storage.settings import Settings
from tests.conftest import START
from tests.factories import make_group, make_member, make_request_catalogue, make_staff, make_unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
REMIND = timedelta(hours=24)


class District:
    """Two groups: 驻深圳 with two liaisons, 驻上海 with none; an admin over a street unit."""

    lease: int
    measures: list[int]
    zhang: Member
    li_na: Member
    liaison: Staff
    colleague: Staff
    outsider: Staff
    admin: Staff
    everyone_admin: Staff


@pytest.fixture
async def d(db: Database) -> District:
    district = District()
    district.lease, district.measures = await make_request_catalogue(db, START)
    street = await make_unit(db, START, "民意街道")
    shenzhen = await make_group(db, START, "驻深圳党小组")
    shanghai = await make_group(db, START, "驻上海党小组", unit=street)
    lawyers = await make_group(db, START, "律师党小组")
    district.zhang = await make_member(
        db, START, name="张伟", phone="+8613800000001", telegram_user_id=1, groups=[shenzhen]
    )
    district.li_na = await make_member(
        db, START, name="李娜", phone="+8613800000005", groups=[shanghai], unit=street
    )
    district.liaison = await make_staff(db, START, telegram_user_id=901, groups=[shenzhen])
    district.colleague = await make_staff(
        db, START, telegram_user_id=902, name="王联络", groups=[shenzhen]
    )
    district.outsider = await make_staff(
        db, START, telegram_user_id=903, name="赵律师", groups=[lawyers]
    )
    district.admin = await make_staff(
        db, START, telegram_user_id=904, name="钱主任", role=StaffRole.ADMIN, units=[street]
    )
    district.everyone_admin = await make_staff(
        db, START, telegram_user_id=905, name="孙书记", role=StaffRole.ADMIN
    )
    return district


async def file(
    db: Database, member: Member, category: int, measure: int | None = None, **extra: object
) -> int:
    async with db.session() as session:
        row = await create_request(
            session,
            START,
            member_id=member.id,
            category_id=category,
            measure_id=measure,
            description=str(extra.pop("description", "门面合同下月到期，房东要涨租。")),
            zone=SHANGHAI,
            **extra,  # type: ignore[arg-type]
        )
        return row.id


async def deliveries(db: Database, kind: MessageKind) -> list[Delivery]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(Delivery).where(Delivery.kind == kind).order_by(Delivery.id)
            )
        )


async def staff_told(db: Database, kind: MessageKind) -> list[int | None]:
    return [row.staff_id for row in await deliveries(db, kind)]


async def get(db: Database, request_id: int) -> ServiceRequest:
    async with db.session() as session:
        row = await session.get(ServiceRequest, request_id)
        assert row is not None
        return row


# --- filing --------------------------------------------------------------------------------------


async def test_a_request_gets_its_measures_target_time_and_tells_the_groups_liaisons(
    db: Database, d: District
) -> None:
    request_id = await file(
        db,
        d.zhang,
        d.lease,
        d.measures[0],
        attachment=Attachment("photo-abc", "photo", None),
    )
    row = await get(db, request_id)
    assert (row.status, row.due_at, row.attachment_kind, row.source) == (
        RequestStatus.RECEIVED,
        START + timedelta(days=14),
        "photo",
        "bot",
    )
    assert await staff_told(db, MessageKind.REQUEST_NEW) == [d.liaison.id, d.colleague.id]
    [new] = (await deliveries(db, MessageKind.REQUEST_NEW))[:1]
    assert new.payload is not None
    assert new.payload["member"] == "张伟"
    assert new.payload["category"] == {"zh": "门面续租", "en": "Shop lease"}
    assert new.payload["due"] == "2026-11-29 10:00"
    # Without a measure: the default target time.
    other = await file(db, d.li_na, d.lease)
    assert (await get(db, other)).due_at == START + timedelta(days=7)
    # 驻上海 has no liaison: the admins over it (its street's, and the one over everything).
    assert (await staff_told(db, MessageKind.REQUEST_NEW))[2:] == [d.admin.id, d.everyone_admin.id]
    async with db.session() as session:
        events = list(await session.scalars(select(ServiceRequestEvent.kind)))
        actions = list(await session.scalars(select(AuditEvent.action)))
    assert events == [RequestEventKind.CREATED, RequestEventKind.CREATED]
    assert actions == ["request.create", "request.create"]


async def test_bad_requests_are_refused_with_a_reason_and_store_nothing(
    db: Database, d: District
) -> None:
    cases = [
        ({"description": "字" * (MAX_DESCRIPTION_LENGTH + 1)}, "description_too_long"),
        ({"description": "  \n "}, "description_empty"),
        ({"measure": 9999}, "unknown_measure"),
        ({"category": 9999}, "unknown_category"),
        ({"attachment": Attachment("", "photo")}, "bad_attachment"),
        ({"attachment": Attachment("x", "video")}, "bad_attachment"),
    ]
    for extra, reason in cases:
        category = int(str(extra.pop("category", d.lease)))
        measure = extra.pop("measure", None)
        with pytest.raises(RequestError) as refused:
            await file(db, d.zhang, category, measure, **extra)  # type: ignore[arg-type]
        assert refused.value.reason == reason
    # A measure of another category is not this category's.
    with pytest.raises(RequestError) as refused:
        await file(db, d.zhang, d.lease + 1, d.measures[0])
    assert refused.value.reason == "unknown_measure"
    # Exactly the limit is fine, and kept whole.
    request_id = await file(db, d.zhang, d.lease, description="字" * MAX_DESCRIPTION_LENGTH)
    assert len((await get(db, request_id)).description) == MAX_DESCRIPTION_LENGTH
    async with db.session() as session:
        assert len(list(await session.scalars(select(ServiceRequest.id)))) == 1


# --- staff changes --------------------------------------------------------------------------------


async def test_take_note_and_resolve_tell_the_member_of_what_they_should_hear(
    db: Database, d: District
) -> None:
    request_id = await file(db, d.zhang, d.lease, d.measures[0])
    later = START + timedelta(hours=2)
    async with db.session() as session:
        taken = await take(session, later, request_id, staff_id=d.liaison.id)
        await add_note(session, later, request_id, staff_id=d.liaison.id, text="已联系房东")
        closed = await set_status(
            session,
            later,
            request_id,
            staff_id=d.liaison.id,
            status=RequestStatus.RESOLVED,
            answer="房东同意续租，租金不变。",
        )
    assert (taken.status, taken.assignee_name, taken.member_told) == (
        RequestStatus.IN_PROGRESS,
        "李联络",
        True,
    )
    assert closed.status is RequestStatus.RESOLVED
    row = await get(db, request_id)
    assert (row.assignee_id, row.closed_at) == (d.liaison.id, later)
    updates = await deliveries(db, MessageKind.REQUEST_UPDATE)
    assert [(u.member_id, u.payload and u.payload["status"]) for u in updates] == [
        (d.zhang.id, "in_progress"),
        (d.zhang.id, "resolved"),
    ]
    assert updates[1].payload is not None and updates[1].payload["closed"] is True
    assert updates[1].payload["answer"] == "房东同意续租，租金不变。"
    assert row.answer == "房东同意续租，租金不变。"
    # The member's own history has no internal note; the card has it, marked internal.
    async with db.session() as session:
        [mine] = await my_requests(session, member_id=d.zhang.id)
        card = await request_card(session, request_id, staff_id=d.colleague.id)
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert [e.kind for e in mine.events] == [
        RequestEventKind.CREATED,
        RequestEventKind.TAKEN,
        RequestEventKind.STATUS,
    ]
    assert mine.member_phone is None
    assert card is not None
    assert [(e.kind, e.note, e.shown_to_member) for e in card.events][2] == (
        RequestEventKind.NOTE,
        "已联系房东",
        False,
    )
    assert card.phone_masked == "+86 138****0001"
    assert actions == ["request.create", "request.take", "request.note", "request.status"]


async def test_wrong_transitions_are_refused_with_the_reason(db: Database, d: District) -> None:
    request_id = await file(db, d.zhang, d.lease)

    async def change(
        status: RequestStatus, where: str | None = None, answer: str | None = "请带上合同。"
    ) -> str | None:
        try:
            async with db.session() as session:
                await set_status(
                    session,
                    START,
                    request_id,
                    staff_id=d.liaison.id,
                    status=status,
                    referred_to=where,
                    answer=answer,
                )
        except RequestError as error:
            return error.reason
        return None

    assert await change(RequestStatus.RECEIVED) == "same_status"
    assert await change(RequestStatus.IN_PROGRESS) is None
    assert await change(RequestStatus.RECEIVED) == "bad_transition"
    assert await change(RequestStatus.REFERRED) == "referred_needs_place"
    assert await change(RequestStatus.REFERRED, "x" * 201) == "referred_too_long"
    # Closing needs the answer the member reads.
    assert await change(RequestStatus.REFERRED, "区法律援助中心", None) == "answer_needed"
    assert await change(RequestStatus.CANNOT_HELP, None, " \n ") == "answer_needed"
    assert await change(RequestStatus.RESOLVED, None, "x" * 1001) == "answer_too_long"
    assert await change(RequestStatus.REFERRED, "  区法律援助中心 \n") is None
    assert (await get(db, request_id)).referred_to == "区法律援助中心"
    assert await change(RequestStatus.RESOLVED) == "closed"
    with pytest.raises(RequestError, match="closed"):
        async with db.session() as session:
            await take(session, START, request_id, staff_id=d.colleague.id)
    # An unassigned request changed by someone becomes theirs.
    assert (await get(db, request_id)).assignee_id == d.liaison.id
    assert len(await deliveries(db, MessageKind.REQUEST_UPDATE)) == 2


async def test_staff_see_and_change_only_requests_in_their_scope(db: Database, d: District) -> None:
    mine = await file(db, d.zhang, d.lease)
    shanghai = await file(db, d.li_na, d.lease)
    async with db.session() as session:
        seen = {
            staff.name: [v.id for v in (await list_requests(session, staff_id=staff.id))[0]]
            for staff in (d.liaison, d.outsider, d.admin, d.everyone_admin)
        }
        assert await request_card(session, shanghai, staff_id=d.liaison.id) is None
        assert await request_card(session, mine, staff_id=d.outsider.id) is None
    assert seen == {
        "李联络": [mine],
        "赵律师": [],
        "钱主任": [shanghai],
        "孙书记": [mine, shanghai],
    }
    for operation in (
        lambda s: take(s, START, shanghai, staff_id=d.liaison.id),
        lambda s: add_note(s, START, shanghai, staff_id=d.liaison.id, text="看看"),
        lambda s: set_status(
            s, START, shanghai, staff_id=d.liaison.id, status=RequestStatus.RESOLVED
        ),
        lambda s: colleagues(s, shanghai, staff_id=d.liaison.id),
        lambda s: take(s, START, 999, staff_id=d.liaison.id),
    ):
        with pytest.raises(RequestError) as refused:
            async with db.session() as session:
                await operation(session)
        # Out of scope reads exactly like not there.
        assert refused.value.reason == "not_found"
    assert (await get(db, shanghai)).status is RequestStatus.RECEIVED
    async with db.session() as session:
        notes = list(await session.scalars(select(ServiceRequestEvent.kind)))
    assert RequestEventKind.NOTE not in notes


async def test_assign_only_to_a_colleague_who_sees_the_member(db: Database, d: District) -> None:
    request_id = await file(db, d.zhang, d.lease, d.measures[1])
    async with db.session() as session:
        names = [name for _, name in await colleagues(session, request_id, staff_id=d.liaison.id)]
    # Those who may see 张伟: his group's liaisons and the admin over everything.
    assert names == ["李联络", "王联络", "孙书记"]
    with pytest.raises(RequestError) as refused:
        async with db.session() as session:
            await assign(
                session,
                START,
                request_id,
                staff_id=d.liaison.id,
                to_staff_id=d.outsider.id,
                zone=SHANGHAI,
            )
    assert refused.value.reason == "assignee_cannot_see"
    async with db.session() as session:
        change = await assign(
            session,
            START,
            request_id,
            staff_id=d.liaison.id,
            to_staff_id=d.colleague.id,
            zone=SHANGHAI,
        )
    assert change.assignee_name == "王联络"
    with pytest.raises(RequestError) as refused:
        async with db.session() as session:
            await assign(
                session,
                START,
                request_id,
                staff_id=d.liaison.id,
                to_staff_id=d.colleague.id,
                zone=SHANGHAI,
            )
    assert refused.value.reason == "same_assignee"
    # The colleague hears of it; the member does not (internal).
    told = await deliveries(db, MessageKind.REQUEST_NEW)
    assert [t.staff_id for t in told][-1] == d.colleague.id
    assert told[-1].payload is not None and told[-1].payload["assigned_by"] == "李联络"
    assert await deliveries(db, MessageKind.REQUEST_UPDATE) == []


async def test_feedback_once_and_only_by_the_member_after_closing(
    db: Database, d: District
) -> None:
    request_id = await file(db, d.zhang, d.lease)

    async def answer(member: Member, *, solved: bool | None = None, stars: int = 0) -> str | None:
        try:
            async with db.session() as session:
                if solved is not None:
                    await answer_solved(
                        session, START, request_id, member_id=member.id, solved=solved
                    )
                else:
                    await rate(session, START, request_id, member_id=member.id, satisfaction=stars)
        except RequestError as error:
            return error.reason
        return None

    assert await answer(d.zhang, solved=True) == "not_closed"
    async with db.session() as session:
        await set_status(
            session,
            START,
            request_id,
            staff_id=d.liaison.id,
            status=RequestStatus.CANNOT_HELP,
            answer="这项服务不在本区办理范围内。",
        )
    assert await answer(d.li_na, solved=True) == "not_found"
    assert await answer(d.zhang, solved=False) is None
    assert await answer(d.zhang, solved=True) == "already_answered"
    assert await answer(d.zhang, stars=6) == "bad_rating"
    assert await answer(d.zhang, stars=2) is None
    assert await answer(d.zhang, stars=5) == "already_rated"
    row = await get(db, request_id)
    assert (row.solved, row.satisfaction) == (False, 2)


async def _closed_by(db: Database, d: District, request_id: int, staff: Staff) -> None:
    async with db.session() as session:
        await take(session, START, request_id, staff_id=d.liaison.id)
        if staff.id != d.liaison.id:
            await assign(
                session,
                START,
                request_id,
                staff_id=d.liaison.id,
                to_staff_id=staff.id,
                zone=SHANGHAI,
            )
        await set_status(
            session,
            START,
            request_id,
            staff_id=staff.id,
            status=RequestStatus.RESOLVED,
            answer="已和房东谈妥。",
        )


async def test_unhappy_feedback_reaches_the_assignee_and_the_liaisons_with_the_comment(
    db: Database, d: District
) -> None:
    request_id = await file(db, d.zhang, d.lease)
    # Assigned to an admin outside the group: told as the assignee, with both liaisons.
    await _closed_by(db, d, request_id, d.everyone_admin)
    said_no = START + timedelta(hours=1)
    async with db.session() as session:
        await answer_solved(session, said_no, request_id, member_id=d.zhang.id, solved=False)
    [*alerts] = await deliveries(db, MessageKind.REQUEST_FEEDBACK)
    assert sorted(a.staff_id or 0 for a in alerts) == sorted(
        [d.everyone_admin.id, d.liaison.id, d.colleague.id]
    )
    # It waits for the rest of the member's answer, at most FEEDBACK_WAIT.
    assert {a.next_attempt_at for a in alerts} == {said_no + FEEDBACK_WAIT}
    async with db.session() as session:
        await rate(
            session,
            said_no + timedelta(minutes=1),
            request_id,
            member_id=d.zhang.id,
            satisfaction=1,
        )
        await comment_on(
            session,
            said_no + timedelta(minutes=2),
            request_id,
            member_id=d.zhang.id,
            text="  房东<还是>要涨租  ",
        )
    alerts = await deliveries(db, MessageKind.REQUEST_FEEDBACK)
    assert len(alerts) == 3  # the same three messages, now complete and due
    for alert in alerts:
        assert alert.next_attempt_at == said_no + timedelta(minutes=2)
        assert alert.payload is not None
        assert (alert.payload["solved"], alert.payload["satisfaction"]) == (False, 1)
        assert alert.payload["comment"] == "房东<还是>要涨租"
        assert alert.payload["assignee"] == "孙书记"
    with pytest.raises(RequestError, match="already commented"):
        async with db.session() as session:
            await comment_on(session, said_no, request_id, member_id=d.zhang.id, text="再说一句")
    async with db.session() as session:
        [mine] = await my_requests(session, member_id=d.zhang.id)
    assert mine.feedback_comment == "房东<还是>要涨租"


async def test_a_comment_after_the_alert_went_follows_it_and_happy_feedback_alerts_no_one(
    db: Database, d: District
) -> None:
    happy = await file(db, d.zhang, d.lease)
    await _closed_by(db, d, happy, d.liaison)
    async with db.session() as session:
        await answer_solved(session, START, happy, member_id=d.zhang.id, solved=True)
        await rate(session, START, happy, member_id=d.zhang.id, satisfaction=3)
    assert await deliveries(db, MessageKind.REQUEST_FEEDBACK) == []
    with pytest.raises(RequestError) as nothing_to_say:
        async with db.session() as session:
            await comment_on(session, START, happy, member_id=d.zhang.id, text="还行")
    assert nothing_to_say.value.reason == "not_answered"

    unhappy = await file(db, d.zhang, d.lease)
    await _closed_by(db, d, unhappy, d.liaison)
    async with db.session() as session:
        await answer_solved(session, START, unhappy, member_id=d.zhang.id, solved=True)
        await rate(session, START, unhappy, member_id=d.zhang.id, satisfaction=2)
    first = await deliveries(db, MessageKind.REQUEST_FEEDBACK)
    assert sorted(a.staff_id or 0 for a in first) == sorted([d.liaison.id, d.colleague.id])
    assert all(a.payload and a.payload["comment"] is None for a in first)
    # The wait is over and they were sent; the member's comment then follows on its own.
    async with db.session() as session:
        for alert in first:
            row = await session.get(Delivery, alert.id)
            assert row is not None
            row.status = DeliveryStatus.SENT
    async with db.session() as session:
        await comment_on(
            session, START + 2 * FEEDBACK_WAIT, unhappy, member_id=d.zhang.id, text="没人联系我"
        )
    follow_ups = [
        a
        for a in await deliveries(db, MessageKind.REQUEST_FEEDBACK)
        if a.status is DeliveryStatus.PENDING
    ]
    assert sorted(a.staff_id or 0 for a in follow_ups) == sorted([d.liaison.id, d.colleague.id])
    assert all(
        a.payload and a.payload["follow_up"] and a.payload["comment"] == "没人联系我"
        for a in follow_ups
    )


# --- the deadline check ---------------------------------------------------------------------------


async def test_nearing_reminds_once_and_overdue_escalates_once(
    db: Database, d: District, clock: FakeClock
) -> None:
    # Due in 3 days (the second measure); taken by the liaison.
    taken = await file(db, d.zhang, d.lease, d.measures[1])
    # Due in 14 days; nobody takes it.
    waiting = await file(db, d.zhang, d.lease, d.measures[0])
    # Due in 3 days, but resolved at once: never reminded.
    done = await file(db, d.zhang, d.lease, d.measures[1])
    async with db.session() as session:
        await take(session, START, taken, staff_id=d.liaison.id)
        await set_status(
            session,
            START,
            done,
            staff_id=d.liaison.id,
            status=RequestStatus.RESOLVED,
            answer="已办好。",
        )

    async def check() -> tuple[list[int], list[int]]:
        async with db.session() as session:
            report = await check_deadlines(
                session, clock.now(), remind_before=REMIND, zone=SHANGHAI
            )
        return report.reminded, report.escalated

    clock.set(START + timedelta(days=2) - timedelta(minutes=1))
    assert await check() == ([], [])
    clock.set(START + timedelta(days=2))
    assert await check() == ([taken], [])
    assert await check() == ([], [])
    assert await staff_told(db, MessageKind.REQUEST_DUE) == [d.liaison.id]
    clock.set(START + timedelta(days=3))
    assert await check() == ([], [taken])
    assert await check() == ([], [])
    # The admins over 张伟: only the one over everything (钱主任 has another street).
    assert await staff_told(db, MessageKind.REQUEST_LATE) == [d.everyone_admin.id]
    # The unassigned one reminds the group's liaisons, then escalates.
    clock.set(START + timedelta(days=13, hours=1))
    assert await check() == ([waiting], [])
    assert (await staff_told(db, MessageKind.REQUEST_DUE))[1:] == [d.liaison.id, d.colleague.id]
    clock.set(START + timedelta(days=30))
    assert await check() == ([], [waiting])
    row = await get(db, taken)
    assert (row.reminded_at, row.escalated_at) == (
        START + timedelta(days=2),
        START + timedelta(days=3),
    )
    late = (await deliveries(db, MessageKind.REQUEST_LATE))[0]
    assert late.payload is not None
    assert (late.payload["assignee"], late.payload["due"]) == ("李联络", "2026-11-18 10:00")
    async with db.session() as session:
        kinds = list(
            await session.scalars(
                select(ServiceRequestEvent.kind).where(ServiceRequestEvent.request_id == taken)
            )
        )
    assert kinds.count(RequestEventKind.REMINDED) == kinds.count(RequestEventKind.ESCALATED) == 1


async def test_the_scheduler_runs_the_check_and_times_it_only_while_needed(
    db: Database, d: District, settings: Settings
) -> None:
    specs = await job_specs(db, settings, START)
    assert "requests:deadlines" not in [s.id for s in specs]
    request_id = await file(db, d.zhang, d.lease, d.measures[1])
    [spec] = [s for s in await job_specs(db, settings, START) if s.id == "requests:deadlines"]
    assert spec.next_time(START + timedelta(minutes=1)) == START + timedelta(minutes=15)
    late = START + timedelta(days=4)
    first = await run_due(db, late, settings)
    assert f"request #{request_id} overdue: 1 staff told" in first.lines
    again = await run_due(db, late, settings)
    assert not any("request" in line for line in again.lines)
    # Reminded is skipped once overdue: the escalation says it all.
    assert await staff_told(db, MessageKind.REQUEST_DUE) == []
    assert [d.status for d in await deliveries(db, MessageKind.REQUEST_LATE)] == [
        DeliveryStatus.PENDING
    ]
    # Nothing is left to remind of or escalate: no timer.
    assert "requests:deadlines" not in [s.id for s in await job_specs(db, settings, late)]


async def test_a_member_nobody_can_reach_is_not_counted_as_told(db: Database, d: District) -> None:
    group = await make_group(db, START, "驻深圳党小组")
    silent = await make_member(db, START, name="无联系方式", phone=None, groups=[group])
    request_id = await file(db, silent, d.lease)
    async with db.session() as session:
        change = await take(session, START, request_id, staff_id=d.liaison.id)
    assert change.member_told is False
    [row] = await deliveries(db, MessageKind.REQUEST_UPDATE)
    assert (row.status, row.channel) == (DeliveryStatus.SUPPRESSED, None)
