"""SMS from members' phones (mobile-originated): stored, read by keyword, answered, or put in
the staff inbox.

Storing. Every deliver_sm is one part, stored (store_part) before the SMS centre hears it
arrived, so a crash after that loses nothing and a crash before it makes the centre send it
again. A part's dedupe key is a hash of what identifies its content: sender, recipient, data
coding and the octets (the concatenation header included). The same key within
DUPLICATE_WINDOW is a repeat and counts once: SMS centres send a deliver_sm again when its
answer did not reach them, for up to about a day, with the same octets; a person who types
the very same text twice within a day adds nothing (a keyword does the same twice; the
inbox would show it twice). After the window the old part's key is retired and the new one
counts. A long message's parts wait until all have come (within ASSEMBLY_WINDOW, matched by
sender, reference and count) and then make one message, their texts in order.

Handling (handle): one transaction per message, which the next handler pass takes up again
if the service stopped before it. The sender's number finds the member (members.phone is
E.164); the text is read by keyword (messages/sms_keywords.py) and:

- CHECKIN with a place stores this month's check-in as the bot stores a typed place:
  recognised by the offline region index, kept only as finely as the member's consent lets
  it (province only, or no place at all). A place the index cannot read is not stored (there
  is no summary to confirm by SMS): the answer says how to write it. The work situation is
  the last check-in's (an SMS says only where), or "other" for a first check-in.
- SAME after a prompt: "same as last month", only if this month's check-in prompt or a
  reminder went to the member by SMS (sent); otherwise "1" means nothing and goes to the
  inbox like any text.
- STOP: no SMS notices from now on (the outbox then never picks SMS for the member;
  pending ones are dropped); RESUME undoes it. Both audited, both confirmed by one SMS.
- HELP: one SMS listing the keywords.
- ACTIVITY_YES / ACTIVITY_NO ("参加 12", "不参加 12"): the answer to the invitation to
  activity 12, as the buttons give it (storage/activities.py: a "yes" beyond the capacity
  goes on the waiting list, answers close when it starts or it is cancelled); without a
  number, the newest invitation that went to the member by SMS and has not started. One
  SMS says what was recorded. With no number and no such invitation the text goes to the
  inbox like any other.
- Anything else, and everything from an unknown number, goes to the staff inbox. An
  unknown number gets no automatic answer: a reply would tell whoever owns the number that
  it reached this programme, could start a loop with an automatic sender, and costs an SMS
  per spam; staff who see a real person there answer from the inbox.

Every automatic answer is one SMS (SMS_REPLY, rank URGENT so quiet hours do not hold an
answer to what the member just sent); staff answers (SMS_ANSWER) go before notices but wait
for quiet hours to end.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import activities, audit, payloads
from storage.checkins import (
    CHECKIN_TOPIC,
    MAX_PLACE_LENGTH,
    AlreadyCheckedIn,
    CheckInError,
    Whereabouts,
    latest_checkin,
    member_zone,
    period_of,
    place_label,
    record_checkin,
    same_as_last_month,
)
from storage.models import (
    ActivityAnswer,
    ChannelName,
    Delivery,
    DeliveryStatus,
    InboundSms,
    InboundSmsPart,
    LocationPrecision,
    Member,
    MessageKind,
    Staff,
    StaffRole,
    WorkSituation,
)
from storage.notices import clean_body
from storage.outbox import URGENT_RANK
from storage.phones import InvalidPhone, mask_phone, normalize_phone
from storage.regions import RegionIndex
from storage.scope import scope_condition

# A deliver_sm with the same content within this long is the SMS centre sending it again.
DUPLICATE_WINDOW = timedelta(hours=24)
# The parts of one long message are matched only within this long of each other.
ASSEMBLY_WINDOW = timedelta(hours=24)
# An answer to what a member just sent goes at once, quiet hours or not; staff answers go
# before notices, in the member's waking hours.
REPLY_RANK = URGENT_RANK
ANSWER_RANK = -5
# What staff may answer: three SMS parts at most (UCS-2: 3 × 67).
MAX_ANSWER_LENGTH = 200
# Topics of the deliveries answering an SMS: "sms:<id>:reply", "sms:<id>:answer:<n>".
SMS_TOPIC = "sms"
# Deliveries dropped when the member texts the stop keyword.
STOPPED = "the member texted the stop keyword"
# The month's prompt and reminders ("chk:<period>:…").
_PROMPT_KINDS = (MessageKind.CHECKIN_PROMPT, MessageKind.CHECKIN_REMINDER)


class SmsIntent(enum.StrEnum):
    """What a member's SMS asks for (read by messages/sms_keywords.py)."""

    CHECKIN = "checkin"  # the place follows the keyword
    SAME = "same"  # same as last month
    STOP = "stop"  # no more SMS notices
    RESUME = "resume"  # SMS notices again
    HELP = "help"
    # The answer to an activity's invitation; the activity's number follows (or none).
    ACTIVITY_YES = "activity_yes"
    ACTIVITY_NO = "activity_no"
    OTHER = "other"  # for the staff inbox


class Reading(Protocol):
    """What the keywords made of a text."""

    @property
    def intent(self) -> SmsIntent: ...

    @property
    def argument(self) -> str: ...


class SmsInboxError(ValueError):
    """An inbox action that cannot be done; reason: not_found, empty, too_long, no_number."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def sender_number(address: str) -> str:
    """The sender as stored: E.164 when it reads as a phone number, else as given."""
    try:
        return normalize_phone(address)
    except InvalidPhone:
        return address.strip()[:32]


def fingerprint(
    sender: str, recipient: str, data_coding: int, esm_class: int, octets: bytes
) -> str:
    """The dedupe key of a deliver_sm's content (a hash: no text or number in the key)."""
    digest = hashlib.sha256()
    for part in (sender, recipient, str(data_coding), str(esm_class & 0x40)):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(octets)
    return digest.hexdigest()


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def _serialise(session: AsyncSession, sender: str) -> None:
    """On PostgreSQL, parts of one sender are stored one after another: two parts of a long
    message stored at once would each miss the other. SQLite writes one at a time anyway."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(
            hashlib.sha256(f"sms:{sender}".encode()).digest()[:8], "big", signed=True
        )
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# --- storing ------------------------------------------------------------------------------


async def store_part(
    session: AsyncSession,
    now: datetime,
    *,
    sender: str,
    recipient: str,
    text: str,
    dedupe_key: str,
    reference: int = 0,
    total: int = 1,
    number: int = 1,
) -> int | None:
    """Keep one deliver_sm; the id of the message it completes, else None (a part of a
    message still incomplete, or a repeat of one already kept)."""
    sender = sender_number(sender)
    await _serialise(session, sender)
    values = {
        "dedupe_key": dedupe_key,
        "sender": sender,
        "recipient": recipient[:32],
        "reference": reference,
        "total": max(total, 1),
        "number": number,
        "text": text,
        "received_at": now,
    }
    insert = _insert(session)
    part_id = await session.scalar(
        insert(InboundSmsPart).values(values).on_conflict_do_nothing().returning(InboundSmsPart.id)
    )
    if part_id is None:
        earlier = await session.scalar(
            select(InboundSmsPart).where(InboundSmsPart.dedupe_key == dedupe_key)
        )
        assert earlier is not None
        if earlier.received_at > now - DUPLICATE_WINDOW:
            return None
        # The same text long after: a new message. The old part keeps a key of its own.
        earlier.dedupe_key = f"{dedupe_key}:{earlier.id}"
        await session.flush()
        part_id = await session.scalar(
            insert(InboundSmsPart).values(values).returning(InboundSmsPart.id)
        )
    if total <= 1:
        return await _whole(session, now, sender, text, [part_id])
    waiting = await session.scalars(
        select(InboundSmsPart)
        .where(
            InboundSmsPart.sender == sender,
            InboundSmsPart.reference == reference,
            InboundSmsPart.total == total,
            InboundSmsPart.sms_id.is_(None),
            InboundSmsPart.received_at >= now - ASSEMBLY_WINDOW,
        )
        .order_by(InboundSmsPart.id)
    )
    # The newest of each number: an older one is left over from a reference used before.
    by_number = {part.number: part for part in waiting}
    if any(n not in by_number for n in range(1, total + 1)):
        return None
    parts = [by_number[n] for n in range(1, total + 1)]
    return await _whole(session, now, sender, "".join(p.text for p in parts), [p.id for p in parts])


async def _whole(
    session: AsyncSession, now: datetime, sender: str, text: str, part_ids: Sequence[int]
) -> int:
    message = InboundSms(sender=sender, text=text, received_at=now, in_inbox=False, answers=0)
    session.add(message)
    await session.flush()
    await session.execute(
        update(InboundSmsPart)
        .where(InboundSmsPart.id.in_(list(part_ids)))
        .values(sms_id=message.id)
        .execution_options(synchronize_session=False)
    )
    return message.id


# --- handling -----------------------------------------------------------------------------


async def unhandled(session: AsyncSession, *, limit: int = 100) -> list[int]:
    """Messages not handled yet, oldest first."""
    return list(
        await session.scalars(
            select(InboundSms.id)
            .where(InboundSms.handled_at.is_(None))
            .order_by(InboundSms.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class Handled:
    """What became of one message: its intent, the automatic answer (None: none), and
    whether it went to the staff inbox."""

    sms_id: int
    member_id: int | None
    intent: SmsIntent
    outcome: str | None
    in_inbox: bool


async def handle(
    session: AsyncSession,
    now: datetime,
    sms_id: int,
    *,
    read: Callable[[str], Reading],
    regions: RegionIndex,
    zone: tzinfo,
    store_coordinates: bool = False,
) -> Handled | None:
    """Read one stored message and do what it asks (see the module); None if it was
    handled already (by another pass, or another process)."""
    message = await session.scalar(
        select(InboundSms)
        .where(InboundSms.id == sms_id, InboundSms.handled_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    if message is None:
        return None
    member = await session.scalar(select(Member).where(Member.phone == message.sender))
    reading = read(message.text)
    intent = reading.intent
    outcome: str | None = None
    values: dict[str, Any] = {}
    if member is None:
        intent = SmsIntent.OTHER
    else:
        message.member_id = member.id
        if intent is SmsIntent.SAME and not await _prompted(session, now, member, zone):
            intent = SmsIntent.OTHER  # "1" with no prompt to answer
        if intent is SmsIntent.CHECKIN:
            outcome, values = await _check_in(
                session, now, member, reading.argument, regions, zone, store_coordinates
            )
        elif intent is SmsIntent.SAME:
            outcome, values = await _same(session, now, member, zone)
        elif intent is SmsIntent.STOP:
            outcome = await _stop(session, now, member)
        elif intent is SmsIntent.RESUME:
            outcome = await _resume(session, now, member)
        elif intent is SmsIntent.HELP:
            outcome = "help"
        elif intent in (SmsIntent.ACTIVITY_YES, SmsIntent.ACTIVITY_NO):
            answered = await _answer_activity(session, now, member, intent, reading.argument, zone)
            if answered is None:
                intent = SmsIntent.OTHER  # "参加" with no invitation to answer
            else:
                outcome, values = answered
    message.intent = intent.value
    message.outcome = outcome
    message.handled_at = now
    message.in_inbox = intent is SmsIntent.OTHER
    if outcome is not None:
        await _enqueue(
            session,
            now,
            message,
            payloads.SmsReply(what=outcome, **values),
            key=f"{SMS_TOPIC}:{message.id}:reply",
            rank=REPLY_RANK,
        )
    await session.flush()
    return Handled(message.id, message.member_id, intent, outcome, message.in_inbox)


async def _enqueue(
    session: AsyncSession,
    now: datetime,
    message: InboundSms,
    payload: payloads.Payload,
    *,
    key: str,
    rank: int,
) -> None:
    """One SMS to the number the message came from (whatever channel the member prefers:
    they wrote by SMS)."""
    insert = _insert(session)
    await session.execute(
        insert(Delivery)
        .values(
            dedupe_key=key,
            kind=payload.KIND,
            topic=key,
            payload=payload.to_json(),
            member_id=message.member_id,
            channel=ChannelName.SMS,
            address=message.sender,
            status=DeliveryStatus.PENDING,
            rank=rank,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )


async def _prompted(session: AsyncSession, now: datetime, member: Member, zone: tzinfo) -> bool:
    """Whether this month's prompt or a reminder went to the member by SMS."""
    period = period_of(now, member_zone(member.timezone, zone))
    found = await session.scalar(
        select(Delivery.id)
        .where(
            Delivery.member_id == member.id,
            Delivery.kind.in_(_PROMPT_KINDS),
            Delivery.channel == ChannelName.SMS,
            Delivery.topic.startswith(f"{CHECKIN_TOPIC}:{period}:", autoescape=True),
            Delivery.sent_at.is_not(None),
        )
        .limit(1)
    )
    return found is not None


async def _check_in(
    session: AsyncSession,
    now: datetime,
    member: Member,
    typed: str,
    regions: RegionIndex,
    zone: tzinfo,
    store_coordinates: bool,
) -> tuple[str, dict[str, Any]]:
    """ "报到 深圳南山": this month's check-in with the typed place, as the bot stores one."""
    precision = member.location_precision
    place: Whereabouts | None = None
    if precision is not LocationPrecision.NONE:
        if not typed:
            return "checkin_ask_place", {}
        if len(typed) > MAX_PLACE_LENGTH:
            return "checkin_unreadable", {"place": typed[:20] + "…"}
        region = regions.resolve_text(typed)
        if region is None:
            # No summary to confirm by SMS: an unread place is not kept as typed.
            return "checkin_unreadable", {"place": typed}
        place = Whereabouts.typed(typed, region)
        if precision is LocationPrecision.PROVINCE:
            place = place.at_most_province(regions)
            if place is None:
                return "checkin_unreadable", {"place": typed}
    previous = await latest_checkin(session, member.id)
    try:
        checkin = await record_checkin(
            session,
            now,
            member_id=member.id,
            zone=zone,
            location=place,
            work_situation=previous.work_situation if previous else WorkSituation.OTHER,
            store_coordinates=store_coordinates,
        )
    except CheckInError:
        return "checkin_unreadable", {"place": typed}
    report = checkin.location
    label = (
        place_label(report.province, report.city, report.district, report.text)
        if report is not None
        else None
    )
    await audit.record(
        session,
        now,
        actor=f"member:{member.id}",
        action="checkin.sms",
        subject=f"checkin:{checkin.id}",
        period=checkin.period,
    )
    return "checkin_saved", {"period": checkin.period, "place": label}


async def _same(
    session: AsyncSession, now: datetime, member: Member, zone: tzinfo
) -> tuple[str, dict[str, Any]]:
    try:
        checkin = await same_as_last_month(session, now, member_id=member.id, zone=zone)
    except AlreadyCheckedIn as already:
        return "same_already", {"period": already.period}
    except CheckInError:
        return "same_nothing", {}
    report = checkin.location
    label = (
        place_label(report.province, report.city, report.district, report.text)
        if report is not None
        else None
    )
    await audit.record(
        session,
        now,
        actor=f"member:{member.id}",
        action="checkin.sms.same",
        subject=f"checkin:{checkin.id}",
        period=checkin.period,
    )
    return "same_saved", {"period": checkin.period, "place": label}


_ACTIVITY_OUTCOMES = {
    activities.Answered.YES: "activity_yes",
    activities.Answered.NO: "activity_no",
    activities.Answered.SAME: "activity_same",
    activities.Answered.WAITING: "activity_waiting",
    activities.Answered.CLOSED: "activity_closed",
    activities.Answered.CANCELLED: "activity_cancelled",
    activities.Answered.NOT_INVITED: "activity_unknown",
}


async def _answer_activity(
    session: AsyncSession,
    now: datetime,
    member: Member,
    intent: SmsIntent,
    number: str,
    zone: tzinfo,
) -> tuple[str, dict[str, Any]] | None:
    """ "参加 12" / "不参加": the member's answer to an invitation (see the module)."""
    if number:
        activity_id = int(number)
    else:
        latest = await activities.latest_sms_invitation(session, now, member.id)
        if latest is None:
            return None
        activity_id = latest
    choice = ActivityAnswer.YES if intent is SmsIntent.ACTIVITY_YES else ActivityAnswer.NO
    answered = await activities.answer(
        session, now, activity_id=activity_id, member_id=member.id, choice=choice, zone=zone
    )
    values: dict[str, Any] = {"activity": activity_id}
    if answered.activity is not None:
        values["title"] = answered.activity.title
        values["when"] = answered.activity.starts_at.astimezone(zone).strftime("%m-%d %H:%M")
        values["answer"] = answered.answer.value if answered.answer is not None else None
        values["waiting"] = answered.waiting
    return _ACTIVITY_OUTCOMES[answered.result], values


async def _stop(session: AsyncSession, now: datetime, member: Member) -> str:
    if member.sms_stopped_at is None:
        member.sms_stopped_at = now
        member.updated_at = now
        await audit.record(
            session,
            now,
            actor=f"member:{member.id}",
            action="sms.stop",
            subject=f"member:{member.id}",
        )
    # What waits to go by SMS goes no more (the confirmation is written after this).
    await session.execute(
        update(Delivery)
        .where(
            Delivery.member_id == member.id,
            Delivery.channel == ChannelName.SMS,
            Delivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.SUPPRESSED, last_error=STOPPED, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return "stopped"


async def _resume(session: AsyncSession, now: datetime, member: Member) -> str:
    if member.sms_stopped_at is not None:
        member.sms_stopped_at = None
        member.updated_at = now
        await audit.record(
            session,
            now,
            actor=f"member:{member.id}",
            action="sms.resume",
            subject=f"member:{member.id}",
        )
    return "resumed"


# --- the staff inbox ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One SMS in the inbox as staff see it: who sent it (a member, or only a number)."""

    id: int
    received_at: datetime
    text: str
    sender: str
    member_id: int | None
    member_name: str | None
    answered_at: datetime | None
    answered_by: str | None
    answers: int
    done_at: datetime | None
    done_by: str | None

    @property
    def sender_masked(self) -> str:
        return mask_phone(self.sender) if self.sender.startswith("+") else self.sender

    @property
    def open(self) -> bool:
        return self.done_at is None


def _visible(staff_id: int | None) -> ColumnElement[bool]:
    """A where-clause (Member outer-joined): the inbox staff_id sees. Liaisons: the SMS of
    members in their scope; administrators also those of unknown numbers; None: all."""
    if staff_id is None:
        return true()
    admin = exists().where(Staff.id == staff_id, Staff.role == StaffRole.ADMIN).correlate(None)
    return or_(
        and_(InboundSms.member_id.is_not(None), scope_condition(staff_id)),
        and_(InboundSms.member_id.is_(None), admin),
    )


async def _items(
    session: AsyncSession, condition: ColumnElement[bool], *, limit: int | None
) -> list[InboxItem]:
    query = (
        select(InboundSms, Member.name)
        .outerjoin(Member, Member.id == InboundSms.member_id)
        .where(InboundSms.in_inbox.is_(True), condition)
        .order_by(InboundSms.received_at.desc(), InboundSms.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        InboxItem(
            id=row.id,
            received_at=row.received_at,
            text=row.text,
            sender=row.sender,
            member_id=row.member_id,
            member_name=name,
            answered_at=row.answered_at,
            answered_by=row.answered_by,
            answers=row.answers,
            done_at=row.done_at,
            done_by=row.done_by,
        )
        for row, name in await session.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class Inbox:
    """What a listing shows, and how many are still open."""

    items: list[InboxItem]
    open: int


async def list_inbox(
    session: AsyncSession,
    now: datetime,
    *,
    staff_id: int | None,
    actor: str,
    open_only: bool = True,
    limit: int | None = 20,
) -> Inbox:
    """The inbox staff_id sees (everything for None), newest first; audited (it shows what
    members wrote and their numbers)."""
    condition = _visible(staff_id)
    if open_only:
        condition = and_(condition, InboundSms.done_at.is_(None))
    items = await _items(session, condition, limit=limit)
    still_open = int(
        await session.scalar(
            select(func.count())
            .select_from(InboundSms)
            .outerjoin(Member, Member.id == InboundSms.member_id)
            .where(InboundSms.in_inbox.is_(True), InboundSms.done_at.is_(None), _visible(staff_id))
        )
        or 0
    )
    await audit.record(
        session, now, actor=actor, action="sms.inbox.list", open_only=open_only, count=len(items)
    )
    return Inbox(items=items, open=still_open)


async def get_item(session: AsyncSession, sms_id: int, *, staff_id: int | None) -> InboxItem | None:
    """One SMS of the inbox staff_id sees; None otherwise (out of scope reads as not there)."""
    found = await _items(session, and_(InboundSms.id == sms_id, _visible(staff_id)), limit=1)
    return found[0] if found else None


async def view_item(
    session: AsyncSession, now: datetime, sms_id: int, *, staff_id: int | None, actor: str
) -> InboxItem | None:
    """get_item for actor to look at: audited when found, and when refused."""
    found = await get_item(session, sms_id, staff_id=staff_id)
    if found is not None:
        await audit.record(
            session, now, actor=actor, action="sms.inbox.view", subject=f"sms:{sms_id}"
        )
    else:
        await audit.record_refused(
            session,
            now,
            actor=actor,
            action="sms.inbox.view.refused",
            kind="sms",
            model=InboundSms,
            record_id=sms_id,
        )
    return found


def check_answer(text: str) -> str:
    """An answer as it will be sent: trimmed, 1 to MAX_ANSWER_LENGTH characters."""
    body = clean_body(text)
    if not body:
        raise SmsInboxError("the answer is empty", "empty")
    if len(body) > MAX_ANSWER_LENGTH:
        raise SmsInboxError(
            f"the answer has {len(body)} characters; at most {MAX_ANSWER_LENGTH} fit in an SMS",
            "too_long",
        )
    return body


async def _in_scope(session: AsyncSession, sms_id: int, staff_id: int | None) -> InboundSms:
    row = await session.scalar(
        select(InboundSms)
        .outerjoin(Member, Member.id == InboundSms.member_id)
        .where(InboundSms.id == sms_id, InboundSms.in_inbox.is_(True), _visible(staff_id))
    )
    if row is None:
        raise SmsInboxError(f"no SMS {sms_id} in the inbox", "not_found")
    return row


async def answer(
    session: AsyncSession,
    now: datetime,
    sms_id: int,
    *,
    text: str,
    signature: str,
    actor: str,
    staff_id: int | None,
) -> InboxItem:
    """Answer an SMS of the inbox by SMS, to the number it came from; it is then done.
    Audited; signature (the staff member's name, or the organisation) ends the SMS."""
    body = check_answer(text)
    row = await _in_scope(session, sms_id, staff_id)
    if not row.sender.startswith("+"):
        # An alphanumeric sender (a service, not a phone): there is no number to answer.
        raise SmsInboxError(f"SMS {sms_id} came from no phone number", "no_number")
    row.answers += 1
    row.answered_at = now
    row.answered_by = actor
    if row.done_at is None:
        row.done_at = now
        row.done_by = actor
    await _enqueue(
        session,
        now,
        row,
        payloads.SmsAnswer(text=body, signature=signature),
        key=f"{SMS_TOPIC}:{row.id}:answer:{row.answers}",
        rank=ANSWER_RANK,
    )
    await audit.record(
        session, now, actor=actor, action="sms.answer", subject=f"sms:{row.id}", length=len(body)
    )
    await session.flush()
    found = await get_item(session, row.id, staff_id=None)
    assert found is not None
    return found


async def mark_done(
    session: AsyncSession, now: datetime, sms_id: int, *, actor: str, staff_id: int | None
) -> InboxItem:
    """Nothing more to do about an SMS of the inbox (it stays, listed with --all); audited."""
    row = await _in_scope(session, sms_id, staff_id)
    if row.done_at is None:
        row.done_at = now
        row.done_by = actor
        await audit.record(session, now, actor=actor, action="sms.done", subject=f"sms:{row.id}")
    await session.flush()
    found = await get_item(session, row.id, staff_id=None)
    assert found is not None
    return found


__all__ = [
    "ANSWER_RANK",
    "ASSEMBLY_WINDOW",
    "DUPLICATE_WINDOW",
    "MAX_ANSWER_LENGTH",
    "REPLY_RANK",
    "Handled",
    "Inbox",
    "InboxItem",
    "Reading",
    "SmsInboxError",
    "SmsIntent",
    "answer",
    "check_answer",
    "fingerprint",
    "get_item",
    "handle",
    "list_inbox",
    "mark_done",
    "sender_number",
    "store_part",
    "unhandled",
    "view_item",
]
