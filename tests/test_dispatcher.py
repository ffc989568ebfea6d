"""The delivery engine end to end: the real bot offline, scripted Bot API failures, crashes."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from telegram.ext import ExtBot

from bot.app import build_application
from bot.botapi import BotApiError, LocalBotApi, LocalBotApiRequest, Outgoing
from bot.context import LiaisonApplication, Services
from messages.channels.base import Channel, OutboundMessage, SendResult
from messages.channels.telegram import GroupChatChannel, TelegramChannel
from messages.dispatcher import Dispatcher, DispatcherConfig
from messages.kinds import KINDS
from storage import payloads
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    ChannelName,
    Delivery,
    DeliveryStatus,
    Group,
    GroupKind,
    Member,
    MessageKind,
)
from storage.notices import create_notice
from storage.outbox import RetryPolicy, delivery_report, enqueue_to_members
from storage.study import add_material
from tests.chat import Person
from tests.delivery import RecordingSms, make_dispatcher
from tests.factories import make_group, make_member


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


@pytest.fixture
def dispatcher(
    application: LiaisonApplication, services: Services, sms: RecordingSms
) -> Dispatcher:
    return make_dispatcher(
        services,
        application.bot,
        sms=sms,
        config=DispatcherConfig(batch_size=3, policy=RetryPolicy(max_attempts=3)),
    )


async def members(db: Database, clock: FakeClock, count: int, *, chat: int | None = None) -> Group:
    group = await make_group(db, clock.now(), "驻深圳党小组", GroupKind.DESTINATION)
    for index in range(count):
        await make_member(
            db,
            clock.now(),
            name=f"党员{index}",
            phone=f"+86138{index:08d}",
            telegram_user_id=5000 + index,
            groups=[group],
            locale="en" if index == 1 else None,
        )
    if chat is not None:
        async with db.session() as session:
            await session.execute(update(Group).where(Group.id == group.id).values(chat_id=chat))
    return group


async def notice(
    db: Database, clock: FakeClock, body: str = "周六上午九点，党员之家集合。<b>请准时</b>"
) -> int:
    async with db.session() as session:
        created = await create_notice(
            session,
            clock.now(),
            author="cli:test",
            author_name="区委组织部",
            body=body,
            groups=["驻深圳党小组"],
        )
    return created.id


async def statuses(db: Database) -> dict[str, DeliveryStatus]:
    async with db.session() as session:
        return {d.dedupe_key: d.status for d in await session.scalars(select(Delivery))}


def texts_to(api: LocalBotApi, chat_id: int) -> Sequence[str]:
    return [m.text for m in api.sent if m.chat_id == chat_id and m.method == "sendMessage"]


async def test_a_notice_reaches_every_member_in_their_language_with_a_received_button(
    db: Database,
    clock: FakeClock,
    bot_api: LocalBotApi,
    dispatcher: Dispatcher,
    application: LiaisonApplication,
) -> None:
    await members(db, clock, 5, chat=-100500)
    notice_id = await notice(db, clock)
    assert await dispatcher.run_once() == 6  # five members and the group chat
    for index in range(5):
        (text,) = texts_to(bot_api, 5000 + index)
        assert "周六上午九点" in text
        assert "&lt;b&gt;请准时&lt;/b&gt;" in text  # staff text is escaped
        assert ("Please press “Received”" in text) == (index == 1)
    (group_text,) = texts_to(bot_api, -100500)
    assert "收到" not in group_text  # no button in the group chat
    assert set((await statuses(db)).values()) == {DeliveryStatus.DELIVERED}
    assert await dispatcher.run_once() == 0  # nothing twice

    member = Person(application, bot_api, 5000)
    message = next(m for m in bot_api.sent if m.chat_id == 5000 and m.buttons)
    assert [b.text for b in message.flat_buttons] == ["✅ 收到"]
    async with db.session() as session:
        assert (await delivery_report(session, notice_id)).acknowledged == 0
    await member.send_update(member.updates.press(member.user, message, message.flat_buttons[0]))
    async with db.session() as session:
        report = await delivery_report(session, notice_id)
    assert report.acknowledged == 1
    assert report.acknowledged_names == ["党员0"]


async def test_bot_api_failures_are_classified(
    db: Database, clock: FakeClock, bot_api: LocalBotApi, dispatcher: Dispatcher, sms: RecordingSms
) -> None:
    await members(db, clock, 5, chat=-100500)
    notice_id = await notice(db, clock)
    # Each failure is pinned to its chat: senders run side by side, in no fixed order.
    for chat, error in (
        (5000, BotApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})),
        (5001, BotApiError(403, "Forbidden: bot was blocked by the user")),
        (5002, BotApiError(400, "Bad Request: message text is empty")),
        (5003, BotApiError(502, "Bad Gateway")),
        (5004, BotApiError(500, "Internal Server Error")),
        (
            -100500,
            BotApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": -100999},
            ),
        ),
    ):
        bot_api.fail_next("sendMessage", error, chat_id=chat)
    await dispatcher.run_once()
    async with db.session() as session:
        rows = {d.dedupe_key: d for d in await session.scalars(select(Delivery))}
        blocked = await session.scalar(select(Member).where(Member.telegram_user_id == 5001))
        group = await session.scalar(select(Group))
    key = f"n{notice_id}:m"
    throttled = next(r for k, r in rows.items() if k.startswith(key) and r.address == "5000")
    assert throttled.status is DeliveryStatus.PENDING
    assert throttled.next_attempt_at - clock.now() == timedelta(seconds=1)
    assert blocked is not None and blocked.telegram_unreachable_at is not None
    assert rows[f"{key}{blocked.id}:telegram"].status is DeliveryStatus.FAILED
    assert [m.address for m in sms.sent] == [f"+86138{1:08d}"]  # fell back to SMS at once
    bad = next(r for r in rows.values() if r.address == "5002")
    assert (bad.status, bad.last_error) == (
        DeliveryStatus.FAILED,
        "400 Message text is empty",
    )
    for address in ("5003", "5004"):
        server_error = next(r for r in rows.values() if r.address == address)
        assert server_error.status is DeliveryStatus.PENDING
        assert (
            timedelta(seconds=24)
            <= server_error.next_attempt_at - clock.now()
            <= timedelta(seconds=36)
        )
    assert group is not None and group.chat_id == -100999
    # The migrated group chat is retried at its new id straight away.
    assert texts_to(bot_api, -100999)

    # Later attempts succeed; nothing is left without a final state.
    clock.advance(timedelta(minutes=5))
    await dispatcher.run_once()
    final = await statuses(db)
    assert DeliveryStatus.PENDING not in final.values()
    assert DeliveryStatus.SENDING not in final.values()
    assert len(texts_to(bot_api, 5000)) == 1


async def test_a_timed_out_send_is_tried_again_later(
    db: Database, clock: FakeClock, bot_api: LocalBotApi, dispatcher: Dispatcher
) -> None:
    await members(db, clock, 1)
    await notice(db, clock)
    bot_api.fail_next("sendMessage", BotApiError(BotApiError.TIMEOUT, "Timed out"))
    await dispatcher.run_once()
    async with db.session() as session:
        row = await session.scalar(select(Delivery))
    assert row is not None
    assert (row.status, row.last_error) == (DeliveryStatus.PENDING, "timed out")
    assert timedelta(seconds=24) <= row.next_attempt_at - clock.now() <= timedelta(seconds=36)
    clock.advance(timedelta(minutes=1))
    await dispatcher.run_once()
    assert len(texts_to(bot_api, 5000)) == 1
    assert set((await statuses(db)).values()) == {DeliveryStatus.DELIVERED}


async def test_retries_end_in_failed_with_the_reason(
    db: Database, clock: FakeClock, bot_api: LocalBotApi, dispatcher: Dispatcher
) -> None:
    await members(db, clock, 1)
    await notice(db, clock)
    for _ in range(3):
        bot_api.fail_next("sendMessage", BotApiError(502, "Bad Gateway"))
    for _ in range(3):
        await dispatcher.run_once()
        clock.advance(timedelta(hours=1))
    async with db.session() as session:
        row = await session.scalar(select(Delivery))
    assert row is not None
    assert row.status is DeliveryStatus.FAILED
    assert row.last_error is not None and row.last_error.startswith("gave up after 3 attempts")


class DyingTelegram(TelegramChannel):
    """The real Telegram channel in a process that is killed after `lives` sends.

    Sends after the last one never come back (the process is gone mid-request); `dead` is
    set once the last send has gone, for the test to pull the plug.
    """

    def __init__(self, bot: ExtBot[Any], lives: int) -> None:
        super().__init__(bot)
        self.lives = lives
        self.started = self.answered = 0
        self.dead = asyncio.Event()

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.started == self.lives:
            await asyncio.Event().wait()  # never answers
        self.started += 1
        result = await super().send(message)
        self.answered += 1
        if self.answered == self.lives:
            self.dead.set()
        return result


def service_dispatcher(services: Services, channel: Channel) -> Dispatcher:
    """A dispatcher configured as `serve` configures it (claims sized for 30 messages/s)."""
    return make_dispatcher(
        services, channels={ChannelName.TELEGRAM: channel}, config=DispatcherConfig.for_rate(30.0)
    )


async def kill_after(services: Services, channel: DyingTelegram) -> None:
    """Run a service's dispatcher until its last send, then SIGKILL it: nothing more is
    sent, recorded or given back."""
    first = asyncio.create_task(service_dispatcher(services, channel).run_once())
    await channel.dead.wait()
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first


async def held_rows(db: Database) -> dict[int, datetime]:
    """The rows a dead dispatcher held (still `sending`), by chat, with their lease."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Delivery).where(Delivery.status == DeliveryStatus.SENDING)
        )
        return {int(row.address or 0): row.lease_until for row in rows if row.lease_until}


async def test_a_service_killed_mid_broadcast_resumes_within_30_seconds(
    db: Database,
    clock: FakeClock,
    bot_api: LocalBotApi,
    application: LiaisonApplication,
    services: Services,
) -> None:
    await members(db, clock, 240)
    await notice(db, clock)
    await kill_after(services, DyingTelegram(application.bot, lives=118))
    before = Counter(m.chat_id for m in bot_api.sent)
    assert sum(before.values()) == 118
    held = await held_rows(db)
    assert set(held.values()) == {clock.now() + timedelta(seconds=20)}  # not 5 minutes
    # Sent, but the kill came before the outcome was written: these will go twice.
    unrecorded = set(held) & set(before)

    clock.advance(timedelta(seconds=30))
    restarted = service_dispatcher(services, TelegramChannel(application.bot))
    assert await restarted.run_once() == 240 - 118 + len(unrecorded)
    received = Counter(m.chat_id for m in bot_api.sent)
    assert set(received) == {5000 + index for index in range(240)}
    assert {chat for chat, count in received.items() if count > 1} == unrecorded
    assert sum(received.values()) == 240 + len(unrecorded)
    assert set((await statuses(db)).values()) == {DeliveryStatus.DELIVERED}


async def test_a_killed_service_strands_only_a_few_seconds_of_sending(
    db: Database,
    clock: FakeClock,
    bot_api: LocalBotApi,
    application: LiaisonApplication,
    services: Services,
) -> None:
    await members(db, clock, 600)
    await notice(db, clock)
    await kill_after(services, DyingTelegram(application.bot, lives=118))
    held = await held_rows(db)
    unsent = set(held) - {m.chat_id for m in bot_api.sent}
    # Claims of 2 s at 30/s: one and a half claims queued, and 60 in the senders' hands.
    assert len(unsent) <= 150
    # Started again at once, the service sends everything nobody held...
    restarted = service_dispatcher(services, TelegramChannel(application.bot))
    assert await restarted.run_once() == 600 - 118 - len(unsent)
    # ...and the dead one's rows when their lease ends.
    clock.advance(timedelta(seconds=21))
    assert await restarted.run_once() == len(held)
    assert set(Counter(m.chat_id for m in bot_api.sent)) == {5000 + i for i in range(600)}


class SlowTelegram(TelegramChannel):
    """Telegram answering only when the test says so (a send held up by flood control)."""

    def __init__(self, bot: ExtBot[Any]) -> None:
        super().__init__(bot)
        self.started = asyncio.Event()
        self.answer = asyncio.Event()

    async def send(self, message: OutboundMessage) -> SendResult:
        self.started.set()
        await self.answer.wait()
        return await super().send(message)


class Heartbeat(Dispatcher):
    """The service's dispatcher, telling the test each time it has renewed its leases."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renewed = asyncio.Event()

    async def renew_leases(self) -> int:
        held = await super().renew_leases()
        self.renewed.set()
        return held

    async def next_renewal(self) -> None:
        # Two: one already under way may have read the time before the test moved it.
        for _ in range(2):
            self.renewed.clear()
            await asyncio.wait_for(self.renewed.wait(), 10)  # a deadline, not a wait


async def test_a_live_dispatcher_keeps_its_rows_however_long_a_send_takes(
    db: Database,
    clock: FakeClock,
    bot_api: LocalBotApi,
    application: LiaisonApplication,
    services: Services,
) -> None:
    await members(db, clock, 1)
    await notice(db, clock)
    slow = SlowTelegram(application.bot)
    working = make_dispatcher(
        services,
        channels={ChannelName.TELEGRAM: slow},
        # The heartbeat beats without pause here: the test moves the time, not the beats.
        config=DispatcherConfig.for_rate(30.0, renew_seconds=0),
        kind=Heartbeat,
    )
    run = asyncio.create_task(working.run_once())
    await slow.started.wait()
    other = service_dispatcher(services, TelegramChannel(application.bot))
    for _ in range(4):  # a minute, three times the lease
        clock.advance(timedelta(seconds=15))
        await working.next_renewal()
        assert await other.run_once() == 0  # the row is still taken
    slow.answer.set()
    assert await run == 1
    assert len(texts_to(bot_api, 5000)) == 1
    assert set((await statuses(db)).values()) == {DeliveryStatus.DELIVERED}


# About 5,400 characters in five paragraphs: two Telegram messages.
LONG_NOTICE = "\n\n".join(f"第{n}段：" + "学习内容" * 268 for n in range(5))
PARAGRAPHS = LONG_NOTICE.split("\n\n")


def assert_read_once(received: Sequence[Outgoing]) -> None:
    """The member read the whole long notice once: every paragraph in one message, once."""
    assert len(received) == 2
    for paragraph in PARAGRAPHS:
        assert sum(paragraph in m.text for m in received) == 1
    assert [bool(m.buttons) for m in received] == [False, True]


def refuse_after_part_1(api: LocalBotApi, chat_id: int) -> None:
    """Telegram answers 429 to the part after the member's first one (flood control)."""

    def listen(outgoing: Outgoing) -> None:
        if outgoing.chat_id == chat_id and len(texts_to(api, chat_id)) == 1:
            api.fail_next(
                "sendMessage",
                BotApiError(429, "Too Many Requests: retry after 3", {"retry_after": 3}),
            )

    api.subscribe(listen)


@contextlib.asynccontextmanager
async def restarted(services: Services) -> AsyncIterator[tuple[Dispatcher, LocalBotApi]]:
    """The service started again over the same database: a new Application and dispatcher."""
    api = LocalBotApi()
    app = build_application(services, request=LocalBotApiRequest(api))
    await app.initialize()
    try:
        yield service_dispatcher(services, TelegramChannel(app.bot)), api
    finally:
        await app.shutdown()


def to_member(api: LocalBotApi) -> list[Outgoing]:
    return [m for m in api.sent if m.chat_id == 5000]


async def parts_sent(db: Database) -> tuple[DeliveryStatus, int]:
    async with db.session() as session:
        row = await session.scalar(select(Delivery))
    assert row is not None
    return row.status, row.parts_sent


async def test_a_long_notice_refused_at_part_2_sends_only_part_2_again(
    db: Database, clock: FakeClock, bot_api: LocalBotApi, dispatcher: Dispatcher
) -> None:
    await members(db, clock, 1)
    await notice(db, clock, LONG_NOTICE)
    refuse_after_part_1(bot_api, 5000)
    await dispatcher.run_once()
    assert len(to_member(bot_api)) == 1
    assert await parts_sent(db) == (DeliveryStatus.PENDING, 1)
    clock.advance(timedelta(seconds=3))
    await dispatcher.run_once()
    assert_read_once(to_member(bot_api))
    assert (await parts_sent(db))[0] is DeliveryStatus.DELIVERED


async def test_a_long_notice_refused_at_part_2_is_finished_by_the_restarted_service(
    db: Database,
    clock: FakeClock,
    bot_api: LocalBotApi,
    dispatcher: Dispatcher,
    services: Services,
) -> None:
    await members(db, clock, 1)
    await notice(db, clock, LONG_NOTICE)
    refuse_after_part_1(bot_api, 5000)
    await dispatcher.run_once()
    clock.advance(timedelta(seconds=3))
    async with restarted(services) as (again, api):
        assert await again.run_once() == 1
    assert_read_once(to_member(bot_api) + to_member(api))
    assert (await parts_sent(db))[0] is DeliveryStatus.DELIVERED


class DiesAfterPart(TelegramChannel):
    """The process is killed right after the first part of a message went out."""

    def __init__(self, bot: ExtBot[Any]) -> None:
        super().__init__(bot)
        self.dead = asyncio.Event()

    async def send(self, message: OutboundMessage) -> SendResult:
        record = message.part_sent
        assert record is not None

        async def then_die(parts: int) -> None:
            await record(parts)
            self.dead.set()
            await asyncio.Event().wait()

        return await super().send(replace(message, part_sent=then_die))


async def test_a_service_killed_between_two_parts_sends_only_the_second_after_restart(
    db: Database,
    clock: FakeClock,
    bot_api: LocalBotApi,
    application: LiaisonApplication,
    services: Services,
) -> None:
    await members(db, clock, 1)
    await notice(db, clock, LONG_NOTICE)
    dying = DiesAfterPart(application.bot)
    first = asyncio.create_task(service_dispatcher(services, dying).run_once())
    await dying.dead.wait()
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert await parts_sent(db) == (DeliveryStatus.SENDING, 1)
    clock.advance(timedelta(seconds=30))
    async with restarted(services) as (again, api):
        assert await again.run_once() == 1
    assert len(to_member(bot_api)) == 1
    assert_read_once(to_member(bot_api) + to_member(api))
    assert await parts_sent(db) == (DeliveryStatus.DELIVERED, 2)


async def test_an_sms_receipt_finishes_its_row_even_when_it_beats_the_record(
    db: Database, clock: FakeClock, dispatcher: Dispatcher, sms: RecordingSms
) -> None:
    group = await make_group(db, clock.now(), "驻深圳党小组", GroupKind.DESTINATION)
    await make_member(db, clock.now(), phone="+8613900000001", groups=[group])
    await make_member(db, clock.now(), name="王芳", phone="+8613900000002", groups=[group])
    await notice(db, clock)
    original = sms.send

    async def quick_centre(message: OutboundMessage) -> SendResult:
        result = await original(message)
        # The centre's receipt arrives before the dispatcher has written the send.
        await dispatcher.on_receipt(
            result.external_id or "", message.address.endswith("1"), "UNDELIV"
        )
        return result

    sms.send = quick_centre  # type: ignore[method-assign]
    await dispatcher.run_once()
    async with db.session() as session:
        rows = {d.address: d for d in await session.scalars(select(Delivery))}
    assert rows["+8613900000001"].status is DeliveryStatus.DELIVERED
    assert rows["+8613900000002"].status is DeliveryStatus.FAILED
    assert rows["+8613900000002"].last_error == "not delivered: UNDELIV"


async def test_a_receipt_looked_for_before_its_send_is_committed_is_kept_until_it_is(
    db: Database, clock: FakeClock, dispatcher: Dispatcher, sms: RecordingSms
) -> None:
    # With several senders, one sender's record can look for another's receipt before
    # that other sender has committed its send: the receipt must not be dropped then.
    group = await make_group(db, clock.now(), "驻深圳党小组", GroupKind.DESTINATION)
    await make_member(db, clock.now(), phone="+8613900000001", groups=[group])
    await notice(db, clock)
    original = sms.send

    async def centre_with_a_receipt_in_flight(message: OutboundMessage) -> SendResult:
        result = await original(message)
        if result.external_id == "sms-1":
            await dispatcher.on_receipt("sms-2", False, "UNDELIV")  # the next send's receipt
        return result

    sms.send = centre_with_a_receipt_in_flight  # type: ignore[method-assign]
    await dispatcher.run_once()
    await make_member(db, clock.now(), name="王芳", phone="+8613900000002", groups=[group])
    await notice(db, clock, "第二条通知")
    await dispatcher.run_once()
    async with db.session() as session:
        rows = {d.external_id: d for d in await session.scalars(select(Delivery))}
    assert rows["sms-2"].status is DeliveryStatus.FAILED
    assert rows["sms-2"].last_error == "not delivered: UNDELIV"


async def test_a_member_who_blocked_the_bot_is_reachable_again_once_they_write(
    db: Database,
    clock: FakeClock,
    bot_api: LocalBotApi,
    dispatcher: Dispatcher,
    application: LiaisonApplication,
    sms: RecordingSms,
) -> None:
    await members(db, clock, 1)
    await notice(db, clock)
    bot_api.fail_next("sendMessage", BotApiError(403, "Forbidden: bot was blocked by the user"))
    await dispatcher.run_once()
    assert len(sms.sent) == 1  # the notice went by SMS instead
    await Person(application, bot_api, 5000).say("/where")
    await notice(db, clock, "第二条通知")
    await dispatcher.run_once()
    assert "第二条通知" in texts_to(bot_api, 5000)[-1]
    assert len(sms.sent) == 1


async def test_group_chats_read_the_notice_in_the_services_language(
    db: Database,
    clock: FakeClock,
    bot_api: LocalBotApi,
    application: LiaisonApplication,
    services: Services,
    sms: RecordingSms,
) -> None:
    english = make_dispatcher(
        services, channels={ChannelName.GROUP_CHAT: GroupChatChannel(application.bot)}, locale="en"
    )
    await members(db, clock, 0, chat=-100700)
    await notice(db, clock, "Party day moves to Saturday.")
    assert await english.run_once() == 1
    (text,) = texts_to(bot_api, -100700)
    assert "[Notice]" in text
    assert "Party day moves to Saturday." in text


class UnevenSms(RecordingSms):
    """A gateway whose earlier sends take longer: what arrives is in the order sends end."""

    def __init__(self) -> None:
        super().__init__()
        self.started = 0

    async def send(self, message: OutboundMessage) -> SendResult:
        self.started += 1
        for _ in range(max(0, 8 - 2 * self.started)):
            await asyncio.sleep(0)
        return await super().send(message)


async def test_one_members_messages_arrive_in_the_order_they_were_written(
    db: Database, services: Services, clock: FakeClock
) -> None:
    group = await make_group(db, clock.now(), "驻深圳党小组", GroupKind.DESTINATION)
    await make_member(db, clock.now(), name="王强", phone="+8613800000009", groups=[group])
    bodies = [f"第 {n} 条通知" for n in range(1, 5)]
    for body in bodies:
        await notice(db, clock, body)
    sms = UnevenSms()
    dispatcher = make_dispatcher(
        services,
        sms=sms,
        # Two batches, each sent by several senders at once.
        config=DispatcherConfig(batch_size=2, concurrency=4),
    )
    await dispatcher.run_once()
    arrived = [next(b for b in bodies if b in m.text) for m in sms.sent]
    assert arrived == bodies


# --- every kind of message, typed ----------------------------------------------------------

CATEGORY = payloads.Names(zh="子女入学", en="Schooling")
# One payload of every kind, its values in plain ASCII: what a reader finds in Chinese
# characters comes from the templates in their language.
SAMPLES: dict[MessageKind, payloads.Payload] = {
    sample.KIND: sample
    for sample in (
        payloads.Notice(),
        payloads.CheckInPrompt(period="2026-11"),
        payloads.CheckInReminder(period="2026-11", reminder=1),
        payloads.Escalation(
            period="2026-11",
            group="Group A",
            members=(payloads.SilentMember(id=1, name="Li", days=40),),
            total=1,
        ),
        payloads.LostContact(member_id=1, name="Li", since="2026-04-01", months=6, admin=True),
        payloads.Study(material_id=0),  # the material is made by the test
        payloads.RequestNew(
            request_id=7,
            member="Li",
            category=CATEGORY,
            description="school",
            due="2026-11-20 10:00",
        ),
        payloads.RequestUpdate(
            request_id=7, event="status", status="resolved", category=CATEGORY, closed=True
        ),
        payloads.RequestDue(request_id=7, member="Li", category=CATEGORY, due="2026-11-20 10:00"),
        payloads.RequestLate(request_id=7, member="Li", category=CATEGORY, due="2026-11-20 10:00"),
        payloads.RequestFeedback(request_id=7, member="Li", category=CATEGORY, solved=False),
        payloads.CertificateStep(certificate_id=3, step="issued", number="2026-0001"),
        payloads.CertificateReview(certificate_id=3, number="2026-0001", due_on="2027-11-15"),
        payloads.IdeaNew(id=5, kind="idea", member="Li", body="more talks"),
        payloads.IdeaReply(id=5, kind="idea", body="more talks", event="reply", reply="yes"),
        payloads.RightsNew(id=4, kind="correct", member="Li", field="workplace", value="Hankou"),
        payloads.RightsReply(
            id=4, kind="correct", status="approved", field="workplace", value="Hankou"
        ),
        payloads.QqRest(until=datetime(2026, 11, 16, 4, 0, tzinfo=UTC), reason="retcode 100"),
        payloads.SmsReply(what="stopped"),
        payloads.SmsAnswer(text="See you on <Sunday>.", signature="Li"),
        payloads.ActivityInvite(
            activity_id=3,
            kind="forum",
            title="Members' forum",
            starts="2026-12-05 14:00",
            ends="16:00",
            place="Minyi members' home",
            address="12 Minyi Road",
            capacity=30,
            organiser="Li",
        ),
        payloads.ActivityReminder(
            activity_id=3,
            kind="class",
            title="Class at the tea company",
            starts="2026-12-05 14:00",
            ends="16:00",
            address="8 Jianghan Road",
            organiser="Li",
        ),
        payloads.Commended(year=2026, citation="Always <first> to help"),
        payloads.ActivityCancel(
            activity_id=3,
            kind="forum",
            title="Members' forum",
            starts="2026-12-05 14:00",
            ends="16:00",
            address="12 Minyi Road",
            organiser="Li",
            reason="Storm <warning>",
        ),
        payloads.ActivityChange(
            activity_id=3,
            kind="forum",
            title="Members' forum",
            starts="2026-12-12 14:00",
            ends="16:00",
            address="12 Minyi Road",
            capacity=40,
            organiser="Li",
            changed=["time", "capacity"],
            was_starts="2026-12-05 14:00",
            was_ends="16:00",
            was_address="12 Minyi Road",
            was_capacity=30,
        ),
        payloads.ActivityPlace(
            activity_id=3,
            kind="forum",
            title="Members' forum",
            starts="2026-12-05 14:00",
            ends="16:00",
            address="12 Minyi Road",
            organiser="Li",
        ),
    )
}


def chinese(text: str) -> bool:
    return any("\u4e00" <= character <= "\u9fff" for character in text)


async def test_every_kind_is_enqueued_typed_and_rendered_in_each_readers_language(
    db: Database, clock: FakeClock, dispatcher: Dispatcher, bot_api: LocalBotApi
) -> None:
    assert set(SAMPLES) == set(MessageKind) == set(KINDS)
    assert all(kind.payload is type(SAMPLES[name]) for name, kind in KINDS.items())
    group = await members(db, clock, 2)  # 党员0 reads Chinese, 党员1 English
    async with db.session() as session:
        await create_notice(
            session,
            clock.now(),
            author="cli:test",
            author_name="The district",
            body="Saturday 9:00",
            groups=[group.name],
        )
        material = await add_material(
            session, clock.now(), actor="cli:test", title="Lesson one", body="Read this"
        )
        for kind, sample in SAMPLES.items():
            if kind is MessageKind.NOTICE:
                continue
            if kind is MessageKind.STUDY:
                sample = payloads.Study(material_id=material.id)
            await enqueue_to_members(
                session,
                clock.now(),
                payload=sample,
                topic=f"sample:{kind.value}",
                condition=Member.groups.any(Group.id == group.id),
            )
    await dispatcher.run_once()
    async with db.session() as session:
        rows = list(await session.scalars(select(Delivery)))
    # What was stored reads back as the payload it was written from.
    for row in rows:
        if row.kind is not MessageKind.STUDY:
            assert KINDS[row.kind].payload.read(row.payload) == SAMPLES[row.kind]
    assert Counter(row.status for row in rows) == {DeliveryStatus.DELIVERED: 2 * len(MessageKind)}
    in_chinese, in_english = texts_to(bot_api, 5000), texts_to(bot_api, 5001)
    assert len(in_chinese) == len(in_english) == len(MessageKind)
    assert all(chinese(text) for text in in_chinese), in_chinese
    assert [text for text in in_english if chinese(text)] == []


async def test_a_stored_payload_that_does_not_read_fails_its_delivery_with_the_reason(
    db: Database, clock: FakeClock, dispatcher: Dispatcher, bot_api: LocalBotApi
) -> None:
    group = await members(db, clock, 1)
    async with db.session() as session:
        for kind in (MessageKind.REQUEST_UPDATE, MessageKind.ESCALATION, MessageKind.IDEA_REPLY):
            await enqueue_to_members(
                session,
                clock.now(),
                payload=SAMPLES[kind],
                topic=f"sample:{kind.value}",
                condition=Member.groups.any(Group.id == group.id),
            )
        # As an older (or broken) version might have left them: a key gone, a wrong type.
        for kind, stored in (
            (MessageKind.REQUEST_UPDATE, {"event": "status", "status": "resolved"}),
            (MessageKind.ESCALATION, {"period": "2026-11", "group": "A", "members": 3, "total": 1}),
        ):
            await session.execute(
                update(Delivery).where(Delivery.kind == kind).values(payload=stored)
            )
    await dispatcher.run_once()
    async with db.session() as session:
        rows = {row.kind: row for row in await session.scalars(select(Delivery))}
    broken = rows[MessageKind.REQUEST_UPDATE]
    assert broken.status is DeliveryStatus.FAILED
    assert broken.last_error == "unreadable request_update payload: request_id: Field required"
    assert rows[MessageKind.ESCALATION].status is DeliveryStatus.FAILED
    assert (rows[MessageKind.ESCALATION].last_error or "").startswith(
        "unreadable escalation payload: members:"
    )
    # The rest of the batch went: one bad row does not hold up the others.
    assert rows[MessageKind.IDEA_REPLY].status is DeliveryStatus.DELIVERED
    (reply,) = texts_to(bot_api, 5000)
    assert "more talks" in reply
