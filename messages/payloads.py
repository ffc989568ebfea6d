"""Renderers for the messages whose delivery row carries its own values (the payload).

Each feature that enqueues such a message registers one function here, by kind; the
dispatcher calls it at send time with the recipient's language and channel. A function
returns None when what the message is about is gone (nothing is sent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from messages.certificates import certificate_step, review_reminder
from messages.ideas import idea_answer, idea_new
from messages.render import Rendered, Renderer
from messages.requests import (
    new_request,
    request_due,
    request_feedback,
    request_late,
    request_update,
)
from storage.models import ChannelName, MessageKind

PayloadRenderer = Callable[[Renderer, str, ChannelName, Mapping[str, Any]], Rendered | None]

PAYLOAD_RENDERERS: dict[MessageKind, PayloadRenderer] = {
    MessageKind.CERTIFICATE: certificate_step,
    MessageKind.CERT_REVIEW: review_reminder,
    MessageKind.REQUEST_NEW: new_request,
    MessageKind.REQUEST_UPDATE: request_update,
    MessageKind.REQUEST_DUE: request_due,
    MessageKind.REQUEST_LATE: request_late,
    MessageKind.REQUEST_FEEDBACK: request_feedback,
    MessageKind.IDEA_NEW: idea_new,
    MessageKind.IDEA_REPLY: idea_answer,
}


def render_payload(
    renderer: Renderer,
    kind: MessageKind,
    locale: str,
    channel: ChannelName,
    payload: Mapping[str, Any],
) -> Rendered | None:
    """The message for a payload kind, or None when no feature renders that kind."""
    render = PAYLOAD_RENDERERS.get(kind)
    return render(renderer, locale, channel, payload) if render is not None else None
