"""What the service-request messages look like: a new request to the liaisons, a step to
the member (with the staff's answer and the feedback buttons once it is closed), the
deadline reminder, the overdue alert, and unhappy feedback to the staff.

The storage layer writes a payload with both languages' names on each delivery; the
dispatcher renders it here in the recipient's language and channel format at send time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from messages.callbacks import REQUEST_CARD, REQUEST_SOLVED, REQUEST_TAKE
from messages.render import Reader, Rendered, Renderer
from storage.payloads import (
    Names,
    RequestDue,
    RequestFeedback,
    RequestNew,
    RequestUpdate,
)


def localized_name(names: Names | Mapping[str, Any] | None, locale: str) -> str:
    """The English or Chinese name of {"zh": …, "en": …} ("" for none)."""
    if not names:
        return ""
    if isinstance(names, Names):
        zh, en = names.zh, names.en
    else:
        zh, en = names.get("zh"), names.get("en")
    if locale.startswith("en"):
        return str(en or zh or "")
    return str(zh or en or "")


def status_label(renderer: Renderer, locale: str, status: str) -> str:
    """A request status in the reader's words."""
    return renderer.label(locale, f"requests.status_{status}")


def solved_buttons(renderer: Renderer, locale: str, request_id: int) -> tuple[tuple[str, str], ...]:
    """ "Solved?" under a closed request: yes / no."""
    return (
        (renderer.label(locale, "requests.solved_yes"), REQUEST_SOLVED.pack(request_id, True)),
        (renderer.label(locale, "requests.solved_no"), REQUEST_SOLVED.pack(request_id, False)),
    )


def _values(reader: Reader, payload: RequestNew | RequestDue | RequestFeedback) -> dict[str, Any]:
    """What the staff's request messages show of the request."""
    new = payload if isinstance(payload, RequestNew) else None
    assignee = None if isinstance(payload, RequestNew) else payload.assignee
    return {
        "id": payload.request_id,
        "member": payload.member,
        "category": localized_name(payload.category, reader.locale),
        "measure": (localized_name(new.measure, reader.locale) or None) if new else None,
        "description": new.description if new else "",
        "due": None if isinstance(payload, RequestFeedback) else payload.due,
        "attachment": new.attachment if new else None,
        "source": new.source if new else None,
        "assignee": assignee,
        "assigned_by": new.assigned_by if new else None,
    }


def _card_button(reader: Reader, request_id: int) -> tuple[str, str]:
    return reader.label("requests.open_card"), REQUEST_CARD.pack(request_id)


def new_request(reader: Reader, payload: RequestNew) -> Rendered:
    """To the liaisons: a member asked for help (or a colleague assigned one), take / open."""
    text = reader.html("requests/staff_new", **_values(reader, payload))
    buttons = [_card_button(reader, payload.request_id)]
    if payload.assigned_by is None:
        buttons.insert(0, (reader.label("requests.take"), REQUEST_TAKE.pack(payload.request_id)))
    return text, tuple(buttons)


def request_update(reader: Reader, payload: RequestUpdate) -> Rendered:
    """To the member: their request was taken or moved on; closed ones ask for feedback."""
    text = reader.render(
        "requests/update",
        id=payload.request_id,
        event=payload.event,
        status=payload.status,
        status_label=status_label(reader.renderer, reader.locale, payload.status),
        category=localized_name(payload.category, reader.locale),
        referred_to=payload.referred_to,
        answer=payload.answer,
        by=payload.by,
        closed=payload.closed,
    )
    if reader.sms or not payload.closed:
        return text, ()
    return text, solved_buttons(reader.renderer, reader.locale, payload.request_id)


def request_due(reader: Reader, payload: RequestDue) -> Rendered:
    """To the assignee (or the liaisons): a request is nearing its target time."""
    text = reader.html("requests/staff_due", **_values(reader, payload))
    return text, (_card_button(reader, payload.request_id),)


def request_late(reader: Reader, payload: RequestDue) -> Rendered:
    """To the admins over the member: a request is past its target time."""
    text = reader.html(
        "requests/staff_late",
        **_values(reader, payload),
        status_label=status_label(reader.renderer, reader.locale, payload.status),
    )
    return text, (_card_button(reader, payload.request_id),)


def request_feedback(reader: Reader, payload: RequestFeedback) -> Rendered:
    """To the assignee and the liaisons: the member says it did not help, and why."""
    text = reader.html(
        "requests/staff_feedback",
        **_values(reader, payload),
        status_label=status_label(reader.renderer, reader.locale, payload.status),
        solved=payload.solved,
        satisfaction=payload.satisfaction,
        comment=payload.comment,
        follow_up=payload.follow_up,
    )
    return text, (_card_button(reader, payload.request_id),)
