"""What a certificate step and the yearly review reminder look like, in the reader's language.

Both are rendered at send time from the delivery's payload (messages/payloads.py), so a
member who changes language with /lang reads the message in the new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from messages.callbacks import CERTIFICATE_REJECT, CERTIFICATE_STEP
from messages.render import Rendered, Renderer
from storage.models import ChannelName


def step_name(renderer: Renderer, locale: str, step: str) -> str:
    """A step or status in words ("已审核", "checked")."""
    return renderer.label(locale, f"certificates.step_{step}")


def certificate_step(
    renderer: Renderer, locale: str, channel: ChannelName, payload: Mapping[str, Any]
) -> Rendered | None:
    """A step of the member's application (checked, sent, verified, issued, rejected, reviewed)."""
    step = str(payload.get("step", ""))
    if not step:
        return None
    if payload.get("staff"):
        return _new_application(renderer, locale, payload)
    values = {
        "step": step,
        "step_name": step_name(renderer, locale, step),
        "id": payload.get("certificate_id"),
        "number": payload.get("number"),
        "origin": payload.get("origin") or "",
        "reverse": bool(payload.get("reverse")),
        "note": payload.get("note"),
        "review_due_on": payload.get("review_due_on"),
    }
    if channel is ChannelName.SMS:
        return renderer.render_text(locale, "certificates/step_sms", **values), ()
    return renderer.render(locale, "certificates/step", **values), ()


def _new_application(renderer: Renderer, locale: str, payload: Mapping[str, Any]) -> Rendered:
    """A liaison learns of an application, with the buttons for its first step."""
    certificate_id = int(payload["certificate_id"])
    text = renderer.render(
        locale,
        "certificates/new_staff",
        id=certificate_id,
        name=payload.get("name") or "",
        reverse=bool(payload.get("reverse")),
        origin=payload.get("origin") or "",
        destination=payload.get("destination") or "",
        months=payload.get("months"),
    )
    buttons = (
        (
            renderer.label(locale, "certificates.do_checked"),
            CERTIFICATE_STEP.pack(certificate_id, "checked"),
        ),
        (renderer.label(locale, "certificates.reject"), CERTIFICATE_REJECT.pack(certificate_id)),
    )
    return text, buttons


def review_reminder(
    renderer: Renderer, locale: str, channel: ChannelName, payload: Mapping[str, Any]
) -> Rendered | None:
    """The yearly review is due: to the member, or to their liaison with a "reviewed" button."""
    certificate_id = payload.get("certificate_id")
    if certificate_id is None:
        return None
    values = {
        "id": certificate_id,
        "number": payload.get("number"),
        "name": payload.get("name") or "",
        "due_on": payload.get("due_on") or "",
    }
    if payload.get("staff"):
        button = (
            renderer.label(locale, "certificates.do_reviewed"),
            CERTIFICATE_STEP.pack(certificate_id, "reviewed"),
        )
        return renderer.render(locale, "certificates/review_staff", **values), (button,)
    if channel is ChannelName.SMS:
        return renderer.render_text(locale, "certificates/review_sms", **values), ()
    return renderer.render(locale, "certificates/review", **values), ()
