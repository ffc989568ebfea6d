"""What a notice looks like on each channel: the dispatcher and the preview share this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from messages.callbacks import NOTICE_ACK
from messages.render import Renderer
from storage.models import ChannelName


@dataclass(frozen=True, slots=True)
class NoticeView:
    """The parts of a notice a message shows."""

    id: int
    body: str
    author_name: str
    urgent: bool
    sent_at: datetime


def notice_text(
    renderer: Renderer, locale: str, notice: NoticeView, channel: ChannelName, zone: tzinfo
) -> str:
    """The notice as this channel shows it: Telegram HTML, or plain text for SMS."""
    values = {
        "body": notice.body,
        "author": notice.author_name,
        "urgent": notice.urgent,
        "sent_on": notice.sent_at.astimezone(zone).strftime("%Y-%m-%d"),
    }
    if channel is ChannelName.SMS:
        return renderer.render_text(locale, "notices/notice_sms", **values)
    if channel is ChannelName.GROUP_CHAT:
        return renderer.render(locale, "notices/notice_group", **values)
    return renderer.render(locale, "notices/notice", **values)


def notice_buttons(
    renderer: Renderer, locale: str, notice: NoticeView, channel: ChannelName
) -> tuple[tuple[str, str], ...]:
    """The "received" button under a member's own copy (a group chat has none)."""
    if channel is not ChannelName.TELEGRAM:
        return ()
    return ((renderer.label(locale, "notices.received"), NOTICE_ACK.pack(notice.id)),)
