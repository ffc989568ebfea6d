"""Notices by SMS end to end: the dispatcher, the real SMPP channel, a loopback SMS centre."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.context import Services
from messages.channels.sms import SmppChannel
from messages.dispatcher import Dispatcher, DispatcherConfig
from storage.clock import FakeClock
from storage.db import Database
from storage.models import ChannelName, Delivery, DeliveryStatus, GroupKind
from storage.notices import create_notice
from storage.outbox import RetryPolicy
from tests.delivery import make_dispatcher
from tests.factories import make_group, make_member
from tests.smsc import LoopbackSmsc

BODY = "本周六上午九点，民意街道党员之家开主题党日，请带好党员证。🙂 收到请回复。"


@pytest.fixture
async def smsc() -> AsyncIterator[LoopbackSmsc]:
    centre = LoopbackSmsc()
    await centre.start()
    yield centre
    await centre.stop()


class Receipts:
    """Counts receipts the dispatcher has recorded, so a test can wait for them."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    async def wait(self, count: int) -> None:
        async def until() -> None:
            while self.count < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), 5.0)


@pytest.fixture
def receipts() -> Receipts:
    return Receipts()


@pytest.fixture
async def dispatcher(
    services: Services, smsc: LoopbackSmsc, receipts: Receipts
) -> AsyncIterator[Dispatcher]:
    # The SMS channel reports receipts to the dispatcher: it is given its channel below.
    dispatcher = make_dispatcher(
        services, config=DispatcherConfig(policy=RetryPolicy(max_attempts=4))
    )

    async def recorded(external_id: str, delivered: bool, reason: str | None) -> None:
        await dispatcher.on_receipt(external_id, delivered, reason)
        receipts.count += 1
        receipts.changed.set()

    channel = SmppChannel(
        "127.0.0.1",
        smsc.port,
        "liaison",
        "secret",
        receipt_sink=recorded,
        rate=1000.0,
        connect_timeout=2.0,
        response_timeout=3.0,
        reconnect_min=0.02,
        reconnect_max=0.1,
        throttle_backoff=0.05,
    )
    dispatcher.channels = {ChannelName.SMS: channel}
    await channel.start()
    yield dispatcher
    await channel.close()


async def phone_members(db: Database, clock: FakeClock, count: int) -> None:
    group = await make_group(db, clock.now(), "汉正街市场党小组", GroupKind.WORKPLACE)
    for index in range(count):
        await make_member(
            db, clock.now(), name=f"商户{index}", phone=f"+86139{index:08d}", groups=[group]
        )
    async with db.session() as session:
        await create_notice(
            session,
            clock.now(),
            author="cli:test",
            author_name="花楼街道党工委",
            body=BODY,
            groups=["汉正街市场党小组"],
        )


async def rows(db: Database) -> list[Delivery]:
    async with db.session() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def test_sms_notices_arrive_whole_and_receipts_finish_them(
    db: Database, clock: FakeClock, dispatcher: Dispatcher, smsc: LoopbackSmsc, receipts: Receipts
) -> None:
    await phone_members(db, clock, 3)
    assert await dispatcher.run_once() == 3
    assert smsc.messages() == [f"【通知】{BODY} ——花楼街道党工委"] * 3
    sent = await rows(db)
    assert {row.status for row in sent} == {DeliveryStatus.SENT}
    await smsc.receipt(sent[0].external_id or "", "DELIVRD")
    await smsc.receipt(sent[1].external_id or "", "UNDELIV", err=11)
    await receipts.wait(2)
    final = await rows(db)
    assert [row.status for row in final] == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.SENT,
    ]
    assert "UNDELIV" in (final[1].last_error or "")


async def test_notices_wait_while_the_sms_centre_is_down_and_go_when_it_returns(
    db: Database, clock: FakeClock, dispatcher: Dispatcher, smsc: LoopbackSmsc
) -> None:
    await phone_members(db, clock, 2)
    await smsc.go_down()
    await dispatcher.run_once()
    waiting = await rows(db)
    assert {row.status for row in waiting} == {DeliveryStatus.PENDING}
    assert all(row.last_error for row in waiting)
    await smsc.come_back()
    clock.advance(timedelta(minutes=2))
    channel = dispatcher.channels[ChannelName.SMS]
    assert isinstance(channel, SmppChannel)
    await asyncio.wait_for(channel.wait_connected(), 5.0)
    await dispatcher.run_once()
    assert {row.status for row in await rows(db)} == {DeliveryStatus.SENT}
    assert len(smsc.messages()) == 2
