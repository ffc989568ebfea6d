"""What the ideas-and-opinions messages look like: a new one to its liaisons, and the
organisation's reply (or its adoption) to the member, on each channel."""

from __future__ import annotations

from messages.callbacks import IDEA_SHOW, IDEAS_CARD
from messages.render import Reader, Rendered
from storage.payloads import IdeaNew, IdeaReply

# An SMS quotes this much of the reply; the rest is in /myideas.
SMS_REPLY = 120


def idea_new(reader: Reader, payload: IdeaNew) -> Rendered:
    """A member sent an idea or opinion: to their liaisons, with a button to open it."""
    text = reader.html(
        "ideas/staff_new",
        member=payload.member,
        id=payload.id,
        kind=payload.kind,
        body=payload.body,
    )
    button = (reader.label("ideas.open", id=payload.id), IDEAS_CARD.pack(payload.id))
    return text, (button,)


def idea_reply(reader: Reader, payload: IdeaReply) -> Rendered:
    """The organisation replied to (event "reply") or adopted (event "adopted") a
    member's idea."""
    values = {
        "id": payload.id,
        "kind": payload.kind,
        "body": payload.body,
        "event": payload.event,
        "reply": payload.reply,
        "replaced": payload.replaced,
        "adopted": payload.adopted,
    }
    if reader.sms:
        reply = payload.reply
        short = reply if len(reply) <= SMS_REPLY else reply[: SMS_REPLY - 1] + "…"
        return reader.render("ideas/answer", **{**values, "reply": short}), ()
    button = (reader.label("ideas.show", id=payload.id), IDEA_SHOW.pack(payload.id))
    return reader.render("ideas/answer", **values), (button,)
