"""What each kind of outbox message carries: one typed payload per MessageKind.

The code that enqueues a message builds its payload here (storage/outbox.py stores it as
the delivery's JSON, and takes the delivery's kind from it); the dispatcher reads the JSON
back into the same type before rendering it (messages/kinds.py). Field names are the JSON
keys of rows already in the database: renaming one needs a migration of those rows. Fields
the first versions did not write have defaults, so that older rows still read; a row that
does not read is failed with the reason (PayloadError), never sent half-filled.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from storage.models import MessageKind


class PayloadError(ValueError):
    """A stored payload that does not read as its kind's type; the message says why."""


class Payload(BaseModel):
    """The values one kind of message is rendered from, stored with each delivery."""

    # Keys a newer version added are ignored by an older one rather than failing its rows.
    model_config = ConfigDict(frozen=True, extra="ignore")

    KIND: ClassVar[MessageKind]

    def to_json(self) -> dict[str, object] | None:
        """The delivery's payload column (None when the kind carries nothing)."""
        return self.model_dump(mode="json", exclude_unset=True) or None

    @classmethod
    def read(cls, data: object) -> Self:
        """The payload stored on a delivery; PayloadError with the first problem found."""
        try:
            return cls.model_validate(data if data is not None else {})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "payload"
            more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
            raise PayloadError(
                f"unreadable {cls.KIND.value} payload: {where}: {first['msg']}{more}"
            ) from error


class Names(BaseModel):
    """A catalogue name in both languages, so the reader's language is chosen at send time."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    zh: str | None = None
    en: str | None = None


# --- notices -------------------------------------------------------------------------------


class Notice(Payload):
    """A notice: its text is read from the notice's row (the delivery's notice_id)."""

    KIND = MessageKind.NOTICE


# --- the monthly cycle ---------------------------------------------------------------------


class CheckInPrompt(Payload):
    """The month's check-in prompt to a member."""

    KIND = MessageKind.CHECKIN_PROMPT

    period: str
    reminder: int = 0


class CheckInReminder(CheckInPrompt):
    """Reminder n of the month's check-in, to a member who has not checked in."""

    KIND = MessageKind.CHECKIN_REMINDER


class SilentMember(BaseModel):
    """One name on a liaison's list of silent members."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    name: str
    days: int
    never: bool = False


class Escalation(Payload):
    """The escalation day's list of a group's silent members, to its liaisons."""

    KIND = MessageKind.ESCALATION

    period: str
    group: str
    members: tuple[SilentMember, ...]
    total: int


class LostContact(Payload):
    """A member silent for months was flagged lost contact; to their liaisons and admins."""

    KIND = MessageKind.LOST_CONTACT

    member_id: int
    name: str = ""
    since: str | None = None  # the last check-in's date; None: never checked in
    months: int | None = None
    admin: bool = False  # an admin's copy carries the button that confirms it


# --- study ---------------------------------------------------------------------------------


class Study(Payload):
    """A study material pushed to a member (its text is read from the material's row)."""

    KIND = MessageKind.STUDY

    material_id: int


# --- service requests ----------------------------------------------------------------------


class RequestNew(Payload):
    """A member asked for help (or a colleague assigned a request): to the liaisons."""

    KIND = MessageKind.REQUEST_NEW

    request_id: int
    member: str = ""
    category: Names | None = None
    measure: Names | None = None
    description: str = ""
    due: str | None = None  # local "YYYY-MM-DD HH:MM"
    attachment: str | None = None
    source: str | None = None
    assigned_by: str | None = None  # None: new from the member; else the colleague's name


class RequestUpdate(Payload):
    """A step of the member's request (taken, referred, closed with the answer …)."""

    KIND = MessageKind.REQUEST_UPDATE

    request_id: int
    event: str = "status"
    status: str = ""
    category: Names | None = None
    referred_to: str | None = None
    answer: str | None = None
    by: str | None = None
    closed: bool = False


class RequestDue(Payload):
    """An open request nears its target time: to the assignee (or the liaisons)."""

    KIND = MessageKind.REQUEST_DUE

    request_id: int
    member: str = ""
    category: Names | None = None
    due: str | None = None
    assignee: str | None = None
    status: str = "received"


class RequestLate(RequestDue):
    """An open request is past its target time: to the admins over the member."""

    KIND = MessageKind.REQUEST_LATE


class RequestFeedback(Payload):
    """The member says the help did not help (and why): to the assignee and liaisons."""

    KIND = MessageKind.REQUEST_FEEDBACK

    request_id: int
    member: str = ""
    category: Names | None = None
    status: str = "resolved"
    assignee: str | None = None
    solved: bool | None = None
    satisfaction: int | None = None
    comment: str | None = None
    follow_up: bool = False  # the comment, after the feedback itself went without it


# --- activity certificates -----------------------------------------------------------------


class CertificateStep(Payload):
    """A step of an application: to the member, or (staff) a new one to the liaisons."""

    KIND = MessageKind.CERTIFICATE

    certificate_id: int
    step: str
    staff: bool = False
    reverse: bool = False
    origin: str | None = None
    number: str | None = None
    note: str | None = None
    review_due_on: str | None = None
    # The liaisons' copy of a new application.
    name: str | None = None
    destination: str | None = None
    months: int | None = None


class CertificateReview(Payload):
    """The yearly review of an issued certificate is due: to the member, or their liaisons."""

    KIND = MessageKind.CERT_REVIEW

    certificate_id: int
    number: str | None = None
    name: str = ""
    due_on: str = ""
    staff: bool = False


# --- ideas and opinions --------------------------------------------------------------------


class IdeaNew(Payload):
    """A member sent an idea or opinion: to their liaisons."""

    KIND = MessageKind.IDEA_NEW

    id: int
    kind: str = "idea"
    member: str = ""
    body: str = ""


class IdeaReply(Payload):
    """The organisation replied to (event "reply") or adopted (event "adopted") it."""

    KIND = MessageKind.IDEA_REPLY

    id: int
    kind: str = "idea"
    body: str = ""
    event: str = "reply"
    reply: str = ""
    replaced: bool = False
    adopted: bool = False


# --- members' rights over their data -------------------------------------------------------


class RightsNew(Payload):
    """A member asked to correct a field of their record, or to delete their data: to the
    staff who decide it (a deletion to the administrators over the member)."""

    KIND = MessageKind.RIGHTS_NEW

    id: int
    kind: str = "correct"
    member: str = ""
    field: str | None = None
    # The value proposed, as the alert may show it (a phone number masked).
    value: str | None = None


class RightsReply(Payload):
    """The decision on a member's correction or deletion request: to the member."""

    KIND = MessageKind.RIGHTS_REPLY

    id: int
    kind: str = "correct"
    status: str = "approved"
    field: str | None = None
    value: str | None = None
    reason: str | None = None


# --- QQ -------------------------------------------------------------------------------------


class QqRest(Payload):
    """The QQ account met risk control: QQ rests until `until`; to the administrators."""

    KIND = MessageKind.QQ_SUSPENDED

    until: datetime
    reason: str = ""


# --- SMS from members' phones --------------------------------------------------------------


class SmsReply(Payload):
    """The automatic answer to a member's SMS (storage/sms_inbox.py): what it says
    ("checkin_saved", "same_already", "stopped", "help" …) and the values it shows."""

    KIND = MessageKind.SMS_REPLY

    what: str
    period: str | None = None
    place: str | None = None
    # An answer to an activity's invitation ("activity_yes", "activity_waiting" …): which one,
    # its title and time, and the answer now on record.
    activity: int | None = None
    title: str | None = None
    when: str | None = None
    answer: str | None = None
    # "activity_waiting": the member's place on the waiting list (1: next in line).
    waiting: int | None = None


class SmsAnswer(Payload):
    """What staff answered an SMS of the inbox, signed."""

    KIND = MessageKind.SMS_ANSWER

    text: str
    signature: str = ""


# --- activities ----------------------------------------------------------------------------


class ActivityInvite(Payload):
    """An invitation to an activity, with "I'll come / I can't" (its values as they were
    when it was made: the time in the district's zone, the place by name and address)."""

    KIND = MessageKind.ACTIVITY_INVITE

    activity_id: int
    kind: str = "other"
    title: str = ""
    # Local "YYYY-MM-DD HH:MM" and "HH:MM" in the district's zone, where the activity is.
    starts: str = ""
    ends: str = ""
    place: str | None = None
    address: str = ""
    capacity: int | None = None
    organiser: str = ""


class ActivityReminder(ActivityInvite):
    """Tomorrow's activity: to the members who said they would come."""

    KIND = MessageKind.ACTIVITY_REMIND


class ActivityCancel(ActivityInvite):
    """The activity is cancelled, with the reason staff gave: to everyone invited who had
    not said no."""

    KIND = MessageKind.ACTIVITY_CANCEL

    reason: str = ""


class ActivityChange(ActivityInvite):
    """The activity's time, place or capacity changed (the new values in the fields of the
    invitation, the old ones here): to those coming, waiting or not yet answered."""

    KIND = MessageKind.ACTIVITY_CHANGE

    # What changed: "time", "place", "capacity".
    changed: list[str] = []
    was_starts: str = ""
    was_ends: str = ""
    was_place: str | None = None
    was_address: str = ""
    was_capacity: int | None = None


class ActivityPlace(ActivityInvite):
    """A place freed up and the member, first on the waiting list, has it: they are down
    as coming."""

    KIND = MessageKind.ACTIVITY_PLACE


# --- ratings and commendations ---------------------------------------------------------------


class Commended(Payload):
    """The year's commendation: to each member an administrator chose, with the citation
    (what they were commended for), if one was written."""

    KIND = MessageKind.COMMENDATION

    year: int
    citation: str | None = None
