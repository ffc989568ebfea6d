"""The system of record: typed SQLAlchemy models for every table."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The largest id an INTEGER primary key holds (PostgreSQL refuses a larger number outright):
# ids typed or carried by a button are checked against it.
MAX_ID = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, timezone-aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        # SQLite hands back naive values: they were stored as UTC.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


def _enum(cls: type[enum.Enum]) -> Enum:
    # Plain strings with a CHECK constraint: readable in SQL, no native enum to migrate.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        name=cls.__name__.lower(),
    )


class MemberStatus(enum.StrEnum):
    INFLOW = "inflow"
    OUTFLOW = "outflow"
    LOCAL = "local"


class GroupKind(enum.StrEnum):
    WORKPLACE = "workplace"
    TRADE = "trade"
    DESTINATION = "destination"
    OTHER = "other"


class StaffRole(enum.StrEnum):
    ADMIN = "admin"
    LIAISON = "liaison"


class Consent(enum.StrEnum):
    PENDING = "pending"
    GIVEN = "given"
    DECLINED = "declined"


class LocationPrecision(enum.StrEnum):
    """The finest place a member who withdrew consent to location lets check-ins keep."""

    PROVINCE = "province"
    NONE = "none"


class CodeScheme(enum.StrEnum):
    """How an invite's code_hash was computed from its code (storage/invites.py)."""

    # Before issue 12: a plain SHA-256, which a copy of the database is enough to reverse.
    SHA256 = "sha256"
    HMAC_SHA256 = "hmac-sha256"


class WorkSituation(enum.StrEnum):
    STABLE = "stable"
    CHANGED_JOB = "changed_job"
    LOOKING = "looking"
    STUDYING = "studying"
    OTHER = "other"


class ChannelName(enum.StrEnum):
    """Where a delivery goes: a member's Telegram chat, QQ private chat or phone, or a
    group's Telegram group chat or QQ group."""

    TELEGRAM = "telegram"
    SMS = "sms"
    GROUP_CHAT = "group_chat"
    QQ = "qq"
    QQ_GROUP = "qq_group"


class Platform(enum.StrEnum):
    """The chat service an account lives on. The same number on two platforms is two
    different people: every account is (platform, user id)."""

    TELEGRAM = "telegram"
    QQ = "qq"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class NoticeStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"  # deliveries enqueued; their own states say how far each got
    CANCELLED = "cancelled"


class MessageKind(enum.StrEnum):
    """What a delivery says: a notice, or one of the scheduler's messages."""

    NOTICE = "notice"
    CHECKIN_PROMPT = "checkin_prompt"
    CHECKIN_REMINDER = "checkin_reminder"
    ESCALATION = "escalation"
    LOST_CONTACT = "lost_contact"
    STUDY = "study"
    # Service requests: a new one to the liaisons, a step to the member, the deadline
    # reminder to the assignee, the overdue alert to the admins.
    REQUEST_NEW = "request_new"
    REQUEST_UPDATE = "request_update"
    REQUEST_DUE = "request_due"
    REQUEST_LATE = "request_late"
    # The member said "not solved" or rated 1–2: to the assignee and the liaisons.
    REQUEST_FEEDBACK = "request_feedback"
    # Activity certificates: a step to the member (and staff), the yearly review reminder.
    CERTIFICATE = "certificate"
    CERT_REVIEW = "cert_review"
    # Ideas and opinions: a new one to the liaisons, the organisation's answer to the member.
    IDEA_NEW = "idea_new"
    IDEA_REPLY = "idea_reply"
    # A member's correction or deletion request (PIPL Arts. 46–47): a new one to the staff
    # who decide it, the decision to the member.
    RIGHTS_NEW = "rights_new"
    RIGHTS_REPLY = "rights_reply"
    # The QQ account met the host's risk control: QQ is paused; to the admins, once.
    QQ_SUSPENDED = "qq_suspended"
    # A member's SMS read by keyword: the automatic answer, one SMS to the number it came from;
    # and what staff answer, from the inbox, to an SMS nobody's keyword took.
    SMS_REPLY = "sms_reply"
    SMS_ANSWER = "sms_answer"
    # Activities: the invitation with its "I'll come / I can't" buttons, and the reminder
    # the day before to those who said they would come.
    ACTIVITY_INVITE = "activity_invite"
    ACTIVITY_REMIND = "activity_remind"
    # The yearly commendation (五星级党员, 先进个人): to each member an administrator chose.
    COMMENDATION = "commendation"
    # An activity cancelled (to everyone invited who had not said no), changed (time, place
    # or capacity: to those coming or not yet answered), and a place from the waiting list.
    ACTIVITY_CANCEL = "activity_cancel"
    ACTIVITY_CHANGE = "activity_change"
    ACTIVITY_PLACE = "activity_place"


class RequestStatus(enum.StrEnum):
    """received → in progress → resolved / cannot help / referred."""

    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CANNOT_HELP = "cannot_help"
    REFERRED = "referred"


class RequestEventKind(enum.StrEnum):
    CREATED = "created"
    TAKEN = "taken"
    ASSIGNED = "assigned"
    NOTE = "note"
    STATUS = "status"
    FEEDBACK = "feedback"
    REMINDED = "reminded"
    ESCALATED = "escalated"


class PlaceKind(enum.StrEnum):
    MEMBERS_HOME = "members_home"
    ACTIVITY_CENTRE = "activity_centre"
    SERVICE_POINT = "service_point"
    OTHER = "other"


class CertificateStatus(enum.StrEnum):
    """applied → checked → sent (to the origin) → verified → issued; or rejected / withdrawn."""

    APPLIED = "applied"
    CHECKED = "checked"
    SENT = "sent"
    VERIFIED = "verified"
    ISSUED = "issued"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class IdeaKind(enum.StrEnum):
    IDEA = "idea"  # 金点子
    OPINION = "opinion"


class IdeaStatus(enum.StrEnum):
    NEW = "new"
    REPLIED = "replied"
    ADOPTED = "adopted"


class DataRequestKind(enum.StrEnum):
    """What a member asked of their data: a field corrected, or everything deleted."""

    CORRECT = "correct"
    DELETE = "delete"


class DataRequestStatus(enum.StrEnum):
    """pending → approved (carried out) / rejected (with a reason); a correction proposed
    again for the same field withdraws the pending one."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ActivityKind(enum.StrEnum):
    """What staff invite members to: the yearly forum, a class of the travelling party school
    taken to a company (送课到企), volunteer service, a meeting, something else."""

    FORUM = "forum"
    CLASS = "class"
    SERVICE = "service"
    MEETING = "meeting"
    OTHER = "other"


class ActivityAnswer(enum.StrEnum):
    """A member's answer to an invitation (None on the row: not answered)."""

    YES = "yes"
    NO = "no"


class AttendanceSource(enum.StrEnum):
    """How an attendance was recorded: the code shown at the venue, a location shared within
    the place's radius, or staff marking it."""

    CODE = "code"
    LOCATION = "location"
    STAFF = "staff"


class LocationSource(enum.StrEnum):
    TYPED = "typed"
    SHARED = "shared"
    ROSTER = "roster"


class PartnerSide(enum.StrEnum):
    """Which end of the members' move a partner organisation is: where inflow members came
    from (origin), or where outflow members now work (destination)."""

    ORIGIN = "origin"
    DESTINATION = "destination"


class LetterMeans(enum.StrEnum):
    """How a half-yearly letter went to the partner organisation."""

    POST = "post"
    EMAIL = "email"
    HAND = "hand"
    FAX = "fax"
    OTHER = "other"


member_groups = Table(
    "member_groups",
    Base.metadata,
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    # The primary key serves member → groups; this serves group → members (scope, notices).
    Index("ix_member_groups_group_id", "group_id"),
)

staff_groups = Table(
    "staff_groups",
    Base.metadata,
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    # group → liaisons: the day-10 lists and lost-contact alerts start from the group.
    Index("ix_staff_groups_group_id", "group_id"),
)

staff_units = Table(
    "staff_units",
    Base.metadata,
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
)


class Unit(Base):
    """A node of the organisation tree (district → street → community / enterprise)."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]

    parent: Mapped[Unit | None] = relationship(remote_side=[id], lazy="raise")


class Group(Base):
    """A party group: by workplace, trade or shared destination; every group has liaisons."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[GroupKind] = mapped_column(_enum(GroupKind))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    # The group's own Telegram group chat (the QQ-group habit): notices are posted there too.
    chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True, index=True)
    chat_title: Mapped[str | None] = mapped_column(String(200))
    # The group's QQ group (the programme's own habit): notices are posted there too.
    qq_group_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime]

    unit: Mapped[Unit | None] = relationship(lazy="raise")
    liaisons: Mapped[list[Staff]] = relationship(
        secondary=staff_groups, back_populates="groups", lazy="raise"
    )


class Member(Base):
    """A party member whose whereabouts the programme keeps track of."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[MemberStatus] = mapped_column(_enum(MemberStatus))
    home_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL"), index=True
    )
    origin: Mapped[str | None] = mapped_column(String(200))
    destination: Mapped[str | None] = mapped_column(String(200))
    workplace: Mapped[str | None] = mapped_column(String(200))
    trade: Mapped[str | None] = mapped_column(String(200))
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # The member's QQ account, bound by sending the invite code to the bot's QQ account.
    qq_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    consent: Mapped[Consent] = mapped_column(_enum(Consent), default=Consent.PENDING)
    # Ordered, comma-separated channel names ("qq,sms"); None: Telegram when bound, then
    # QQ when bound, otherwise SMS.
    channels: Mapped[str | None] = mapped_column(String(50))
    # Set when Telegram answered 403 (the member blocked the bot); cleared when they write again.
    telegram_unreachable_at: Mapped[datetime | None]
    # Flagged by the monthly cycle after months of silence; monthly prompts stop only once
    # an admin confirms. A check-in clears both.
    lost_contact_at: Mapped[datetime | None]
    lost_contact_confirmed_at: Mapped[datetime | None]
    lost_contact_confirmed_by: Mapped[str | None] = mapped_column(String(100))
    consent_at: Mapped[datetime | None]
    # Chosen when consent to location is withdrawn (PIPL Arts. 28–29): no place finer than
    # the province, or none, in check-ins from then on. None: the precision consent allows.
    location_precision: Mapped[LocationPrecision | None] = mapped_column(_enum(LocationPrecision))
    # The member texted the stop keyword ("退订"): no SMS notices until they text the resume
    # keyword; answers to what they text still go by SMS.
    sms_stopped_at: Mapped[datetime | None]
    registered_at: Mapped[datetime]
    bound_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    home_unit: Mapped[Unit | None] = relationship(lazy="raise")
    groups: Mapped[list[Group]] = relationship(secondary=member_groups, lazy="raise")


class Staff(Base):
    """An administrator or a liaison, scoped to units and groups."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    # Set by an administrator (`liaison staff qq`): the staff member's QQ account, so that
    # they can link a QQ group from inside it and use the bot in QQ private chat.
    qq_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole))
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime]

    groups: Mapped[list[Group]] = relationship(
        secondary=staff_groups, back_populates="liaisons", lazy="raise"
    )
    units: Mapped[list[Unit]] = relationship(secondary=staff_units, lazy="raise")


class ConsoleLink(Base):
    """A one-time login link to the web console, sent by /console; only its hash is kept."""

    __tablename__ = "console_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A staff member logged in to the web console; the cookie holds a token, hashed here."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Every form carries it; a state-changing request without it is refused.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class Invite(Base):
    """A one-time code that binds a Telegram account to a member; only its hash is kept."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # New invites are HMAC-SHA256; SHA-256 ones made before work until used or expired.
    code_scheme: Mapped[CodeScheme] = mapped_column(_enum(CodeScheme))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    used_by_qq_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))


class InviteGuard(Base):
    """Wrong-code counter per account, so codes cannot be guessed."""

    __tablename__ = "invite_guards"

    platform: Mapped[Platform] = mapped_column(
        _enum(Platform), primary_key=True, server_default=Platform.TELEGRAM.value
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]


class LocationReport(Base):
    """One entry of a member's location history."""

    __tablename__ = "location_reports"
    __table_args__ = (Index("ix_location_reports_member_reported", "member_id", "reported_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    reported_at: Mapped[datetime]
    source: Mapped[LocationSource] = mapped_column(_enum(LocationSource))
    text: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(50))
    city: Mapped[str | None] = mapped_column(String(50))
    district: Mapped[str | None] = mapped_column(String(50))
    # Only with consent and LIAISON_STORE_COORDINATES; city/district is the default.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class CheckIn(Base):
    """A monthly check-in: where the member is, how work is, what they need."""

    __tablename__ = "checkins"
    __table_args__ = (
        Index("ix_checkins_member_period", "member_id", "period"),
        # A member's latest check-in (silent since when: lost contact, /overdue) by index.
        Index("ix_checkins_member_checked_in_at", "member_id", "checked_in_at"),
        # Who checked in in a month, read from the index alone (the dashboard's 12 months).
        Index("ix_checkins_period_member", "period", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None once the member's data was erased (storage/erasure.py): the row still counts in
    # the statistics of its month, without anyone's identity.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    # "YYYY-MM" in the member's time zone; several per period are kept, the latest counts.
    period: Mapped[str] = mapped_column(String(7))
    checked_in_at: Mapped[datetime]
    # Indexed: deleting or coarsening a place (retention, erasure, consent withdrawn) finds
    # the check-ins naming it through this, not by reading every check-in.
    location_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("location_reports.id", ondelete="SET NULL"), index=True
    )
    work_situation: Mapped[WorkSituation] = mapped_column(_enum(WorkSituation))
    work_note: Mapped[str | None] = mapped_column(Text)
    needs_help: Mapped[bool] = mapped_column(Boolean, default=False)
    # Kept for the service-request feature that follows.
    needs_text: Mapped[str | None] = mapped_column(Text)

    location: Mapped[LocationReport | None] = relationship(lazy="raise")


class AuditEvent(Base):
    """Who did what to whom, for every export and staff action."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The audit log page's filters by who and by whom, newest first, page by page.
        Index("ix_audit_events_actor_id", "actor", "id"),
        Index("ix_audit_events_subject_id", "subject", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON)


notice_groups = Table(
    "notice_groups",
    Base.metadata,
    Column("notice_id", ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class Notice(Base):
    """Something staff tell a set of members: one delivery per recipient and channel."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    author: Mapped[str] = mapped_column(String(100))  # audit actor: staff:<id> or cli:<user>
    author_name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # "All my members": the author's whole scope rather than named groups.
    everyone: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[NoticeStatus] = mapped_column(_enum(NoticeStatus))
    send_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    enqueued_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # Staff id whose scope "everyone" means; None for the CLI (the whole registry).
    scope_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    # The web console's form key: the same form sent twice (a double click, a resubmitted
    # page) finds the notice it made the first time instead of making a second one.
    request_key: Mapped[str | None] = mapped_column(String(100), index=True, unique=True)

    groups: Mapped[list[Group]] = relationship(secondary=notice_groups, lazy="raise")


activity_groups = Table(
    "activity_groups",
    Base.metadata,
    Column("activity_id", ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class Activity(Base):
    """A forum, a class taken to a company, volunteer service, a meeting: members of the
    invited groups are asked whether they will come, reminded the day before, and their
    attendance is recorded."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ActivityKind] = mapped_column(_enum(ActivityKind))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    # A place of /places (None: a typed address, or the place was removed since); its name,
    # address and position are copied here, so an import that changes or removes the place
    # changes no activity already announced.
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id", ondelete="SET NULL"))
    place_name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    # Where a shared location counts as being there (None: a typed address, code only).
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[int] = mapped_column(Integer)
    # None: as many as come.
    capacity: Mapped[int | None] = mapped_column(Integer)
    # The check-in code shown at the venue.
    code: Mapped[str] = mapped_column(String(8))
    # audit actor (staff:<id> or cli:<user>) and the name members read.
    created_by: Mapped[str] = mapped_column(String(100))
    organiser: Mapped[str] = mapped_column(String(64))
    # The staff member whose activity it is (None: made on the command line).
    scope_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # The day before: the reminder to those who said yes; reminded_at once it is enqueued.
    remind_at: Mapped[datetime] = mapped_column(index=True)
    reminded_at: Mapped[datetime | None]
    # Each change of time, place or capacity counts one: the change's messages (and a
    # reminder sent again for a new day) are told apart by it.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Cancelled: when, by whom (audit actor), and the reason members read.
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))

    groups: Mapped[list[Group]] = relationship(secondary=activity_groups, lazy="raise")


class ActivityInvitation(Base):
    """One member's invitation to an activity: their answer and their attendance.

    Kept without the member once they are erased (storage/erasure.py): attendance still
    counts in the activity's figures.
    """

    __tablename__ = "activity_invitations"
    __table_args__ = (
        UniqueConstraint("activity_id", "member_id"),
        # A member's own list (/activities): their invitations by member.
        Index("ix_activity_invitations_member_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    # None: not invited (staff marked a member who came without an invitation).
    invited_at: Mapped[datetime | None]
    answer: Mapped[ActivityAnswer | None] = mapped_column(_enum(ActivityAnswer))
    answered_at: Mapped[datetime | None]
    # On the waiting list since (a "yes" when the places were taken; the answer is then
    # None): the first in line gets the next place that frees up.
    waiting_since: Mapped[datetime | None]
    attended_at: Mapped[datetime | None]
    attendance_source: Mapped[AttendanceSource | None] = mapped_column(_enum(AttendanceSource))
    # The audit actor who recorded it (the member themself, or staff).
    attendance_by: Mapped[str | None] = mapped_column(String(100))


class Delivery(Base):
    """The outbox: one message to one recipient on one channel, and how far it got."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # The dispatcher's claim walks this in order and stops at its limit: no sort.
        Index("ix_deliveries_due", "status", "rank", "next_attempt_at", "id"),
        Index("ix_deliveries_notice_status", "notice_id", "status"),
        Index("ix_deliveries_topic_member", "topic", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "<topic>:m<member>:<channel>" (or :s<staff>, :g<group>): enqueueing twice sends once.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[MessageKind] = mapped_column(
        _enum(MessageKind), default=MessageKind.NOTICE, server_default=MessageKind.NOTICE.value
    )
    # What the message is about, shared by its recipients ("chk:2026-11:prompt"): the
    # scheduler asks "was this step taken for this member" by member_id and topic.
    topic: Mapped[str | None] = mapped_column(String(60))
    # The values its kind is rendered from, typed by storage/payloads.py (a notice: none,
    # it is read from its row).
    payload: Mapped[dict[str, object] | None] = mapped_column(JSON)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    # A message to a liaison or admin rather than a member (escalations, lost contact).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    # None only for a suppressed row: a member with no way to reach them.
    channel: Mapped[ChannelName | None] = mapped_column(_enum(ChannelName))
    address: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus))
    # Lower goes first: urgent notices (-10) before routine ones (0).
    rank: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    # How many parts of a message split for Telegram's length limit went out, written after
    # each part: a retry or a restarted service sends only the rest.
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(500))
    external_id: Mapped[str | None] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class NoticeReceipt(Base):
    """A member pressed "received" under a notice."""

    __tablename__ = "notice_receipts"

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    acknowledged_at: Mapped[datetime]


class CheckInCycle(Base):
    """A group's own monthly cycle; groups without a row follow the configured defaults.

    A member in several groups follows the cycle of their lowest-numbered group that has
    one. Days are days of the month; times are "HH:MM" in each member's time zone.
    """

    __tablename__ = "checkin_cycles"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    prompt_day: Mapped[int] = mapped_column(Integer)
    prompt_time: Mapped[str] = mapped_column(String(5))
    # Days after the prompt, comma-separated ("3,7").
    reminder_days: Mapped[str] = mapped_column(String(50))
    escalation_day: Mapped[int] = mapped_column(Integer)
    lost_contact_months: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


class StudyMaterial(Base):
    """A piece of the mobile party school's library."""

    __tablename__ = "study_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    # A Telegram file id (a document uploaded with /material) and the name it had.
    document_file_id: Mapped[str | None] = mapped_column(String(200))
    document_name: Mapped[str | None] = mapped_column(String(200))
    # Comma-separated, lower case.
    tags: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    archived_at: Mapped[datetime | None]


class StudySchedule(Base):
    """When a group gets material: weekly (the next unsent one) or one material on a date."""

    __tablename__ = "study_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    # Weekly: 0 = Monday … 6 = Sunday; None for a one-off.
    weekday: Mapped[int | None] = mapped_column(Integer)
    # One-off: the date; None for weekly.
    on_date: Mapped[date | None]
    at_time: Mapped[str] = mapped_column(String(5))
    # One-off: this material; weekly: None (the oldest not yet pushed to the group).
    material_id: Mapped[int | None] = mapped_column(
        ForeignKey("study_materials.id", ondelete="CASCADE")
    )
    # Weekly pushes only of materials with this tag.
    tag: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class StudyPush(Base):
    """One material a schedule sent to its group at one occurrence (at most one each)."""

    __tablename__ = "study_pushes"
    __table_args__ = (UniqueConstraint("schedule_id", "occurrence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("study_schedules.id", ondelete="SET NULL")
    )
    # The scheduled instant's local date and time, "2026-11-30T19:00".
    occurrence: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    material_id: Mapped[int] = mapped_column(
        ForeignKey("study_materials.id", ondelete="CASCADE"), index=True
    )
    pushed_at: Mapped[datetime]


class StudyReceipt(Base):
    """A member pressed "studied" under a material."""

    __tablename__ = "study_receipts"

    material_id: Mapped[int] = mapped_column(
        ForeignKey("study_materials.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    studied_at: Mapped[datetime]


class ServiceCategory(Base):
    """A kind of need a member picks first in /request (lease renewal, residency, jobs …)."""

    __tablename__ = "service_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # An inactive category is no longer offered; requests made under it keep it.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]


class ServiceDepartment(Base):
    """One of the departments behind the service measures (commerce, police, labour …)."""

    __tablename__ = "service_departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    address_zh: Mapped[str | None] = mapped_column(String(300))
    address_en: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(50))
    hours_zh: Mapped[str | None] = mapped_column(String(200))
    hours_en: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # An inactive department is left out of the guide; its measures refer to it still.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]


class ServiceMeasure(Base):
    """A service measure of the guide: what it is, who handles it, what to bring, how soon."""

    __tablename__ = "service_measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("service_departments.id", ondelete="RESTRICT"), index=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("service_categories.id", ondelete="RESTRICT"), index=True
    )
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    summary_zh: Mapped[str | None] = mapped_column(Text)
    summary_en: Mapped[str | None] = mapped_column(Text)
    # Who handles it (an office of the department, or the liaison).
    handler_zh: Mapped[str | None] = mapped_column(String(200))
    handler_en: Mapped[str | None] = mapped_column(String(200))
    # What to bring, one item per line.
    documents_zh: Mapped[str | None] = mapped_column(Text)
    documents_en: Mapped[str | None] = mapped_column(Text)
    # Where to go, when it differs from the department's address.
    where_zh: Mapped[str | None] = mapped_column(String(300))
    where_en: Mapped[str | None] = mapped_column(String(300))
    contact: Mapped[str | None] = mapped_column(String(100))
    # The target time to answer a request under this measure, in days.
    target_days: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]

    department: Mapped[ServiceDepartment] = relationship(lazy="raise")
    category: Mapped[ServiceCategory] = relationship(lazy="raise")


class ServiceRequest(Base):
    """A member asked for help; liaisons take it through to an answer."""

    __tablename__ = "service_requests"
    __table_args__ = (
        # /requests: the open ones, oldest first; the deadline job: open ones by due time.
        Index("ix_service_requests_status_created", "status", "created_at"),
        Index("ix_service_requests_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("service_categories.id", ondelete="RESTRICT")
    )
    measure_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_measures.id", ondelete="SET NULL")
    )
    description: Mapped[str] = mapped_column(Text)
    # A photo or document the member attached: its Telegram file id, kind and name.
    attachment_file_id: Mapped[str | None] = mapped_column(String(200))
    attachment_kind: Mapped[str | None] = mapped_column(String(10))
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    # Where it came from: "bot", "checkin" (a need given during a check-in) or "cli".
    source: Mapped[str] = mapped_column(String(10), default="bot")
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkins.id", ondelete="SET NULL"))
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus))
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    # Where it was referred to, when the status is "referred".
    referred_to: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # created_at + the measure's (or the default) target time.
    due_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # What staff answered the member when closing it (the member reads it).
    answer: Mapped[str | None] = mapped_column(Text)
    # The member's answer after closing: solved or not, 1–5, and what went wrong.
    solved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    feedback_at: Mapped[datetime | None]
    feedback_comment: Mapped[str | None] = mapped_column(Text)

    category: Mapped[ServiceCategory] = relationship(lazy="raise")
    measure: Mapped[ServiceMeasure | None] = relationship(lazy="raise")
    assignee: Mapped[Staff | None] = relationship(lazy="raise")


class ServiceRequestEvent(Base):
    """One step of a request's history: who did what, when."""

    __tablename__ = "service_request_events"
    __table_args__ = (Index("ix_service_request_events_request_at", "request_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[RequestEventKind] = mapped_column(_enum(RequestEventKind))
    # staff:<id>, member:<id>, cli:<user> or system; the name as it was at the time.
    actor: Mapped[str] = mapped_column(String(100))
    actor_name: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[RequestStatus | None] = mapped_column(_enum(RequestStatus))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    # Notes between staff stay internal; status changes are told to the member.
    shown_to_member: Mapped[bool] = mapped_column(Boolean, default=True)


class Place(Base):
    """A members' home, an activity centre or a service point, found with /places."""

    __tablename__ = "places"
    __table_args__ = (
        UniqueConstraint("name", "district"),
        # The nearest-place search narrows to a latitude band (and a longitude box) by index.
        Index("ix_places_latitude_longitude", "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[PlaceKind] = mapped_column(_enum(PlaceKind))
    address: Mapped[str] = mapped_column(String(300))
    district: Mapped[str] = mapped_column(String(50), index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    hours: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    imported_at: Mapped[datetime]


class Certificate(Base):
    """An activity certificate application and where it stands."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    # Reverse issuance: an inflow member whose origin issued none; the destination collects
    # the form and sends it to the origin.
    reverse: Mapped[bool] = mapped_column(Boolean, default=False)
    origin_organisation: Mapped[str] = mapped_column(String(200))
    destination: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    expected_months: Mapped[int] = mapped_column(Integer)
    status: Mapped[CertificateStatus] = mapped_column(_enum(CertificateStatus))
    # The certificate's own number, given when it is issued.
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    issued_at: Mapped[datetime | None]
    # The yearly review: due a year after issue, then a year after each review.
    review_due_on: Mapped[date | None] = mapped_column(index=True)
    reviewed_at: Mapped[datetime | None]


class CertificateEvent(Base):
    """One step of a certificate's workflow: which, who and when."""

    __tablename__ = "certificate_events"
    __table_args__ = (Index("ix_certificate_events_certificate_at", "certificate_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    # A status, or "reviewed" for a yearly review.
    step: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    actor_name: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class Idea(Base):
    """An idea ("golden idea") or an opinion a member sent the organisation."""

    __tablename__ = "ideas"
    __table_args__ = (Index("ix_ideas_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdeaKind] = mapped_column(_enum(IdeaKind))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[IdeaStatus] = mapped_column(_enum(IdeaStatus))
    created_at: Mapped[datetime]
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
    replied_by: Mapped[str | None] = mapped_column(String(100))
    adopted_at: Mapped[datetime | None]
    adopted_by: Mapped[str | None] = mapped_column(String(100))


class PartnerOrganisation(Base):
    """An organisation of the two-way management agreements (双联双管): the origin of our
    inflow members or the destination of our outflow ones, written to every half year."""

    __tablename__ = "partner_organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    address: Mapped[str | None] = mapped_column(String(300))
    contact_person: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    # The region it covers (province, city or county of storage/regions): a member whose
    # origin (inflow) or destination (outflow) resolves inside it is theirs.
    adcode: Mapped[str] = mapped_column(String(12), index=True)
    side: Mapped[PartnerSide] = mapped_column(_enum(PartnerSide))
    # Which of our streets holds the agreement (None: the whole organisation): only members
    # of that unit's tree are theirs then.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    unit: Mapped[Unit | None] = relationship(lazy="raise")


class PartnerAssignment(Base):
    """A member put with a partner by staff: wins over matching their place (for text the
    region index cannot place, or a member whose agreement is with another organisation)."""

    __tablename__ = "partner_assignments"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partner_organisations.id", ondelete="CASCADE"), index=True
    )
    assigned_at: Mapped[datetime]
    assigned_by: Mapped[str] = mapped_column(String(100))


class PartnerLetter(Base):
    """The half-yearly letter to a partner: when it was last drawn (and the PDF's digest,
    so the copy sent can be told from a later one) and when and how it was sent."""

    __tablename__ = "partner_letters"
    __table_args__ = (UniqueConstraint("partner_id", "half"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partner_organisations.id", ondelete="CASCADE")
    )
    # "2026H2": July to December 2026 in the district's zone.
    half: Mapped[str] = mapped_column(String(6))
    generated_at: Mapped[datetime]
    generated_by: Mapped[str] = mapped_column(String(100))
    # SHA-256 (hex) of the letter drawn last: the PDF, or the HTML page when that was taken.
    digest: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    sent_by: Mapped[str | None] = mapped_column(String(100))
    sent_how: Mapped[LetterMeans | None] = mapped_column(_enum(LetterMeans))
    # The digest of the letter as it was when marked sent.
    sent_digest: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class RatingRule(Base):
    """One criterion of the yearly rating: points for each time it is met, and the most
    it may give in a year (None: no cap). Administrators change them; staff read them."""

    __tablename__ = "rating_rules"

    criterion: Mapped[str] = mapped_column(String(32), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)
    yearly_cap: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]


class RatingAdjustment(Base):
    """Points staff added to or took from a member's yearly score, with the reason."""

    __tablename__ = "rating_adjustments"
    __table_args__ = (Index("ix_rating_adjustments_year_member", "year", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    made_by: Mapped[str] = mapped_column(String(100))
    made_at: Mapped[datetime]


class Commendation(Base):
    """A member an administrator chose for the year's commendation; notified_at once the
    notice went to the outbox."""

    __tablename__ = "commendations"
    __table_args__ = (UniqueConstraint("year", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    chosen_by: Mapped[str] = mapped_column(String(100))
    chosen_at: Mapped[datetime]
    citation: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None]


class DataRequest(Base):
    """A member's request to correct a field of their record or to delete their data."""

    __tablename__ = "data_requests"
    __table_args__ = (Index("ix_data_requests_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DataRequestKind] = mapped_column(_enum(DataRequestKind))
    # None once the member's data was erased: the request stays, as that it happened.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    # A correction: which field (storage/rights.py FIELDS) and the value proposed.
    field: Mapped[str | None] = mapped_column(String(20))
    proposed_value: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[DataRequestStatus] = mapped_column(_enum(DataRequestStatus))
    created_at: Mapped[datetime]
    # The audit actor (staff:<id> or cli:<user>) who decided it, and when.
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    # Why it was rejected (the member reads it).
    reason: Mapped[str | None] = mapped_column(Text)


class InboundSms(Base):
    """An SMS a phone sent in (mobile-originated), whole once all its parts are in.

    Handled once (handled_at): read by keyword, answered, or put in the staff inbox
    (in_inbox) until staff answer it or mark it done.
    """

    __tablename__ = "inbound_sms"
    __table_args__ = (
        # The handler takes the unhandled ones; /inbox lists the open ones, newest first.
        Index("ix_inbound_sms_handled_at", "handled_at"),
        Index("ix_inbound_sms_inbox", "in_inbox", "done_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # E.164 when the SMS centre gave an international number; otherwise as it was given.
    sender: Mapped[str] = mapped_column(String(32), index=True)
    # The member whose phone it is (found when handled); None for an unknown number.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    # What the keywords made of it (storage.sms_inbox.SmsIntent) and what was answered.
    intent: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(32))
    in_inbox: Mapped[bool] = mapped_column(Boolean, default=False)
    # The audit actor (staff:<id> or cli:<user>) who answered it last or marked it done.
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answers: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(100))


class InboundSmsPart(Base):
    """One deliver_sm of a mobile-originated SMS, stored before it is acknowledged.

    dedupe_key identifies its content (sender, recipient, coding, octets): the SMS centre
    sending it again finds it here and it counts once. The parts of a long message wait
    here until all have come; then they make one InboundSms (sms_id).
    """

    __tablename__ = "inbound_sms_parts"
    __table_args__ = (
        Index("ix_inbound_sms_parts_assembly", "sender", "reference", "total", "sms_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(80), unique=True)
    sender: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(32))
    # The concatenation header's reference, count and number (0, 1, 1 for a single SMS).
    reference: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=1)
    number: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    sms_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_sms.id", ondelete="CASCADE"), index=True
    )


class ServiceState(Base):
    """Small facts the service learns at run time (for example the bot's username)."""

    __tablename__ = "service_state"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime]


class QqChoices(Base):
    """The numbered choices a QQ private chat was last shown ("1" presses the first), kept
    so that a restart does not turn a member's "1" into typed text."""

    __tablename__ = "qq_choices"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    # [[{"text": …, "callback_data": …, "request_location": …}, …], …]
    buttons: Mapped[list[list[dict[str, object]]]] = mapped_column(JSON)
    inline: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]


class Conversation(Base):
    """The conversation open in one person's chat: which flow, at which step, the draft so far.

    Kept in the database rather than in memory so that a restart (or another process)
    continues it from the step it was at. One per chat and person: starting another ends it.
    """

    __tablename__ = "conversations"

    platform: Mapped[Platform] = mapped_column(
        _enum(Platform), primary_key=True, server_default=Platform.TELEGRAM.value
    )
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flow: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(40))
    # The answers so far, as the flow's draft serialises them.
    draft: Mapped[dict[str, object]] = mapped_column(JSON)
    # The message whose inline buttons belong to the current step.
    question_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    touched_at: Mapped[datetime]
    # touched_at + the flow's idle limit: past it the draft is deleted, answered or not.
    expires_at: Mapped[datetime] = mapped_column(index=True)


__all__ = [
    "Activity",
    "ActivityAnswer",
    "ActivityInvitation",
    "ActivityKind",
    "AttendanceSource",
    "AuditEvent",
    "Base",
    "Certificate",
    "CertificateEvent",
    "CertificateStatus",
    "ChannelName",
    "CheckIn",
    "CheckInCycle",
    "CodeScheme",
    "Commendation",
    "Consent",
    "Conversation",
    "DataRequest",
    "DataRequestKind",
    "DataRequestStatus",
    "Delivery",
    "DeliveryStatus",
    "Group",
    "GroupKind",
    "Idea",
    "IdeaKind",
    "IdeaStatus",
    "InboundSms",
    "InboundSmsPart",
    "Invite",
    "InviteGuard",
    "LocationPrecision",
    "LocationReport",
    "LocationSource",
    "Member",
    "MemberStatus",
    "MessageKind",
    "Notice",
    "NoticeReceipt",
    "NoticeStatus",
    "Place",
    "PlaceKind",
    "Platform",
    "QqChoices",
    "RatingAdjustment",
    "RatingRule",
    "RequestEventKind",
    "RequestStatus",
    "ServiceCategory",
    "ServiceDepartment",
    "ServiceMeasure",
    "ServiceRequest",
    "ServiceRequestEvent",
    "ServiceState",
    "Staff",
    "StaffRole",
    "StudyMaterial",
    "StudyPush",
    "StudyReceipt",
    "StudySchedule",
    "Unit",
    "WorkSituation",
    "activity_groups",
    "member_groups",
    "notice_groups",
    "staff_groups",
    "staff_units",
]
