"""What QQ's own messages look like: the alert to the administrators when QQ rests."""

from __future__ import annotations

from messages.render import Reader, Rendered
from storage.payloads import QqRest


def qq_rest(reader: Reader, payload: QqRest) -> Rendered:
    """QQ met risk control and rests: members fall back to their other channels meanwhile."""
    until = payload.until.astimezone(reader.zone).strftime("%Y-%m-%d %H:%M")
    return reader.html("qq/rest", until=until, reason=payload.reason), ()
