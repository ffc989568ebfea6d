"""A district on a fake clock: run the scheduler and the dispatcher at chosen instants.

`at(instant)` is what the running service does at that instant: the scheduler's run_due,
then the dispatcher sends whatever is due. Telegram is the in-process Bot API; SMS is a
recorder (the real SMPP channel has tests of its own).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication, Services
from messages.channels.base import OutboundMessage, SendResult
from messages.dispatcher import DispatcherConfig
from scheduler.jobs import RunReport, run_due
from storage.clock import FakeClock
from storage.models import ChannelName, Delivery, DeliveryStatus, MessageKind
from tests.delivery import Deliver, Received, make_dispatcher

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    """A wall-clock time in zone: local(SHANGHAI, 2026, 12, 1, 9) is 09:00 in Wuhan."""
    return datetime(year, month, day, hour, minute, tzinfo=zone)


class RecordingSms:
    """Stands in for the SMS centre: accepts everything, remembers what and when."""

    name = ChannelName.SMS

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[datetime, OutboundMessage]] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append((self.clock.now(), message))
        return SendResult.accepted(f"sms-{len(self.sent)}", delivered=True)


class District:
    """The scheduler and the dispatcher of one service, driven instant by instant."""

    def __init__(
        self,
        services: Services,
        application: LiaisonApplication,
        api: LocalBotApi,
        clock: FakeClock,
    ) -> None:
        self.services = services
        self.api = api
        self.clock = clock
        self.sms = RecordingSms(clock)
        # When each Telegram message was sent (the Bot API does not know the fake time).
        self.telegram_times: list[datetime] = []
        api.subscribe(lambda _: self.telegram_times.append(clock.now()))
        self.dispatcher = make_dispatcher(
            services, application.bot, sms=self.sms, config=DispatcherConfig(batch_size=500)
        )
        self.deliver = Deliver(self.dispatcher, api)

    async def at(self, instant: datetime, *, send: bool = True) -> RunReport:
        """The service at instant: run everything due, then send what is due."""
        self.clock.set(instant)
        report = await run_due(self.services.db, instant, self.services.settings)
        if send:
            await self.dispatcher.run_once()
        return report

    async def send_due(self, instant: datetime) -> Received:
        """The dispatcher alone at instant; what each Telegram chat received."""
        self.clock.set(instant)
        return await self.deliver()

    async def kinds(self, member_id: int) -> Counter[str]:
        """How many deliveries of each kind a member has (every channel), sent or not."""
        async with self.services.db.session() as session:
            rows = await session.execute(
                select(Delivery.topic, func.count())
                .where(Delivery.member_id == member_id)
                .group_by(Delivery.topic)
            )
            return Counter({str(topic): count for topic, count in rows})

    async def staff_messages(self, staff_id: int, kind: MessageKind) -> list[Delivery]:
        async with self.services.db.session() as session:
            return list(
                await session.scalars(
                    select(Delivery)
                    .where(Delivery.staff_id == staff_id, Delivery.kind == kind)
                    .order_by(Delivery.id)
                )
            )

    async def member_topic(self, member_id: int, topic: str) -> list[Delivery]:
        async with self.services.db.session() as session:
            return list(
                await session.scalars(
                    select(Delivery).where(Delivery.member_id == member_id, Delivery.topic == topic)
                )
            )

    async def pending(self) -> list[Delivery]:
        async with self.services.db.session() as session:
            return list(
                await session.scalars(
                    select(Delivery).where(Delivery.status == DeliveryStatus.PENDING)
                )
            )
