"""The delivery engine end to end: the real bot offline, scripted Bot API failures, crashes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.botapi import BotApiError, LocalBotApi
from bot.context import LiaisonApplication, Services
from messages.channels.base import OutboundMessage, SendResult
from messages.channels.telegram import GroupChatChannel, TelegramChannel
from messages.dispatcher import Dispatcher, DispatcherConfig
from scheduler.clock import FakeClock
from storage.db import Database
from storage.models import ChannelName, Delivery, DeliveryStatus, Group, GroupKind, Member
from storage.notices import create_notice
from storage.outbox import Claimed, RetryPolicy, claim_due, delivery_report
from tests.chat import Person
from tests.factories import make_group, make_member

SHANGHAI = ZoneInfo("Asia/Shanghai")


class RecordingSms:
    """Stands in for the SMS centre (the real SMPP channel has tests of its own)."""

    name = ChannelName.SMS

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.script: list[SendResult] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        if self.script:
            return self.script.pop(0)
        return SendResult.accepted(f"sms-{len(self.sent)}")


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


@pytest.fixture
def dispatcher(
    application: LiaisonApplication, services: Services, sms: RecordingSms
) -> Dispatcher:
    return Dispatcher(
        services.db,
        {
            ChannelName.TELEGRAM: TelegramChannel(application.bot),
            ChannelName.GROUP_CHAT: GroupChatChannel(application.bot),
            ChannelName.SMS: sms,
        },
        services.renderer,
        services.clock,
        default_locale="zh_CN",
        default_zone=SHANGHAI,
        config=DispatcherConfig(batch_size=3, policy=RetryPolicy(max_attempts=3)),
        rng=random.Random(7),
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
    # Deliveries go out in id order: members 0..4, then the group chat.
    bot_api.fail_next(
        "sendMessage", BotApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
    )
    bot_api.fail_next("sendMessage", BotApiError(403, "Forbidden: bot was blocked by the user"))
    bot_api.fail_next("sendMessage", BotApiError(400, "Bad Request: message text is empty"))
    bot_api.fail_next("sendMessage", BotApiError(502, "Bad Gateway"))
    bot_api.fail_next("sendMessage", BotApiError(500, "Internal Server Error"))
    bot_api.fail_next(
        "sendMessage",
        BotApiError(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": -100999},
        ),
    )
    await dispatcher.run_once()
    async with db.session() as session:
        rows = {d.dedupe_key: d for d in await session.scalars(select(Delivery))}
        blocked = await session.scalar(select(Member).where(Member.telegram_user_id == 5001))
        group = await session.scalar(select(Group))
    key = f"n{notice_id}:m"
    throttled = next(r for k, r in rows.items() if k.startswith(key) and r.address == "5000")
    assert throttled.status is DeliveryStatus.PENDING
    assert throttled.next_attempt_at - clock.now() == timedelta(seconds=1)
    assert rows[f"{key}{blocked.id}:telegram"].status is DeliveryStatus.FAILED if blocked else False
    assert blocked is not None and blocked.telegram_unreachable_at is not None
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


async def test_a_crash_mid_broadcast_loses_nothing_and_resends_only_what_was_in_flight(
    db: Database, clock: FakeClock, bot_api: LocalBotApi, dispatcher: Dispatcher
) -> None:
    await members(db, clock, 10)
    await notice(db, clock)
    await dispatcher.enqueue_due()

    async def send(batch: list[Claimed]) -> list[SendResult]:
        loaded = await dispatcher._load(batch)
        results = []
        for claimed in batch:
            message = dispatcher._message(claimed, loaded)
            assert isinstance(message, OutboundMessage)
            results.append(await dispatcher._deliver(claimed, message))
        return results

    # One batch gets through; the next is claimed and sent, then the process dies before
    # recording anything.
    first = await dispatcher._claim()
    await dispatcher._record(list(zip(first, await send(first), strict=True)))
    lost = await dispatcher._claim()
    await send(lost)
    async with db.session() as session:
        assert await claim_due(session, clock.now(), limit=100, lease=timedelta(minutes=5)) != []
    # A restarted dispatcher finishes the rest now and the lost batch after its lease.
    restarted = dispatcher
    await restarted.run_once()
    clock.advance(DispatcherConfig().lease + timedelta(seconds=1))
    await restarted.run_once()
    counts = [len(texts_to(bot_api, 5000 + i)) for i in range(10)]
    assert all(count >= 1 for count in counts)
    assert sum(counts) - 10 <= len(lost)  # duplicates only within the in-flight window
    assert set((await statuses(db)).values()) == {DeliveryStatus.DELIVERED}


async def test_a_long_notice_is_split_at_paragraphs_with_the_button_on_the_last_part(
    db: Database, clock: FakeClock, bot_api: LocalBotApi, dispatcher: Dispatcher
) -> None:
    await members(db, clock, 1)
    body = "\n\n".join(f"第{n}条：" + "学习内容" * 300 for n in range(4))
    await notice(db, clock, body)
    await dispatcher.run_once()
    parts = [m for m in bot_api.sent if m.chat_id == 5000]
    assert len(parts) == 2
    assert not parts[0].buttons
    assert parts[1].buttons
    # Cut between paragraphs: every paragraph is whole in exactly one part.
    assert parts[1].text.startswith("第3条")
    for n in range(4):
        paragraph = f"第{n}条：" + "学习内容" * 300
        assert sum(paragraph in part.text for part in parts) == 1


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
    english = Dispatcher(
        services.db,
        {ChannelName.GROUP_CHAT: GroupChatChannel(application.bot)},
        services.renderer,
        services.clock,
        default_locale="en",
        default_zone=SHANGHAI,
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
    dispatcher = Dispatcher(
        services.db,
        {ChannelName.SMS: sms},
        services.renderer,
        services.clock,
        default_locale="zh_CN",
        default_zone=SHANGHAI,
        # Two batches, each sent by several senders at once.
        config=DispatcherConfig(batch_size=2, concurrency=4),
        rng=random.Random(7),
    )
    await dispatcher.run_once()
    arrived = [next(b for b in bodies if b in m.text) for m in sms.sent]
    assert arrived == bodies
