"""What the member's status and the staff card both show of a certificate."""

from __future__ import annotations

from typing import Any

from bot.context import LiaisonContext
from bot.replies import label
from storage.certificates import CertificateView


def view_values(context: LiaisonContext, view: CertificateView) -> dict[str, Any]:
    """The template values of a certificate: its status and history in the caller's words."""
    zone = context.zone
    return {
        "c": view,
        "status_name": label(context, f"certificates.step_{view.status.value}"),
        "events": [
            {
                "at": event.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "step": label(context, f"certificates.step_{event.step}"),
                "who": event.actor_name,
                "note": event.note,
            }
            for event in view.events
        ],
        "member_kind": label(context, f"certificates.member_{view.member_status.value}"),
    }
