"""What a certificate step and the yearly review reminder look like, in the reader's language.

Both are rendered at send time from the delivery's payload (messages/kinds.py), so a
member who changes language with /lang reads the message in the new one.
"""

from __future__ import annotations

from messages.callbacks import CERTIFICATE_REJECT, CERTIFICATE_STEP
from messages.render import Reader, Rendered, Renderer
from storage.payloads import CertificateReview, CertificateStep


def step_name(renderer: Renderer, locale: str, step: str) -> str:
    """A step or status in words ("已审核", "checked")."""
    return renderer.label(locale, f"certificates.step_{step}")


def certificate_step(reader: Reader, payload: CertificateStep) -> Rendered:
    """A step of the member's application (checked, sent, verified, issued, rejected, reviewed)."""
    if payload.staff:
        return _new_application(reader, payload)
    text = reader.render(
        "certificates/step",
        step=payload.step,
        step_name=step_name(reader.renderer, reader.locale, payload.step),
        id=payload.certificate_id,
        number=payload.number,
        origin=payload.origin or "",
        reverse=payload.reverse,
        note=payload.note,
        review_due_on=payload.review_due_on,
    )
    return text, ()


def _new_application(reader: Reader, payload: CertificateStep) -> Rendered:
    """A liaison learns of an application, with the buttons for its first step."""
    certificate_id = payload.certificate_id
    text = reader.html(
        "certificates/new_staff",
        id=certificate_id,
        name=payload.name or "",
        reverse=payload.reverse,
        origin=payload.origin or "",
        destination=payload.destination or "",
        months=payload.months,
    )
    buttons = (
        (
            reader.label("certificates.do_checked"),
            CERTIFICATE_STEP.pack(certificate_id, "checked"),
        ),
        (reader.label("certificates.reject"), CERTIFICATE_REJECT.pack(certificate_id)),
    )
    return text, buttons


def review_reminder(reader: Reader, payload: CertificateReview) -> Rendered:
    """The yearly review is due: to the member, or to their liaison with a "reviewed" button."""
    values = {
        "id": payload.certificate_id,
        "number": payload.number,
        "name": payload.name,
        "due_on": payload.due_on,
    }
    if payload.staff:
        button = (
            reader.label("certificates.do_reviewed"),
            CERTIFICATE_STEP.pack(payload.certificate_id, "reviewed"),
        )
        return reader.html("certificates/review_staff", **values), (button,)
    return reader.render("certificates/review", **values), ()
