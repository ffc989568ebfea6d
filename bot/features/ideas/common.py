"""What the member's and the staff's views of ideas share: times and excerpts."""

from __future__ import annotations

from datetime import datetime

from bot.context import LiaisonContext
from storage.suggestions import excerpt

# How much of a suggestion a list line and a button quote.
LINE_EXCERPT = 80
BUTTON_EXCERPT = 24


def local(context: LiaisonContext, moment: datetime | None) -> str:
    """moment on the caller's clock ("" for none)."""
    return moment.astimezone(context.zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def short(text: str, limit: int) -> str:
    """The start of text on one line, for a list or a button."""
    return " ".join(excerpt(text, limit).split())
