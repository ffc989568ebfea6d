"""Retention of receipts, ideas, certificates, invites, wrong-code counters and decided data
requests: just inside their time stays, just past goes; what statistics count (ideas
collected and adopted, certificates issued per year, corrections made) survives without the
texts; twice is once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.context import Services
from scheduler.jobs import PURGE_AT, run_due
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    Certificate,
    CertificateEvent,
    CertificateStatus,
    CodeScheme,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    Idea,
    IdeaKind,
    IdeaStatus,
    Invite,
    InviteGuard,
    Member,
    NoticeReceipt,
    StudyMaterial,
    StudyReceipt,
)
from storage.notices import create_notice
from storage.outbox import delivery_report
from storage.retention import PurgeReport, Retention, months_before, purge
from tests.factories import make_member

MINUTE = timedelta(minutes=1)
KEEP = Retention()


async def run_purge(db: Database, now: datetime) -> PurgeReport:
    async with db.session() as session:
        return await purge(session, now, KEEP)


async def first_member(db: Database, now: datetime) -> Member:
    return await make_member(db, now - timedelta(days=3000), telegram_user_id=5100)


def test_the_defaults_are_the_documented_times() -> None:
    assert (KEEP.receipts_months, KEEP.ideas_months, KEEP.certificates_months) == (12, 36, 36)
    assert (KEEP.invites_months, KEEP.invite_guards_months, KEEP.data_requests_months) == (
        3,
        1,
        12,
    )


# --- receipts -------------------------------------------------------------------------------


async def test_notice_and_study_receipts_past_a_year_go_and_those_just_inside_stay(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    cutoff = months_before(now, 12)
    zhang = await first_member(db, now)
    li = await make_member(db, now - timedelta(days=3000), name="李娜", phone="+8613800138111")
    async with db.session() as session:
        notice = await create_notice(
            session,
            cutoff - MINUTE,
            author="cli:test",
            author_name="区委组织部",
            body="通知",
            everyone=True,
        )
        material = StudyMaterial(
            title="党章学习", body="第一章", created_by="cli:test", created_at=cutoff - MINUTE
        )
        session.add(material)
        await session.flush()
        for member, at in ((zhang, cutoff - MINUTE), (li, cutoff + MINUTE)):
            session.add(NoticeReceipt(notice_id=notice.id, member_id=member.id, acknowledged_at=at))
            session.add(StudyReceipt(material_id=material.id, member_id=member.id, studied_at=at))
        await session.flush()
        assert (await delivery_report(session, notice.id)).acknowledged == 2

    report = await run_purge(db, now)

    assert report.count("notice_receipts").deleted == 1
    assert report.count("study_receipts").deleted == 1
    async with db.session() as session:
        assert (await delivery_report(session, notice.id)).acknowledged == 1
        assert list(await session.scalars(select(NoticeReceipt.member_id))) == [li.id]
        assert list(await session.scalars(select(StudyReceipt.member_id))) == [li.id]
    assert (await run_purge(db, now)).total == 0


# --- ideas ----------------------------------------------------------------------------------


async def test_answered_ideas_lose_their_texts_and_still_count_unanswered_ones_go(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    cutoff = months_before(now, 36)
    long_ago = cutoff - timedelta(days=200)
    member = await first_member(db, now)

    def idea(body: str, created: datetime, **answer: object) -> Idea:
        status = IdeaStatus.ADOPTED if answer.get("adopted_at") else IdeaStatus.NEW
        if answer.get("replied_at") and status is IdeaStatus.NEW:
            status = IdeaStatus.REPLIED
        return Idea(
            member_id=member.id,
            kind=IdeaKind.IDEA,
            body=body,
            status=status,
            created_at=created,
            **answer,
        )

    async with db.session() as session:
        session.add_all(
            [
                # Unanswered: just past goes, just inside stays.
                idea("建议开设夜校", cutoff - MINUTE),
                idea("建议组织联谊会", cutoff + MINUTE),
                # Replied just past three years: the texts go, the idea still counts.
                idea(
                    "建议建立微信群",
                    long_ago,
                    reply="已采纳，下月建群",
                    replied_at=cutoff - MINUTE,
                    replied_by="staff:1",
                    adopted_at=cutoff - 2 * MINUTE,
                    adopted_by="staff:1",
                ),
                # Came long ago, replied just inside: kept whole.
                idea(
                    "建议编印服务指南",
                    long_ago,
                    reply="感谢建议",
                    replied_at=cutoff + MINUTE,
                    replied_by="staff:1",
                ),
                # Replied long ago, adopted just inside: kept whole.
                idea(
                    "建议设立党员之家",
                    long_ago,
                    reply="研究中",
                    replied_at=long_ago,
                    replied_by="staff:1",
                    adopted_at=cutoff + MINUTE,
                    adopted_by="staff:1",
                ),
            ]
        )

    report = await run_purge(db, now)

    assert (report.count("ideas").deleted, report.count("ideas").anonymised) == (1, 1)
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Idea.body, Idea.reply, Idea.status, Idea.adopted_at).order_by(Idea.id)
            )
        ).all()
        adopted_that_year = await session.scalar(
            select(func.count()).where(
                Idea.adopted_at >= datetime(cutoff.year, 1, 1, tzinfo=cutoff.tzinfo),
                Idea.adopted_at < cutoff,
            )
        )
    assert [tuple(r) for r in rows] == [
        ("建议组织联谊会", None, IdeaStatus.NEW, None),
        ("", None, IdeaStatus.ADOPTED, cutoff - 2 * MINUTE),
        ("建议编印服务指南", "感谢建议", IdeaStatus.REPLIED, None),
        ("建议设立党员之家", "研究中", IdeaStatus.ADOPTED, cutoff + MINUTE),
    ]
    # Ideas adopted in that year are still counted.
    assert adopted_that_year == 1
    assert (await run_purge(db, now)).total == 0


# --- certificates ---------------------------------------------------------------------------


async def test_ended_certificates_go_and_issued_ones_still_count_without_their_texts(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    cutoff = months_before(now, 36)
    long_ago = cutoff - timedelta(days=400)
    member = await first_member(db, now)

    def certificate(status: CertificateStatus, ended: datetime, **more: object) -> Certificate:
        return Certificate(
            member_id=member.id,
            origin_organisation="江汉区委组织部",
            destination="深圳市南山区",
            reason="在深圳经商，参加流入地组织生活",
            expected_months=24,
            status=status,
            created_at=long_ago,
            updated_at=ended,
            **more,
        )

    async with db.session() as session:
        rows = [
            certificate(CertificateStatus.REJECTED, cutoff - MINUTE),
            certificate(CertificateStatus.WITHDRAWN, cutoff + MINUTE),
            # Issued; its review fell due the day before the cutoff and none followed.
            certificate(
                CertificateStatus.ISSUED,
                long_ago,
                number=f"{long_ago.year}-0001",
                issued_at=long_ago,
                review_due_on=cutoff.date() - timedelta(days=1),
            ),
            # Issued; its review fell due the day of the cutoff: not yet ended long enough.
            certificate(
                CertificateStatus.ISSUED,
                long_ago,
                number=f"{long_ago.year}-0002",
                issued_at=long_ago,
                review_due_on=cutoff.date(),
            ),
        ]
        session.add_all(rows)
        await session.flush()
        for row in rows:
            for actor, name, note in (
                (f"member:{member.id}", "张伟", None),
                ("staff:1", "王主任", "材料齐全"),
            ):
                session.add(
                    CertificateEvent(
                        certificate_id=row.id,
                        at=long_ago,
                        step="applied",
                        actor=actor,
                        actor_name=name,
                        note=note,
                    )
                )
        ids = [row.id for row in rows]

    report = await run_purge(db, now)

    assert (report.count("certificates").deleted, report.count("certificates").anonymised) == (
        1,
        1,
    )
    async with db.session() as session:
        left = {c.id: c for c in await session.scalars(select(Certificate))}
        events = (
            await session.execute(
                select(CertificateEvent.actor_name, CertificateEvent.note)
                .where(CertificateEvent.certificate_id == ids[2])
                .order_by(CertificateEvent.id)
            )
        ).all()
        issued_that_year = await session.scalar(
            select(func.count()).where(
                Certificate.status == CertificateStatus.ISSUED,
                Certificate.number.startswith(f"{long_ago.year}-"),
            )
        )
        deleted_events = await session.scalar(
            select(func.count()).where(CertificateEvent.certificate_id == ids[0])
        )
    assert set(left) == set(ids[1:])
    assert deleted_events == 0
    lapsed, current = left[ids[2]], left[ids[3]]
    assert (lapsed.reason, lapsed.destination, lapsed.review_due_on) == ("", "", None)
    # What counts certificates issued per year (and by whom, to which origin) stays.
    assert (lapsed.status, lapsed.number, lapsed.issued_at, lapsed.origin_organisation) == (
        CertificateStatus.ISSUED,
        f"{long_ago.year}-0001",
        long_ago,
        "江汉区委组织部",
    )
    assert issued_that_year == 2
    # The member's name on their own step goes; the staff member's name stays, the note not.
    assert [tuple(e) for e in events] == [(None, None), ("王主任", None)]
    assert (current.reason, current.review_due_on) == (
        "在深圳经商，参加流入地组织生活",
        cutoff.date(),
    )
    assert left[ids[1]].reason == "在深圳经商，参加流入地组织生活"
    assert (await run_purge(db, now)).total == 0


# --- invites and wrong-code counters --------------------------------------------------------


async def test_used_or_expired_invites_and_old_wrong_code_counters_go(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    cutoff = months_before(now, 3)
    guard_cutoff = months_before(now, 1)
    member = await first_member(db, now)
    long_ago = now - timedelta(days=365)

    def invite(code: str, expires: datetime, used: datetime | None = None) -> Invite:
        return Invite(
            member_id=member.id,
            code_hash=code,
            code_scheme=CodeScheme.HMAC_SHA256,
            created_at=long_ago,
            expires_at=expires,
            used_at=used,
            used_by_telegram_id=5100 if used else None,
            created_by="cli:test",
        )

    async with db.session() as session:
        session.add_all(
            [
                invite("used-past", now, used=cutoff - MINUTE),
                invite("used-inside", long_ago, used=cutoff + MINUTE),
                invite("expired-past", cutoff - MINUTE),
                invite("expired-inside", cutoff + MINUTE),
                invite("still-open", now + timedelta(days=3)),
                InviteGuard(user_id=1, failures=3, last_failure_at=guard_cutoff - MINUTE),
                InviteGuard(user_id=2, failures=1, last_failure_at=guard_cutoff + MINUTE),
                # A lock that outlasts the last attempt keeps its counter until it too is old.
                InviteGuard(
                    user_id=3,
                    failures=5,
                    last_failure_at=guard_cutoff - MINUTE,
                    locked_until=guard_cutoff + MINUTE,
                ),
            ]
        )

    report = await run_purge(db, now)

    assert report.count("invites").deleted == 2
    assert report.count("invite_guards").deleted == 1
    async with db.session() as session:
        codes = set(await session.scalars(select(Invite.code_hash)))
        guards = set(await session.scalars(select(InviteGuard.user_id)))
    assert codes == {"used-inside", "expired-inside", "still-open"}
    assert guards == {2, 3}
    assert (await run_purge(db, now)).total == 0


# --- decided data requests ------------------------------------------------------------------


async def test_decided_data_requests_keep_that_they_happened_without_the_member(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    cutoff = months_before(now, 12)
    member = await first_member(db, now)
    long_ago = cutoff - timedelta(days=100)

    def correction(status: DataRequestStatus, decided: datetime | None) -> DataRequest:
        return DataRequest(
            kind=DataRequestKind.CORRECT,
            member_id=member.id,
            field="phone",
            proposed_value="+8613900139000",
            status=status,
            created_at=long_ago,
            decided_by="staff:1" if decided else None,
            decided_at=decided,
            reason="号码不符" if status is DataRequestStatus.REJECTED else None,
        )

    async with db.session() as session:
        session.add_all(
            [
                correction(DataRequestStatus.APPROVED, cutoff - MINUTE),
                correction(DataRequestStatus.REJECTED, cutoff - MINUTE),
                correction(DataRequestStatus.REJECTED, cutoff + MINUTE),
                # Still waiting for a decision, however old: untouched.
                correction(DataRequestStatus.PENDING, None),
            ]
        )

    report = await run_purge(db, now)

    assert report.count("data_requests").anonymised == 2
    async with db.session() as session:
        rows = (
            await session.execute(
                select(
                    DataRequest.status,
                    DataRequest.field,
                    DataRequest.member_id,
                    DataRequest.proposed_value,
                    DataRequest.reason,
                    DataRequest.decided_at,
                ).order_by(DataRequest.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        # That a phone number was corrected, and when, still counts; not whose, nor to what.
        (DataRequestStatus.APPROVED, "phone", None, None, None, cutoff - MINUTE),
        (DataRequestStatus.REJECTED, "phone", None, None, None, cutoff - MINUTE),
        (
            DataRequestStatus.REJECTED,
            "phone",
            member.id,
            "+8613900139000",
            "号码不符",
            cutoff + MINUTE,
        ),
        (DataRequestStatus.PENDING, "phone", member.id, "+8613900139000", None, None),
    ]
    assert (await run_purge(db, now)).total == 0


# --- the nightly job ------------------------------------------------------------------------


async def test_the_nightly_job_reports_the_new_kinds(
    db: Database, clock: FakeClock, services: Services
) -> None:
    member = await first_member(db, clock.now())
    local = clock.now().astimezone(services.settings.zone)
    night = datetime.combine(local.date() + timedelta(days=1), PURGE_AT, tzinfo=local.tzinfo)
    async with db.session() as session:
        session.add(
            Invite(
                member_id=member.id,
                code_hash="old",
                code_scheme=CodeScheme.HMAC_SHA256,
                created_at=night - timedelta(days=200),
                expires_at=night - timedelta(days=100),
                created_by="cli:test",
            )
        )
        session.add(InviteGuard(user_id=9, failures=2, last_failure_at=night - timedelta(days=40)))
    clock.set(night)

    report = await run_due(db, clock.now(), services.settings)

    before = months_before(night, 3)
    guards_before = months_before(night, 1)
    assert f"retention purge: used or expired invites before {before:%Y-%m-%d}: 1 deleted" in (
        report.lines
    )
    assert (
        f"retention purge: wrong-code counters before {guards_before:%Y-%m-%d}: 1 deleted"
        in report.lines
    )
    # Kinds with nothing to purge say nothing.
    assert not [line for line in report.lines if "ideas" in line or "certificates" in line]
