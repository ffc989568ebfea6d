"""What several conversations share besides the engine (bot/flow.py): a long text pasted in
parts, and groups ticked on a keyboard."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from messages.callbacks import Action

# A message this long may be one part of a paste the Telegram app split (at 4,096).
PART_LENGTH = 3000
# The parts of one paste arrive together; a text typed after this is a new attempt.
PASTE_WINDOW = timedelta(seconds=5)


class Pasting(Protocol):
    """A draft collecting a long text that may arrive in parts (/notice, /material)."""

    parts: list[str]
    discard_until: datetime | None


class PasteStep(enum.Enum):
    IGNORED = "ignored"  # the rest of a paste already refused as too long
    REFUSED = "refused"  # check() refused the text so far
    PART = "part"  # long enough to be one part of a split paste: wait for more
    WHOLE = "whole"  # the text is complete


@dataclass(frozen=True, slots=True)
class Paste:
    step: PasteStep
    body: str = ""
    # What was checked (REFUSED): the parts so far and this text.
    whole: str = ""
    error: ValueError | None = None


def take_paste(
    draft: Pasting,
    text: str,
    now: datetime,
    *,
    check: Callable[[str], str],
    error_type: type[ValueError],
    too_long: str,
) -> Paste:
    """One typed message of a long text: joined to the parts before it and checked.

    check returns the text as it will be kept or raises error_type, whose reason too_long
    means the rest of that paste, arriving within PASTE_WINDOW, is dropped unread.
    """
    if draft.discard_until is not None and now <= draft.discard_until:
        draft.discard_until = now + PASTE_WINDOW
        return Paste(PasteStep.IGNORED)
    draft.discard_until = None
    whole = "\n".join([*draft.parts, text])
    try:
        body = check(whole)
    except error_type as error:
        draft.parts.clear()
        if getattr(error, "reason", None) == too_long:
            draft.discard_until = now + PASTE_WINDOW
        return Paste(PasteStep.REFUSED, whole=whole, error=error)
    if len(text) >= PART_LENGTH:
        # Perhaps the Telegram app split a longer paste: wait for the rest, or the button.
        draft.parts.append(text)
        return Paste(PasteStep.PART, body=body)
    draft.parts.clear()
    return Paste(PasteStep.WHOLE, body=body)


def toggle_group(
    data: str | None, pick: Action[int], offered: Sequence[tuple[int, str]], chosen: list[int]
) -> bool | None:
    """A group button pressed on a ticking keyboard (/notice, /activities): the group ticked
    (True) or unticked (False) in chosen; None for a press naming no group offered."""
    pressed = pick.unpack(data)
    if pressed is None or pressed[0] not in dict(offered):
        return None
    (group_id,) = pressed
    if group_id in chosen:
        chosen.remove(group_id)
        return False
    chosen.append(group_id)
    return True
