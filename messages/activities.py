"""What an activity's messages look like: the invitation with "I'll come / I can't", and
the reminder the day before with "I'm here" and "I can't come after all", on each channel;
its cancellation (with the reason), a change (old → new, with the answer buttons again),
and a place from the waiting list (with "I can't come after all").

SMS members answer by texting back ("参加 12" / "不参加 12": messages/sms_keywords.py); the
SMS says how.
"""

from __future__ import annotations

from messages.callbacks import ACTIVITY_ANSWER, ACTIVITY_HERE
from messages.render import Reader, Rendered
from storage.models import ActivityAnswer, ActivityKind
from storage.payloads import (
    ActivityCancel,
    ActivityChange,
    ActivityInvite,
    ActivityPlace,
    ActivityReminder,
)

_KINDS = {kind.value for kind in ActivityKind}


def kind_label(reader: Reader, kind: str) -> str:
    """The kind of activity in the reader's language (a kind this version does not know
    reads as "other")."""
    return reader.label(f"activities.kind_{kind if kind in _KINDS else 'other'}")


def _answer_buttons(reader: Reader, activity_id: int) -> tuple[tuple[str, str], ...]:
    return (
        (reader.label("activities.yes"), ACTIVITY_ANSWER.pack(activity_id, ActivityAnswer.YES)),
        (reader.label("activities.no"), ACTIVITY_ANSWER.pack(activity_id, ActivityAnswer.NO)),
    )


def activity_invite(reader: Reader, payload: ActivityInvite) -> Rendered:
    """An invitation: what, when, where, how many places; "I'll come" / "I can't"."""
    text = reader.render("activities/invite", a=payload, kind=kind_label(reader, payload.kind))
    if reader.sms:
        return text, ()
    return text, _answer_buttons(reader, payload.activity_id)


def activity_cancel(reader: Reader, payload: ActivityCancel) -> Rendered:
    """The activity will not take place, and why (as staff typed it, escaped)."""
    text = reader.render("activities/cancel", a=payload, kind=kind_label(reader, payload.kind))
    return text, ()


def activity_change(reader: Reader, payload: ActivityChange) -> Rendered:
    """What changed, old → new; the answer buttons again (the new time may suit or not)."""
    text = reader.render("activities/change", a=payload, kind=kind_label(reader, payload.kind))
    if reader.sms:
        return text, ()
    return text, _answer_buttons(reader, payload.activity_id)


def activity_place(reader: Reader, payload: ActivityPlace) -> Rendered:
    """A place freed up and it is theirs: they are down as coming; "I can't after all"."""
    text = reader.render("activities/place", a=payload, kind=kind_label(reader, payload.kind))
    if reader.sms:
        return text, ()
    return text, (
        (
            reader.label("activities.no_after_all"),
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


__all__ = [
    "activity_cancel",
    "activity_change",
    "activity_invite",
    "activity_place",
    "activity_reminder",
    "kind_label",
]
