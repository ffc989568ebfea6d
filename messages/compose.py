"""What a notice looks like on each channel: the dispatcher and the preview share this."""

from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messages.callbacks import NOTICE_ACK
from messages.render import Reader, Rendered, Renderer
from storage.models import ChannelName
from storage.models import Notice as NoticeRow
from storage.payloads import Notice


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
    if channel in (ChannelName.GROUP_CHAT, ChannelName.QQ_GROUP):
        return renderer.render(locale, "notices/notice_group", **values)
    return renderer.render(locale, "notices/notice", **values)


def notice_buttons(
    renderer: Renderer, locale: str, notice: NoticeView, channel: ChannelName
) -> tuple[tuple[str, str], ...]:
    """The "received" button under a member's own copy (a group chat has none; in QQ it is a
    numbered choice)."""
    if channel not in (ChannelName.TELEGRAM, ChannelName.QQ):
        return ()
    return ((renderer.label(locale, "notices.received"), NOTICE_ACK.pack(notice.id)),)


async def notice_views(session: AsyncSession, ids: Collection[int]) -> dict[int, NoticeView]:
    """The notices of a batch of deliveries (a notice does not change once it is sent)."""
    rows = await session.scalars(select(NoticeRow).where(NoticeRow.id.in_(list(ids))))
    return {
        row.id: NoticeView(
            id=row.id,
            body=row.body,
            author_name=row.author_name,
            urgent=row.urgent,
            sent_at=row.enqueued_at or row.send_at,
        )
        for row in rows
    }


def notice_message(reader: Reader, payload: Notice, notice: NoticeView | None) -> Rendered | None:
    """An outbox NOTICE row: the notice as the reader's channel shows it (None: it is gone)."""
    if notice is None:
        return None
    return (
        notice_text(reader.renderer, reader.locale, notice, reader.channel, reader.zone),
        notice_buttons(reader.renderer, reader.locale, notice, reader.channel),
    )


def notice_alike(reader: Reader, payload: Notice, notice: NoticeView | None) -> Hashable:
    """Readers of one language and channel for whom the notice shows the same date read the
    same message: a broadcast to 100,000 members is rendered a handful of times."""
    if notice is None:
        return None
    return notice.id, notice.sent_at.astimezone(reader.zone).date().isoformat()
