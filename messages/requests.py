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
from messages.render import Rendered, Renderer
from storage.models import ChannelName


def localized_name(names: Mapping[str, Any] | None, locale: str) -> str:
    """The English or Chinese name of a payload's {"zh": …, "en": …} ("" for none)."""
    if not names:
        return ""
    if locale.startswith("en"):
        return str(names.get("en") or names.get("zh") or "")
    return str(names.get("zh") or names.get("en") or "")


def status_label(renderer: Renderer, locale: str, status: str) -> str:
    """A request status in the reader's words."""
    return renderer.label(locale, f"requests.status_{status}")


def solved_buttons(renderer: Renderer, locale: str, request_id: int) -> tuple[tuple[str, str], ...]:
    """ "Solved?" under a closed request: yes / no."""
    return (
        (renderer.label(locale, "requests.solved_yes"), REQUEST_SOLVED.pack(request_id, True)),
        (renderer.label(locale, "requests.solved_no"), REQUEST_SOLVED.pack(request_id, False)),
    )


def _values(locale: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": int(payload.get("request_id", 0)),
        "member": str(payload.get("member", "")),
        "category": localized_name(payload.get("category"), locale),
        "measure": localized_name(payload.get("measure"), locale) or None,
        "description": str(payload.get("description", "")),
        "due": payload.get("due"),
        "attachment": payload.get("attachment"),
        "source": payload.get("source"),
        "assignee": payload.get("assignee"),
        "assigned_by": payload.get("assigned_by"),
    }


def new_request(
    renderer: Renderer, locale: str, channel: ChannelName, payload: Mapping[str, Any]
) -> Rendered | None:
    """To the liaisons: a member asked for help (or a colleague assigned one), take / open."""
    values = _values(locale, payload)
    if not values["id"]:
        return None
    text = renderer.render(locale, "requests/staff_new", **values)
    buttons = [(renderer.label(locale, "requests.open_card"), REQUEST_CARD.pack(values["id"]))]
    if values["assigned_by"] is None:
        buttons.insert(
            0, (renderer.label(locale, "requests.take"), REQUEST_TAKE.pack(values["id"]))
        )
    return text, tuple(buttons)


def request_update(
    renderer: Renderer, locale: str, channel: ChannelName, payload: Mapping[str, Any]
) -> Rendered | None:
    """To the member: their request was taken or moved on; closed ones ask for feedback."""
    request_id = int(payload.get("request_id", 0))
    if not request_id:
        return None
    status = str(payload.get("status", ""))
    values = {
        "id": request_id,
        "event": str(payload.get("event", "status")),
        "status": status,
        "status_label": status_label(renderer, locale, status),
        "category": localized_name(payload.get("category"), locale),
        "referred_to": payload.get("referred_to"),
        "answer": payload.get("answer"),
        "by": payload.get("by"),
        "closed": bool(payload.get("closed")),
    }
    if channel is ChannelName.SMS:
        return renderer.render_text(locale, "requests/update_sms", **values), ()
    text = renderer.render(locale, "requests/update", **values)
    buttons = solved_buttons(renderer, locale, request_id) if values["closed"] else ()
    return text, buttons


def request_due(
    renderer: Renderer, locale: str, channel: ChannelName, payload: Mapping[str, Any]
) -> Rendered | None:
    """To the assignee (or the liaisons): a request is nearing its target time."""
    values = _values(locale, payload)
    if not values["id"]:
        return None
    text = renderer.render(locale, "requests/staff_due", **values)
    return text, ((renderer.label(locale, "requests.open_card"), REQUEST_CARD.pack(values["id"])),)


def request_late(
    renderer: Renderer, locale: str, channel: ChannelName, payload: Mapping[str, Any]
) -> Rendered | None:
    """To the admins over the member: a request is past its target time."""
    values = _values(locale, payload)
    if not values["id"]:
        return None
    values["status_label"] = status_label(renderer, locale, str(payload.get("status", "received")))
    text = renderer.render(locale, "requests/staff_late", **values)
    return text, ((renderer.label(locale, "requests.open_card"), REQUEST_CARD.pack(values["id"])),)


def request_feedback(
    renderer: Renderer, locale: str, channel: ChannelName, payload: Mapping[str, Any]
) -> Rendered | None:
    """To the assignee and the liaisons: the member says it did not help, and why."""
    values = _values(locale, payload)
    if not values["id"]:
        return None
    values.update(
        status_label=status_label(renderer, locale, str(payload.get("status", "resolved"))),
        solved=payload.get("solved"),
        satisfaction=payload.get("satisfaction"),
        comment=payload.get("comment"),
        follow_up=bool(payload.get("follow_up")),
    )
    text = renderer.render(locale, "requests/staff_feedback", **values)
    return text, ((renderer.label(locale, "requests.open_card"), REQUEST_CARD.pack(values["id"])),)
