"""What the ideas-and-opinions messages look like: a new one to its liaisons, and the
organisation's reply (or its adoption) to the member, on each channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from messages.callbacks import IDEA_SHOW, IDEAS_CARD
from messages.render import Rendered, Renderer
from storage.models import ChannelName

# An SMS quotes this much of the reply; the rest is in /myideas.
SMS_REPLY = 120


def _values(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": int(payload.get("id", 0)),
        "kind": str(payload.get("kind", "idea")),
        "body": str(payload.get("body", "")),
    }


def idea_new(
    renderer: Renderer, locale: str, channel: ChannelName, payload: Mapping[str, Any]
) -> Rendered:
    """A member sent an idea or opinion: to their liaisons, with a button to open it."""
    values = _values(payload)
    text = renderer.render(
        locale, "ideas/staff_new", member=str(payload.get("member", "")), **values
    )
    button = (renderer.label(locale, "ideas.open", id=values["id"]), IDEAS_CARD.pack(values["id"]))
    return text, (button,)


def idea_answer(
    renderer: Renderer, locale: str, channel: ChannelName, payload: Mapping[str, Any]
) -> Rendered:
    """The organisation replied to (event "reply") or adopted (event "adopted") a
    member's suggestion."""
    values = {
        **_values(payload),
        "event": str(payload.get("event", "reply")),
        "reply": str(payload.get("reply", "")),
        "replaced": bool(payload.get("replaced", False)),
        "adopted": bool(payload.get("adopted", False)),
    }
    if channel is ChannelName.SMS:
        reply = values["reply"]
        short = reply if len(reply) <= SMS_REPLY else reply[: SMS_REPLY - 1] + "…"
        return renderer.render_text(locale, "ideas/answer_sms", **{**values, "reply": short}), ()
    button = (renderer.label(locale, "ideas.show", id=values["id"]), IDEA_SHOW.pack(values["id"]))
    return renderer.render(locale, "ideas/answer", **values), (button,)
