"""What the member's and the staff's views of ideas share: times and excerpts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.context import LiaisonContext
from bot.drafts import PasteStep, Pasting, take_paste
from bot.replies import render
from storage.ideas import IdeaError, excerpt

# How much of an idea a list line and a button quote.
LINE_EXCERPT = 80
BUTTON_EXCERPT = 24


def local(context: LiaisonContext, moment: datetime | None) -> str:
    """moment on the caller's clock ("" for none)."""
    return moment.astimezone(context.zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def short(text: str, limit: int) -> str:
    """The start of text on one line, for a list or a button."""
    return " ".join(excerpt(text, limit).split())


def take_text(
    context: LiaisonContext, draft: Pasting, text: str, *, check: Callable[[str], str], limit: int
) -> tuple[str | None, str | None]:
    """One typed message of an idea or a reply (bot/drafts.take_paste): the text to
    keep, or why it was refused (rendered); neither for the rest of a paste refused already.
    """
    paste = take_paste(
        draft, text, context.now(), check=check, error_type=IdeaError, too_long="too_long"
    )
    if paste.step is PasteStep.IGNORED:
        return None, None
    if isinstance(paste.error, IdeaError):
        why = render(
            context,
            "ideas/bad_text",
            reason=paste.error.reason,
            length=len(paste.whole.strip()),
            limit=limit,
        )
        return None, why
    # The limit is below the length of a part of a split paste: this is the whole text.
    draft.parts.clear()
    return paste.body, None
