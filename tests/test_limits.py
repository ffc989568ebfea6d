"""Telegram as it really is: its limits, its 429s, and one account that will not stop typing.

The Bot API of the tests keeps Telegram's limits strictly (no burst allowance) on a virtual
clock the bot paces itself on too, so a second of pacing takes no real time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.error import RetryAfter

from bot.botapi import BotApiError, Button, LocalBotApi, Outgoing, too_many_requests
from bot.context import LiaisonApplication
from bot.processing import ChatOrderedUpdates
from bot.terminal import html_to_text
from messages.channels.telegram import TelegramRateLimiter
from storage.clock import FakeClock, FakeMonotonic
from storage.db import Database
from storage.models import CheckIn, Consent
from tests.chat import Person, talk
from tests.factories import make_member

ALICE = 820_001
BOB = 820_002
FLOODER = 820_003
GROUP_CHAT = -100_820_000


async def member(db: Database, clock: FakeClock, user_id: int) -> None:
    await make_member(
        db,
        clock.now(),
        name=f"成员{user_id}",
        phone=f"+86139{user_id:08d}",
        telegram_user_id=user_id,
        consent=Consent.GIVEN,
    )


@pytest.fixture
async def alice(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> Person:
    await member(db, clock, ALICE)
    return Person(application, bot_api, ALICE)


@pytest.fixture
async def bob(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> Person:
    await member(db, clock, BOB)
    return Person(application, bot_api, BOB)


def limiter(application: LiaisonApplication) -> TelegramRateLimiter:
    rate_limiter = application.bot.rate_limiter
    assert isinstance(rate_limiter, TelegramRateLimiter)
    return rate_limiter


def to(api: LocalBotApi, chat_id: int) -> list[Outgoing]:
    """The messages that appeared in one chat (edits change a message, they add none)."""
    return [o for o in api.sent if o.chat_id == chat_id and not o.method.startswith("edit")]


def send(api: LocalBotApi, chat_id: int, text: str = "x") -> int | None:
    """sendMessage straight to the Bot API: None if taken, else the retry_after it answered."""
    try:
        api.handle("sendMessage", {"chat_id": chat_id, "text": text})
    except BotApiError as error:
        refused = error
    else:
        return None
    assert refused.code == 429
    assert refused.parameters is not None
    retry_after = int(refused.parameters["retry_after"])
    assert refused.description == f"Too Many Requests: retry after {retry_after}"
    return retry_after


def through_processor(
    application: LiaisonApplication, person: Person, line: str
) -> asyncio.Task[None]:
    """The update as `liaison serve` handles it: through the update processor, not around it."""
    update = Update.de_json(person.update_for(line), application.bot)
    return asyncio.create_task(
        application.update_processor.process_update(update, application.process_update(update))
    )


# --- the Bot API keeps Telegram's limits ------------------------------------------------


def test_one_message_a_second_in_a_private_chat() -> None:
    now = [100.0]
    api = LocalBotApi(clock=lambda: now[0])
    assert send(api, 1) is None
    now[0] += 0.5
    assert send(api, 1) == 1  # half a second later: refused, no burst allowed
    assert send(api, 2) is None  # another chat is not held
    # An edit adds no message to the chat: not held to the second.
    api.handle("editMessageText", {"chat_id": 1, "message_id": 1, "text": "y"})
    now[0] += 0.5
    assert send(api, 1) is None
    assert api.limits is not None and api.limits.refused == 1


def test_thirty_messages_a_second_overall() -> None:
    now = [100.0]
    api = LocalBotApi(clock=lambda: now[0])
    assert [send(api, chat) for chat in range(1, 31)] == [None] * 30
    assert send(api, 31) == 1
    api.handle("sendChatAction", {"chat_id": 31, "action": "typing"})  # not a message
    now[0] += 0.999
    assert send(api, 31) == 1
    now[0] += 0.001
    assert send(api, 31) is None


def test_twenty_messages_a_minute_in_a_group_chat() -> None:
    now = [100.0]
    api = LocalBotApi(clock=lambda: now[0])
    for _ in range(20):
        assert send(api, GROUP_CHAT) is None
        now[0] += 1.0
    assert send(api, GROUP_CHAT) == 40  # the first of the twenty leaves the minute at 160
    assert send(api, 5) is None  # a private chat is not held by the group's minute
    now[0] = 160.0
    assert send(api, GROUP_CHAT) is None


def test_limits_can_be_lifted() -> None:
    api = LocalBotApi(clock=lambda: 100.0, enforce_limits=False)
    assert [send(api, 1) for _ in range(50)] == [None] * 50


# --- the bot paces itself and rides out the 429s that come anyway --------------------


async def test_a_turn_of_two_messages_is_paced_not_refused(
    alice: Person, application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    await talk(
        alice,
        [
            ("/checkin", "1/3 您现在在哪里"),
            ("/loc 22.54 113.93", ["所在地：广东省 深圳市 南山区", "2/3 工作情况怎么样"]),
        ],
    )
    times = [o.at for o in to(bot_api, ALICE)]
    assert all(later - earlier >= 1.0 - 1e-6 for earlier, later in itertools.pairwise(times))
    assert bot_api.limits is not None and bot_api.limits.refused == 0  # no 429 was needed
    assert limiter(application).throttled == 0


async def test_a_429_on_a_reply_mid_conversation_only_delays_the_answer(
    alice: Person,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    monotonic: FakeMonotonic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await talk(alice, [("/checkin", "1/3 您现在在哪里")])
    bot_api.fail_next("sendMessage", too_many_requests(5), chat_id=ALICE)
    asked = monotonic.seconds()
    await talk(alice, [("武汉市江汉区", ["所在地：湖北省 武汉市 江汉区", "2/3 工作情况怎么样"])])
    assert "出了点问题" not in alice.last_text
    assert alice.last[0].at - asked >= 5  # Telegram said: retry after 5 seconds
    # Meanwhile her chat showed that the bot was typing.
    assert ("sendChatAction", {"chat_id": ALICE, "action": "typing"}) in bot_api.calls
    await talk(
        alice,
        [
            ("工作稳定", "想补充说明吗"),
            ("跳过", "3/3"),
            ("不需要", "请核对您的报到"),
            ("✅ 确认提交", "已保存，谢谢您"),
        ],
    )
    async with db.session() as session:
        assert len((await session.scalars(select(CheckIn))).all()) == 1
    assert limiter(application).throttled == 1
    assert "429 on sendMessage (reply): chat 820001 held for 5 s" in caplog.text


async def test_a_429_in_one_chat_holds_that_chat_only(
    alice: Person, bob: Person, bot_api: LocalBotApi, monotonic: FakeMonotonic
) -> None:
    monotonic.hold(longer_than=0.5)  # pacing between chats runs; a chat's wait is ours to end
    bot_api.fail_next("sendMessage", too_many_requests(30), chat_id=ALICE)
    asked = monotonic.seconds()
    alice_asks = asyncio.create_task(alice.say("/help"))
    await monotonic.someone_held()  # Alice's answer waits out its 30 seconds
    async with asyncio.timeout(10):  # were Bob held too, his turn would never end
        for line, expected in [("/help", "可用命令"), ("/where", "位置记录授权：已同意")]:
            await talk(bob, [(line, expected)])
            monotonic.advance(1.0)  # Bob reads, and types the next line
    assert to(bot_api, ALICE) == []  # Alice's chat is still held…
    assert len(to(bot_api, BOB)) == 2  # …and Bob was answered all along
    monotonic.release()
    await alice_asks
    (answer,) = to(bot_api, ALICE)
    assert "可用命令" in answer.text
    assert answer.at - asked >= 30


# --- one account cannot stall the others -------------------------------------------------


async def test_a_flooding_account_gets_one_slow_down_and_others_are_answered_at_once(
    alice: Person,
    bob: Person,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    monotonic: FakeMonotonic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    processor = application.update_processor
    assert isinstance(processor, ChatOrderedUpdates)
    assert (processor.max_updates, processor.window) == (20, 10.0)  # the settings' defaults
    monotonic.hold(longer_than=0.5)
    caplog.set_level(logging.WARNING, logger="bot.processing")
    start = monotonic.seconds()
    flood = [through_processor(application, alice, f"第{n}条") for n in range(50)]
    async with asyncio.timeout(10):  # were Bob behind Alice, the held clock would stop him
        await through_processor(application, bob, "/help")
    (answer,) = to(bot_api, BOB)
    assert "可用命令" in answer.text
    assert answer.at - start < 0.5  # not behind twenty of Alice's answers
    monotonic.release()
    await asyncio.gather(*flood)
    told = [html_to_text(o.text) for o in to(bot_api, ALICE)]
    slow_down = [text for text in told if "您发送得太快了" in text]
    assert len(slow_down) == 1  # one answer to the flood, not thirty
    assert len(told) == 20 + 1  # twenty handled, thirty dropped, the slow-down
    assert processor.dropped == 30
    assert "account 820001 is flooding: dropping its updates" in caplog.text
    # Once Alice slows down she is answered again, and the log counts what was dropped.
    monotonic.advance(10.0)
    await through_processor(application, alice, "/help")
    assert "可用命令" in to(bot_api, ALICE)[-1].text
    assert "account 820001 slowed down; 30 of its updates were dropped" in caplog.text


async def test_button_presses_dropped_in_a_flood_are_still_answered(
    alice: Person, application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    await alice.say("/checkin")
    question = alice.last[-1]
    flood = [through_processor(application, alice, f"第{n}条") for n in range(20)]
    presses = [
        Update.de_json(alice.updates.press(alice.user, question, button), application.bot)
        for button in [Button("✅", "checkin:confirm")] * 5
    ]
    processor = application.update_processor
    await asyncio.gather(
        *flood, *(processor.process_update(u, application.process_update(u)) for u in presses)
    )
    pressed = {u.callback_query.id for u in presses if u.callback_query is not None}
    answers = [
        params
        for method, params in bot_api.calls
        if method == "answerCallbackQuery" and params["callback_query_id"] in pressed
    ]
    # Each dropped press is answered (no spinner left turning), one slow-down message in all.
    assert len(answers) == 5
    assert {a["text"] for a in answers} == {"您按得太快了，请稍等片刻再按。"}
    told = [html_to_text(o.text) for o in to(bot_api, ALICE)]
    assert sum("您发送得太快了" in text for text in told) == 1


async def test_the_slow_down_answer_is_in_the_account_s_language(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    visitor = Person(application, bot_api, FLOODER, name="Visitor", language_code="en")
    await asyncio.gather(*(through_processor(application, visitor, "hello") for _ in range(21)))
    told = [html_to_text(o.text) for o in to(bot_api, FLOODER)]
    assert len(told) == 20 + 1
    assert sum("You are sending messages too fast" in text for text in told) == 1


async def test_chats_are_handled_concurrently_each_in_order(
    alice: Person, bob: Person, application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    lines = {
        alice: ["/checkin", "/loc 22.54 113.93", "/cancel"],
        bob: ["/checkin", "武汉江汉", "/cancel"],
    }
    tasks = [
        through_processor(application, person, line)
        for turn in range(3)
        for person, said in lines.items()
        for line in [said[turn]]
    ]
    await asyncio.gather(*tasks)
    for person, place in [
        (alice, "所在地：广东省 深圳市 南山区"),
        (bob, "所在地：湖北省 武汉市 江汉区"),
    ]:
        told = "\n".join(html_to_text(o.text) for o in bot_api.sent if o.chat_id == person.user_id)
        # In the order typed: the question, the place and the next question, then cancelled.
        assert told.index("1/3 您现在在哪里") < told.index(place) < told.index("2/3")
        assert told.index("2/3") < told.rindex("取消")


# --- what a 429 holds ---------------------------------------------------------------------


class FlakyApi:
    """A Bot API endpoint for the limiter alone: answers 429 once for one chat."""

    def __init__(self, clock: FakeMonotonic, chat_id: int, retry_after: int) -> None:
        self.clock = clock
        self.refuse: int | None = chat_id
        self.retry_after = retry_after
        self.sent: list[tuple[int, float]] = []

    async def __call__(self, endpoint: str, data: dict[str, Any]) -> bool:
        if data["chat_id"] == self.refuse:
            self.refuse = None
            raise RetryAfter(timedelta(seconds=self.retry_after))
        self.sent.append((data["chat_id"], self.clock.seconds()))
        return True


async def through(limiter: TelegramRateLimiter, api: FlakyApi, chat_id: int, *, bulk: bool) -> None:
    data = {"chat_id": chat_id, "text": "x"}
    await limiter.process_request(
        api, ("sendMessage", data), {}, "sendMessage", data, {"bulk": True} if bulk else None
    )


async def test_a_notice_s_429_goes_back_to_the_dispatcher_and_holds_that_chat_only() -> None:
    clock = FakeMonotonic()
    limiter = TelegramRateLimiter(clock=clock.seconds, sleep=clock.sleep)
    api = FlakyApi(clock, chat_id=1, retry_after=7)
    start = clock.seconds()
    with pytest.raises(RetryAfter):  # SendResult.retry: the dispatcher reschedules it
        await through(limiter, api, 1, bulk=True)
    await through(limiter, api, 2, bulk=True)
    assert api.sent == [(2, pytest.approx(start, abs=0.1))]  # another chat: at once
    await through(limiter, api, 1, bulk=True)
    assert api.sent[-1][1] - start >= 7  # this chat: after its retry_after
    assert limiter.throttled == 1


async def test_a_429_at_the_overall_rate_pauses_every_chat() -> None:
    clock = FakeMonotonic()
    limiter = TelegramRateLimiter(clock=clock.seconds, sleep=clock.sleep)
    api = FlakyApi(clock, chat_id=29, retry_after=3)
    # 28 chats in under a second, then a 429: Telegram most likely counted all of them.
    await asyncio.gather(*(through(limiter, api, chat, bulk=True) for chat in range(1, 29)))
    refused_at = clock.seconds()
    with pytest.raises(RetryAfter):
        await through(limiter, api, 29, bulk=True)
    await through(limiter, api, 30, bulk=False)  # a reply to another chat waits too
    assert api.sent[-1][0] == 30
    assert api.sent[-1][1] - refused_at >= 3
