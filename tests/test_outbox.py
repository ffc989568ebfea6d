"""The outbox on the real database: enqueue once, claim, lease, retry, fall back, receipts."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    ChannelName,
    Delivery,
    DeliveryStatus,
    Group,
    GroupKind,
    Member,
    StaffRole,
)
from storage.notices import NoticeError, cancel_notice, create_notice, due_notice_ids
from storage.outbox import (
    NO_CHANNEL,
    OutboxError,
    Outcome,
    RetryPolicy,
    acknowledge,
    audience_preview,
    claim_due,
    delivery_report,
    enqueue_notice,
    record_outcome,
    record_receipt,
)
from tests.factories import make_group, make_member, make_staff

LEASE = timedelta(minutes=2)
POLICY = RetryPolicy(max_attempts=3)


async def district(db: Database, clock: FakeClock) -> tuple[Group, Group]:
    """Shenzhen group: 2 on Telegram (one prefers SMS), 1 phone only, 1 unreachable; a chat."""
    now = clock.now()
    shenzhen = await make_group(db, now, "驻深圳党小组", GroupKind.DESTINATION)
    lawyers = await make_group(db, now, "律师党小组", GroupKind.TRADE)
    await make_member(
        db, now, name="张伟", phone="+8613800000001", telegram_user_id=1, groups=[shenzhen]
    )
    await make_member(
        db, now, name="王芳", phone="+8613800000002", telegram_user_id=2, groups=[shenzhen, lawyers]
    )
    await make_member(db, now, name="李强", phone="+8613800000003", groups=[shenzhen])
    await make_member(db, now, name="赵敏", phone=None, groups=[shenzhen])
    async with db.session() as session:
        await session.execute(
            update(Member).where(Member.name == "王芳").values(channels="sms,telegram")
        )
        await session.execute(update(Group).where(Group.id == shenzhen.id).values(chat_id=-100123))
    return shenzhen, lawyers


async def notice_to(db: Database, clock: FakeClock, *groups: str, urgent: bool = False) -> int:
    async with db.session() as session:
        notice = await create_notice(
            session,
            clock.now(),
            author="cli:test",
            author_name="区委组织部",
            body="本月主题党日改到周六。",
            groups=groups,
            urgent=urgent,
        )
    return notice.id


async def deliveries(db: Database) -> dict[str, Delivery]:
    async with db.session() as session:
        rows = await session.scalars(select(Delivery))
        return {row.dedupe_key: row for row in rows}


async def test_enqueue_writes_one_row_per_recipient_and_channel_once(
    db: Database, clock: FakeClock
) -> None:
    await district(db, clock)
    notice_id = await notice_to(db, clock, "驻深圳党小组")
    async with db.session() as session:
        report = await enqueue_notice(session, clock.now(), notice_id)
    assert report.per_channel == {"telegram": 1, "sms": 2, "group_chat": 1}
    assert report.suppressed == 1
    rows = await deliveries(db)
    assert {(r.channel, r.address, r.status) for r in rows.values()} == {
        (ChannelName.TELEGRAM, "1", DeliveryStatus.PENDING),
        (ChannelName.SMS, "+8613800000002", DeliveryStatus.PENDING),  # prefers SMS
        (ChannelName.SMS, "+8613800000003", DeliveryStatus.PENDING),
        (ChannelName.GROUP_CHAT, "-100123", DeliveryStatus.PENDING),
        (None, None, DeliveryStatus.SUPPRESSED),
    }
    assert next(r for r in rows.values() if r.channel is None).last_error == NO_CHANNEL
    async with db.session() as session:
        again = await enqueue_notice(session, clock.now(), notice_id)
    assert again.new == 0
    assert len(await deliveries(db)) == 5


async def test_preview_counts_match_what_enqueue_writes(db: Database, clock: FakeClock) -> None:
    shenzhen, _ = await district(db, clock)
    async with db.session() as session:
        preview = await audience_preview(
            session, groups=[shenzhen.id], everyone=False, staff_id=None
        )
    assert preview == {"telegram": 1, "sms": 2, "none": 1, "group_chat": 1}


async def test_a_member_in_two_addressed_groups_gets_it_once(
    db: Database, clock: FakeClock
) -> None:
    await district(db, clock)
    notice_id = await notice_to(db, clock, "驻深圳党小组", "律师党小组")
    async with db.session() as session:
        report = await enqueue_notice(session, clock.now(), notice_id)
    assert sum(report.per_channel.values()) + report.suppressed == 5


async def test_scope_limits_groups_and_cancelled_notices_never_go(
    db: Database, clock: FakeClock
) -> None:
    shenzhen, _ = await district(db, clock)
    staff = await make_staff(db, clock.now(), telegram_user_id=900, groups=[shenzhen])
    async with db.session() as session:
        with pytest.raises(NoticeError, match="among the groups you look after"):
            await create_notice(
                session,
                clock.now(),
                author="staff:x",
                author_name="李",
                body="x",
                groups=["律师党小组"],
                staff_id=staff.id,
            )
        with pytest.raises(NoticeError, match="empty"):
            await create_notice(
                session,
                clock.now(),
                author="staff:x",
                author_name="李",
                body=" \n ",
                groups=["驻深圳党小组"],
                staff_id=staff.id,
            )
        with pytest.raises(NoticeError, match="at most 8000"):
            await create_notice(
                session,
                clock.now(),
                author="staff:x",
                author_name="李",
                body="长" * 8001,
                groups=["驻深圳党小组"],
                staff_id=staff.id,
            )
        later = await create_notice(
            session,
            clock.now(),
            author="staff:x",
            author_name="李",
            body="周六见",
            groups=["驻深圳党小组"],
            staff_id=staff.id,
            send_at=clock.now() + timedelta(hours=3),
        )
    async with db.session() as session:
        assert await due_notice_ids(session, clock.now()) == []
        assert await due_notice_ids(session, clock.now() + timedelta(hours=3)) == [later.id]
        await cancel_notice(session, clock.now(), later.id, actor="staff:x", staff_id=staff.id)
        assert await due_notice_ids(session, clock.now() + timedelta(hours=3)) == []
        with pytest.raises(OutboxError, match="cancelled"):
            await enqueue_notice(session, clock.now(), later.id)
        with pytest.raises(NoticeError, match="already cancelled"):
            await cancel_notice(session, clock.now(), later.id, actor="staff:x", staff_id=staff.id)


async def test_everyone_means_the_staff_members_scope(db: Database, clock: FakeClock) -> None:
    _, lawyers = await district(db, clock)
    staff = await make_staff(db, clock.now(), telegram_user_id=901, groups=[lawyers])
    admin = await make_staff(db, clock.now(), telegram_user_id=902, role=StaffRole.ADMIN)
    async with db.session() as session:
        mine = await create_notice(
            session,
            clock.now(),
            author="staff:1",
            author_name="李",
            body="x",
            everyone=True,
            staff_id=staff.id,
        )
        everyone = await create_notice(
            session,
            clock.now(),
            author="staff:2",
            author_name="钱",
            body="y",
            everyone=True,
            staff_id=admin.id,
        )
        assert sum((await enqueue_notice(session, clock.now(), mine.id)).per_channel.values()) == 1
        all_report = await enqueue_notice(session, clock.now(), everyone.id)
    assert sum(all_report.per_channel.values()) + all_report.suppressed == 4


async def test_claim_takes_urgent_first_and_a_lost_lease_comes_back(
    db: Database, clock: FakeClock
) -> None:
    await district(db, clock)
    routine = await notice_to(db, clock, "律师党小组")
    urgent = await notice_to(db, clock, "律师党小组", urgent=True)
    async with db.session() as session:
        await enqueue_notice(session, clock.now(), routine)
        await enqueue_notice(session, clock.now(), urgent)
    async with db.session() as session:
        first = await claim_due(session, clock.now(), limit=1, lease=LEASE)
    assert [c.notice_id for c in first] == [urgent]
    assert first[0].attempts == 1
    async with db.session() as session:
        assert len(await claim_due(session, clock.now(), limit=10, lease=LEASE)) == 1  # routine
        assert await claim_due(session, clock.now(), limit=10, lease=LEASE) == []
    # The dispatcher died holding both: after the lease they are due again.
    clock.advance(LEASE + timedelta(seconds=1))
    async with db.session() as session:
        again = await claim_due(session, clock.now(), limit=10, lease=LEASE)
    assert sorted(c.notice_id for c in again) == sorted([routine, urgent])
    assert all(c.attempts == 2 for c in again)


async def test_a_lapsed_lease_is_not_taken_back_by_the_dispatcher_still_holding_it(
    db: Database, clock: FakeClock
) -> None:
    await district(db, clock)
    notice_id = await notice_to(db, clock, "律师党小组")
    async with db.session() as session:
        await enqueue_notice(session, clock.now(), notice_id)
        (mine,) = await claim_due(session, clock.now(), limit=10, lease=LEASE)
    # Its renewal failed (the database was away): the lease lapsed, but the send goes on.
    clock.advance(LEASE + timedelta(seconds=1))
    async with db.session() as session:
        assert await claim_due(session, clock.now(), limit=10, lease=LEASE, held={mine.id}) == []
        # Another dispatcher, holding nothing, takes it over as it would a dead one's.
        assert [c.id for c in await claim_due(session, clock.now(), limit=10, lease=LEASE)] == [
            mine.id
        ]


async def test_outcomes_move_rows_to_a_final_state_or_a_next_attempt(
    db: Database, clock: FakeClock
) -> None:
    await district(db, clock)
    notice_id = await notice_to(db, clock, "驻深圳党小组")
    rng = random.Random(1)
    async with db.session() as session:
        await enqueue_notice(session, clock.now(), notice_id)
    async with db.session() as session:
        claimed = {
            c.address: c for c in await claim_due(session, clock.now(), limit=10, lease=LEASE)
        }
        await record_outcome(
            session,
            clock.now(),
            claimed["1"],
            Outcome("unreachable", reason="403 Forbidden: bot was blocked by the user"),
            policy=POLICY,
            rng=rng,
        )
        await record_outcome(
            session,
            clock.now(),
            claimed["+8613800000002"],
            Outcome("accepted", external_id="smsc-1"),
            policy=POLICY,
            rng=rng,
        )
        await record_outcome(
            session,
            clock.now(),
            claimed["+8613800000003"],
            Outcome("retry", reason="throttled"),
            policy=POLICY,
            rng=rng,
        )
        await record_outcome(
            session,
            clock.now(),
            claimed["-100123"],
            Outcome("retry", reason="group migrated", new_address="-100999"),
            policy=POLICY,
            rng=rng,
        )
    rows = await deliveries(db)
    blocked = rows[f"n{notice_id}:m1:telegram"]
    assert blocked.status is DeliveryStatus.FAILED
    assert "falling back to sms" in (blocked.last_error or "")
    fallback = rows[f"n{notice_id}:m1:sms"]
    assert (fallback.status, fallback.address) == (DeliveryStatus.PENDING, "+8613800000001")
    assert rows[f"n{notice_id}:m2:sms"].status is DeliveryStatus.SENT
    throttled = rows[f"n{notice_id}:m3:sms"]
    assert throttled.status is DeliveryStatus.PENDING
    wait = throttled.next_attempt_at - clock.now()
    assert timedelta(seconds=24) <= wait <= timedelta(seconds=36)
    chat = next(r for r in rows.values() if r.channel is ChannelName.GROUP_CHAT)
    assert (chat.status, chat.address) == (DeliveryStatus.PENDING, "-100999")
    async with db.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == 1))
        group = await session.scalar(select(Group).where(Group.name == "驻深圳党小组"))
    assert member is not None and member.telegram_unreachable_at == clock.now()
    assert group is not None and group.chat_id == -100999

    # A receipt finishes the accepted SMS; retries end in failure after max_attempts.
    async with db.session() as session:
        assert await record_receipt(session, clock.now(), "smsc-1", delivered=True, reason=None)
        assert not await record_receipt(
            session, clock.now(), "unknown", delivered=True, reason=None
        )
    for _ in range(POLICY.max_attempts):
        clock.advance(timedelta(hours=2))
        async with db.session() as session:
            for claimed_row in await claim_due(session, clock.now(), limit=10, lease=LEASE):
                if claimed_row.address == "+8613800000003":
                    await record_outcome(
                        session,
                        clock.now(),
                        claimed_row,
                        Outcome("retry", reason="throttled"),
                        policy=POLICY,
                        rng=rng,
                    )
                else:
                    await record_outcome(
                        session,
                        clock.now(),
                        claimed_row,
                        Outcome("accepted", delivered=True),
                        policy=POLICY,
                        rng=rng,
                    )
    rows = await deliveries(db)
    assert rows[f"n{notice_id}:m2:sms"].status is DeliveryStatus.DELIVERED
    gave_up = rows[f"n{notice_id}:m3:sms"]
    assert gave_up.status is DeliveryStatus.FAILED
    assert gave_up.last_error == "gave up after 3 attempts: throttled"
    assert all(
        r.status not in (DeliveryStatus.PENDING, DeliveryStatus.SENDING) for r in rows.values()
    )

    async with db.session() as session:
        report = await delivery_report(session, notice_id)
        member_id = await session.scalar(select(Member.id).where(Member.name == "张伟"))
        assert member_id is not None
        assert await acknowledge(session, clock.now(), notice_id=notice_id, member_id=member_id)
        assert not await acknowledge(session, clock.now(), notice_id=notice_id, member_id=member_id)
    assert report.by_status["delivered"] == 3  # fallback SMS, 王芳's SMS, the group chat
    assert report.by_status["failed"] == 2
    assert report.by_status["suppressed"] == 1
    assert ("gave up after 3 attempts: throttled", 1) in report.failures
    assert report.recipients == 4
    async with db.session() as session:
        assert (await delivery_report(session, notice_id)).acknowledged_names == ["张伟"]
