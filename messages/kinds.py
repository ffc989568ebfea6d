"""Every kind of outbox message in one registry: its payload type, how it is rendered, and
what else it shows that lives in a row of its own.

The dispatcher knows no kind by name: for each claimed delivery it reads the payload into
its kind's type (storage/payloads.py), loads the subjects of the whole batch (a notice's
text, a study material, a member's last check-in) in one query per subject, and calls the
kind's render function with the reader (language, time zone, channel).

A new kind of message is: a MessageKind (storage/models.py), its payload type
(storage/payloads.py, built by the storage operation that enqueues it), its render function
beside its feature's others in messages/, and one line in KINDS below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from messages.activities import (
    activity_cancel,
    activity_change,
    activity_invite,
    activity_place,
    activity_reminder,
)
from messages.certificates import certificate_step, review_reminder
from messages.compose import NoticeView, notice_alike, notice_message, notice_views
from messages.cycle import (
    LastCheckInView,
    checkin_prompt,
    escalation,
    last_checkin_views,
    lost_contact,
)
from messages.ideas import idea_new, idea_reply
from messages.qq import qq_rest
from messages.ratings import commended
from messages.render import Reader, Rendered
from messages.requests import (
    new_request,
    request_due,
    request_feedback,
    request_late,
    request_update,
)
from messages.rights import rights_new, rights_reply
from messages.sms_inbound import sms_answer, sms_reply
from messages.study import study_push
from storage import payloads
from storage.models import MessageKind
from storage.outbox import Claimed
from storage.study import MaterialView, material_views

P = TypeVar("P", bound=payloads.Payload)
# A subject reads the payload only: one subject may serve kinds whose payloads extend it.
P_in = TypeVar("P_in", bound=payloads.Payload, contravariant=True)
X = TypeVar("X")


@dataclass(frozen=True, slots=True)
class Subject(Generic[P_in, X]):
    """Something a kind's messages show that lives in its own row, loaded for a whole batch."""

    # Which row a delivery shows (from the delivery, or from its payload); None: none.
    of: Callable[[Claimed, P_in], int | None]
    load: Callable[[AsyncSession, Collection[int]], Awaitable[Mapping[int, X]]]
    # Rows that do not change once their messages are enqueued (a notice): the dispatcher
    # keeps them from one batch to the next.
    lasting: bool = False


@dataclass(frozen=True, slots=True)
class Kind(Generic[P, X]):
    """One kind of message: its payload type, its rendering, and what else it shows.

    render returns None when what the message is about is gone (nothing is sent).
    alike, when given, says which readers get the same message (same language and
    channel, and the same value of alike): it is rendered once for all of them.
    """

    payload: type[P]
    render: Callable[[Reader, P, X | None], Rendered | None]
    subject: Subject[P, X] | None = None
    alike: Callable[[Reader, P, X | None], Hashable] | None = None

    @property
    def kind(self) -> MessageKind:
        return self.payload.KIND


def plain(payload: type[P], render: Callable[[Reader, P], Rendered | None]) -> Kind[P, None]:
    """A kind rendered from its payload alone."""
    return Kind(payload, lambda reader, message, _: render(reader, message))


NOTICES: Subject[payloads.Notice, NoticeView] = Subject(
    lambda claimed, _: claimed.notice_id, notice_views, lasting=True
)
LAST_CHECKINS: Subject[payloads.CheckInPrompt, LastCheckInView] = Subject(
    lambda claimed, _: claimed.member_id, last_checkin_views
)
MATERIALS: Subject[payloads.Study, MaterialView] = Subject(
    lambda _, payload: payload.material_id, material_views
)

KINDS: Mapping[MessageKind, Kind[Any, Any]] = {
    kind.kind: kind
    for kind in (
        Kind(payloads.Notice, notice_message, NOTICES, alike=notice_alike),
        Kind(payloads.CheckInPrompt, checkin_prompt, LAST_CHECKINS),
        Kind(payloads.CheckInReminder, checkin_prompt, LAST_CHECKINS),
        plain(payloads.Escalation, escalation),
        plain(payloads.LostContact, lost_contact),
        Kind(payloads.Study, study_push, MATERIALS),
        plain(payloads.RequestNew, new_request),
        plain(payloads.RequestUpdate, request_update),
        plain(payloads.RequestDue, request_due),
        plain(payloads.RequestLate, request_late),
        plain(payloads.RequestFeedback, request_feedback),
        plain(payloads.CertificateStep, certificate_step),
        plain(payloads.CertificateReview, review_reminder),
        plain(payloads.IdeaNew, idea_new),
        plain(payloads.IdeaReply, idea_reply),
        plain(payloads.RightsNew, rights_new),
        plain(payloads.RightsReply, rights_reply),
        plain(payloads.QqRest, qq_rest),
        plain(payloads.SmsReply, sms_reply),
        plain(payloads.SmsAnswer, sms_answer),
        plain(payloads.ActivityInvite, activity_invite),
        plain(payloads.ActivityReminder, activity_reminder),
        plain(payloads.Commended, commended),
        plain(payloads.ActivityCancel, activity_cancel),
        plain(payloads.ActivityChange, activity_change),
        plain(payloads.ActivityPlace, activity_place),
    )
}
