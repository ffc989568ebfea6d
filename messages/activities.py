"""What an activity's messages look like: the invitation with "I'll come / I can't", and
the reminder the day before with "I'm here" and "I can't come after all", on each channel.

SMS members answer by texting back ("参加 12" / "不参加 12": messages/sms_keywords.py); the
SMS says how.
"""

from __future__ import annotations

from messages.callbacks import ACTIVITY_ANSWER, ACTIVITY_HERE
from messages.render import Reader, Rendered
from storage.models import ActivityAnswer, ActivityKind
from storage.payloads import ActivityInvite, ActivityReminder

_KINDS = {kind.value for kind in ActivityKind}


def kind_label(reader: Reader, kind: str) -> str:
    """The kind of activity in the reader's language (a kind this version does not know
    reads as "other")."""
    return reader.label(f"activities.kind_{kind if kind in _KINDS else 'other'}")


def activity_invite(reader: Reader, payload: ActivityInvite) -> Rendered:
    """An invitation: what, when, where, how many places; "I'll come" / "I can't"."""
    text = reader.render("activities/invite", a=payload, kind=kind_label(reader, payload.kind))
    if reader.sms:
        return text, ()
    return text, (
        (
            reader.label("activities.yes"),
            ACTIVITY_ANSWER.pack(payload.activity_id, ActivityAnswer.YES),
        ),
        (
            reader.label("activities.no"),
            ACTIVITY_ANSWER.pack(payload.activity_id, ActivityAnswer.NO),
        ),
    )


def activity_reminder(reader: Reader, payload: ActivityReminder) -> Rendered:
    """Tomorrow's activity, to those who said yes: how to check in there, or to say no."""
    text = reader.render("activities/reminder", a=payload, kind=kind_label(reader, payload.kind))
    if reader.sms:
        return text, ()
    return text, (
        (reader.label("activities.here"), ACTIVITY_HERE.pack(payload.activity_id)),
        (
            reader.label("activities.no_after_all"),
            ACTIVITY_ANSWER.pack(payload.activity_id, ActivityAnswer.NO),
        ),
    )


__all__ = ["activity_invite", "activity_reminder", "kind_label"]
