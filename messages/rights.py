"""What the members'-rights messages look like: a new correction or deletion request to the
staff who decide it, and the decision to the member, on each channel."""

from __future__ import annotations

from messages.callbacks import RIGHTS_CARD
from messages.render import Reader, Rendered
from storage.payloads import RightsNew, RightsReply


def field_label(reader: Reader, field: str | None) -> str:
    """A field of the member's record as the reader calls it ("phone number", "手机号码")."""
    return reader.label(f"rights.field_{field}") if field else ""


def rights_new(reader: Reader, payload: RightsNew) -> Rendered:
    """A member asked to correct their record or to delete their data: to the staff, with a
    button to open the request."""
    text = reader.html(
        "rights/staff_new",
        id=payload.id,
        kind=payload.kind,
        member=payload.member,
        field=field_label(reader, payload.field),
        value=payload.value,
    )
    button = (reader.label("rights.open", id=payload.id), RIGHTS_CARD.pack(payload.id))
    return text, (button,)


def rights_reply(reader: Reader, payload: RightsReply) -> Rendered:
    """The decision on the member's request, in their language."""
    text = reader.render(
        "rights/decided",
        id=payload.id,
        kind=payload.kind,
        status=payload.status,
        field=field_label(reader, payload.field),
        value=payload.value,
        reason=payload.reason,
    )
    return text, ()
