"""QQ over OneBot v11, end to end: a QQ host double (tests/onebot_peer.py, written from the
spec apart from the channel) dials Liaison's reverse WebSocket; members bind and check in
in QQ private chat, notices reach QQ members and a linked QQ group at the account's pace,
risk control rests QQ and members fall back, and a host that drops and dials again loses
nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.context import Services
from bot.qq import QqTransport, running_qq
from bot.terminal import html_to_text
from messages.channels.qq import QqChannel
from messages.dispatcher import Dispatcher
from messages.kinds import KINDS
from messages.render import Reader, Renderer
from storage import qq_choices, qq_rest
from storage.activities import cancel_activity, create_activity
from storage.clock import FakeClock, FakeMonotonic
from storage.db import Database
from storage.erasure import erase_member
from storage.group_chats import link_group_chat
from storage.models import (
    ActivityAnswer,
    ActivityInvitation,
    ActivityKind,
    AuditEvent,
    ChannelName,
    CheckIn,
    Consent,
    ConsoleLink,
    Delivery,
    DeliveryStatus,
    Group,
    InviteGuard,
    Member,
    MessageKind,
    NoticeReceipt,
    Platform,
    StaffRole,
)
from storage.notices import create_notice
from storage.payloads import QqRest
from tests.delivery import make_dispatcher
from tests.factories import make_group, make_invite, make_member, make_staff
from tests.onebot_peer import OneBotPeer, PeerRefused

TOKEN = "qq-host-token-for-tests"
ALICE_QQ = 1_234_567
ADMIN_QQ = 7_654_321
ADMIN_TG = 9_001
QQ_GROUP = 88_000_111
BOT_QQ = 3_000_000_001


def listening(services: Services) -> Services:
    """The test's services with QQ on: a free loopback port, the token, a 3 s interval."""
    settings = services.settings.model_copy(
        update={
            "onebot_listen": "127.0.0.1:0",
            "onebot_access_token": SecretStr(TOKEN),
            "qq_send_interval": 3.0,
        }
    )
    return dataclasses.replace(services, settings=settings)


@pytest.fixture
async def qq(services: Services, monotonic: FakeMonotonic) -> AsyncIterator[QqTransport]:
    """Liaison listening for a QQ host, paced on virtual time."""
    async with running_qq(listening(services), monotonic=monotonic) as transport:
        assert transport is not None
        yield transport


def url(qq: QqTransport) -> str:
    return f"ws://127.0.0.1:{qq.account.server.port}/onebot/v11/ws"


@pytest.fixture
async def host(qq: QqTransport) -> AsyncIterator[OneBotPeer]:
    peer = OneBotPeer(url(qq), self_id=BOT_QQ, token=TOKEN)
    await peer.connect()
    await qq.account.server.wait_connected()
    yield peer
    await peer.close()


def qq_dispatcher(services: Services, qq: QqTransport) -> Dispatcher:
    return make_dispatcher(
        services,
        channels={
            ChannelName.QQ: QqChannel(qq.account, ChannelName.QQ, html_to_text, qq.show),
            ChannelName.QQ_GROUP: QqChannel(qq.account, ChannelName.QQ_GROUP, html_to_text),
        },
    )


async def qq_members(
    db: Database,
    clock: FakeClock,
    group: Group,
    count: int,
    *,
    first_qq: int = ALICE_QQ,
    with_phones: bool = False,
) -> list[Member]:
    """count members of group on QQ (first_qq, first_qq + 1, …), with phones or QQ only."""
    return [
        await make_member(
            db,
            clock.now(),
            name=f"成员{number}",
            phone=f"+861380000000{number}" if with_phones else None,
            qq_user_id=first_qq + number,
            consent=Consent.GIVEN,
            groups=[group],
        )
        for number in range(count)
    ]


async def notice(db: Database, clock: FakeClock, group: Group, body: str) -> None:
    """A liaison's notice to group, due now."""
    async with db.session() as session:
        await create_notice(
            session,
            clock.now(),
            author="cli",
            author_name="区委组织部",
            body=body,
            groups=[group.name],
        )


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Let the service work until condition holds (what it waits on tells no one)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (the gate signals no one; a test may poll)
            await asyncio.sleep(0.005)


async def say(host: OneBotPeer, user_id: int, text: str, **options: object) -> str:
    """The member types text in QQ; what the bot answered (one QQ message per turn)."""
    before = len(host.texts_to(user_id=user_id))
    await host.private_message(user_id, text, **options)  # type: ignore[arg-type]
    await host.wait_for(lambda: len(host.texts_to(user_id=user_id)) > before)
    return "\n".join(host.texts_to(user_id=user_id)[before:])


async def test_a_member_binds_in_qq_and_checks_in_by_numbers(
    qq: QqTransport, host: OneBotPeer, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, clock.now())
    member = await make_member(db, clock.now(), groups=[group])
    code = await make_invite(db, clock.now(), member)

    bound = await say(host, ALICE_QQ, f"绑定 {code}")
    assert "绑定成功" in bound and "[1] " in bound and "回复数字选择" in bound
    assert "已记录" in await say(host, ALICE_QQ, "1")  # the first choice: 同意
    asked = await say(host, ALICE_QQ, "/checkin")
    assert "您现在在哪里" in asked
    # A typed place, then the work question's first choice by its number, in full width.
    assert "工作情况" in await say(host, ALICE_QQ, "武汉江汉区")
    assert "想补充说明吗" in await say(host, ALICE_QQ, "１")
    await say(host, ALICE_QQ, "跳过")
    summary = await say(host, ALICE_QQ, "不需要")
    assert "请核对您的报到" in summary
    # The member's "[CQ:face,id=1]" is text, never a code: Liaison sends segment arrays.
    assert "已保存" in await say(host, ALICE_QQ, "✅ 确认提交")

    async with db.session() as session:
        saved = await session.get(Member, member.id)
        checkins = list(await session.scalars(select(CheckIn)))
    assert saved is not None and (saved.qq_user_id, saved.telegram_user_id) == (ALICE_QQ, None)
    assert saved.consent is Consent.GIVEN
    assert len(checkins) == 1 and checkins[0].member_id == member.id
    assert all(not sent.cq_codes and sent.message_format == "array" for sent in host.sent)


async def test_the_same_number_on_telegram_is_somebody_else(
    qq: QqTransport, host: OneBotPeer, db: Database, clock: FakeClock
) -> None:
    # A Telegram account with the QQ number's digits is bound; the QQ account is not.
    await make_member(db, clock.now(), telegram_user_id=ALICE_QQ, consent=Consent.GIVEN)
    answer = await say(host, ALICE_QQ, "/checkin")
    assert "您现在在哪里" not in answer and "/start" in answer


async def test_cq_code_strings_and_location_segments_are_understood(
    qq: QqTransport, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, clock.now())
    await make_member(db, clock.now(), qq_user_id=ALICE_QQ, consent=Consent.GIVEN, groups=[group])
    async with OneBotPeer(url(qq), self_id=BOT_QQ, token=TOKEN, message_format="string") as host:
        asked = await say(host, ALICE_QQ, "/checkin")
        assert "您现在在哪里" in asked and "[1] 📍 发送我的位置（在 QQ 里发送位置" in asked
        # QQ has no "send my location" button: its number says how to share one in QQ.
        assert "点输入框旁的“＋”" in await say(host, ALICE_QQ, "1")
        # A QQ location (go-cqhttp writes it as a CQ code) is the member's pin.
        before = len(host.texts_to(user_id=ALICE_QQ))
        await host.location(ALICE_QQ, 30.58, 114.27, title="武汉")
        await host.wait_for(lambda: len(host.texts_to(user_id=ALICE_QQ)) > before)
        assert "工作情况" in host.texts_to(user_id=ALICE_QQ)[-1]
        # Words that are no choice: the member is asked for a number, not a button.
        assert "请回复选项前的数字" in await say(host, ALICE_QQ, "随便")


async def test_a_wrong_token_is_refused_before_any_event(qq: QqTransport) -> None:
    with pytest.raises(PeerRefused) as refused:
        await OneBotPeer(url(qq), self_id=BOT_QQ, token="wrong").connect()
    assert refused.value.status == 403
    with pytest.raises(PeerRefused) as missing:
        await OneBotPeer(url(qq), self_id=BOT_QQ, token=None).connect()
    assert missing.value.status == 401
    assert not qq.account.server.connected


async def test_a_notice_reaches_qq_members_and_the_linked_qq_group_paced(
    qq: QqTransport,
    host: OneBotPeer,
    services: Services,
    db: Database,
    clock: FakeClock,
    monotonic: FakeMonotonic,
) -> None:
    group = await make_group(db, clock.now())
    first, *_ = await qq_members(db, clock, group, 3, with_phones=True)
    async with db.session() as session:
        await link_group_chat(
            session,
            clock.now(),
            group_name=group.name,
            chat_id=QQ_GROUP,
            chat_title=None,
            staff_id=None,
            actor="cli",
            platform=Platform.QQ,
        )
    await notice(db, clock, group, "周六上午九点组织生活会")
    dispatcher = qq_dispatcher(services, qq)
    start = monotonic.seconds()
    # Held rows come back when their slot comes: run the outbox until everything is out.
    for _ in range(20):
        await dispatcher.run_once()
        if len([s for s in host.sent if s.is_message]) == 4:
            break
        clock.advance(timedelta(seconds=4))
    messages = [s for s in host.sent if s.is_message]
    assert len(messages) == 4
    assert {s.group_id for s in messages if s.group_id} == {QQ_GROUP}
    assert all("周六上午九点组织生活会" in s.text for s in messages)
    # One message every 3 s at most, private and group together (on the account's clock).
    assert monotonic.seconds() - start >= 3 * 3
    async with db.session() as session:
        rows = list(await session.scalars(select(Delivery)))
    assert {r.channel for r in rows} == {ChannelName.QQ, ChannelName.QQ_GROUP}
    assert {r.status for r in rows} == {DeliveryStatus.DELIVERED}
    # A member's copy has the "received" button as a choice; the group's has none.
    [own] = host.texts_to(user_id=ALICE_QQ)
    [posted] = host.texts_to(group_id=QQ_GROUP)
    assert "[1] ✅ 收到" in own and "[1]" not in posted
    assert "收到" in await say(host, ALICE_QQ, "1")
    async with db.session() as session:
        receipts = list(await session.scalars(select(NoticeReceipt)))
    assert [r.member_id for r in receipts] == [first.id]


async def test_risk_control_rests_qq_alerts_the_admins_once_and_members_fall_back(
    qq: QqTransport,
    host: OneBotPeer,
    services: Services,
    db: Database,
    clock: FakeClock,
) -> None:
    group = await make_group(db, clock.now())
    await make_staff(db, clock.now(), telegram_user_id=ADMIN_TG, role=StaffRole.ADMIN)
    with_phone = await make_member(
        db, clock.now(), qq_user_id=ALICE_QQ, phone="+8613800000001", groups=[group]
    )
    qq_only = await make_member(
        db, clock.now(), name="王芳", qq_user_id=ALICE_QQ + 1, phone=None, groups=[group]
    )
    await notice(db, clock, group, "通知")
    host.answer_all(100, message="账号被风控")
    await qq_dispatcher(services, qq).run_once()

    assert qq.account.resting() > 3600
    async with db.session() as session:
        rows = list(await session.scalars(select(Delivery).order_by(Delivery.id)))
        rests = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "qq.rest"))
        )
    by_member = {(r.member_id, r.channel): r for r in rows}
    # The member with a phone: QQ failed with the reason, an SMS waits to go.
    assert by_member[(with_phone.id, ChannelName.QQ)].status is DeliveryStatus.FAILED
    assert "retcode 100" in (by_member[(with_phone.id, ChannelName.QQ)].last_error or "")
    assert by_member[(with_phone.id, ChannelName.SMS)].status is DeliveryStatus.PENDING
    # QQ only: the message waits for QQ to be back; nothing is lost.
    waiting = by_member[(qq_only.id, ChannelName.QQ)]
    assert waiting.status is DeliveryStatus.PENDING
    assert waiting.next_attempt_at >= clock.now() + timedelta(hours=5)
    # The admins hear it once, however many sends were refused.
    alerts = [r for r in rows if r.staff_id is not None]
    assert len(alerts) == 1 and alerts[0].address == str(ADMIN_TG)
    assert len(rests) == 1
    # During the rest nothing more is tried over QQ.
    sent_before = len(host.sent)
    await qq_dispatcher(services, qq).run_once()
    assert len(host.sent) == sent_before


async def test_the_host_drops_mid_broadcast_and_every_delivery_ends_once(
    qq: QqTransport,
    host: OneBotPeer,
    services: Services,
    db: Database,
    clock: FakeClock,
) -> None:
    group = await make_group(db, clock.now())
    await qq_members(db, clock, group, 4)
    await notice(db, clock, group, "通知")
    dispatcher = qq_dispatcher(services, qq)
    # The second message is never answered: the host hangs mid-broadcast and goes away.
    host.silence_next("send_private_msg")
    qq.account.server.action_timeout = 0.2
    await host.drop()
    await dispatcher.run_once()
    async with db.session() as session:
        waiting = list(await session.scalars(select(Delivery)))
    assert {r.status for r in waiting} == {DeliveryStatus.PENDING}
    assert all(r.attempts == 0 for r in waiting)  # waiting for the host is no failed attempt

    await host.connect()
    await qq.account.server.wait_connected()
    for _ in range(20):
        clock.advance(timedelta(seconds=31))
        await dispatcher.run_once()
        async with db.session() as session:
            rows = list(await session.scalars(select(Delivery)))
        if all(r.status is DeliveryStatus.DELIVERED for r in rows):
            break
    assert {r.status for r in rows} == {DeliveryStatus.DELIVERED}
    delivered_to = [s.user_id for s in host.sent if s.is_message and s.delivered]
    assert sorted(delivered_to) == [ALICE_QQ + n for n in range(4)]


async def test_a_staff_member_links_a_qq_group_from_inside_it(
    qq: QqTransport, host: OneBotPeer, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, clock.now())
    await make_staff(
        db, clock.now(), telegram_user_id=ADMIN_TG, qq_user_id=ADMIN_QQ, groups=[group]
    )
    # Members chatting in the group are not talking to the bot.
    await host.group_message(QQ_GROUP, ALICE_QQ, "大家好")
    await host.group_message(QQ_GROUP, ALICE_QQ, f"/linkgroup {group.name}")  # not staff
    await host.wait_for(lambda: len(host.texts_to(group_id=QQ_GROUP)) >= 1)
    assert (
        "联络员" in host.texts_to(group_id=QQ_GROUP)[-1]
        or "staff" in host.texts_to(group_id=QQ_GROUP)[-1].lower()
    )
    await host.group_message(QQ_GROUP, ADMIN_QQ, f"/linkgroup {group.name}", role="admin")
    await host.wait_for(lambda: len(host.texts_to(group_id=QQ_GROUP)) >= 2)
    async with db.session() as session:
        linked = await session.get(type(group), group.id)
    assert linked is not None and linked.qq_group_id == QQ_GROUP and linked.chat_id is None


def test_the_rest_alert_reads_in_both_languages(renderer: Renderer) -> None:
    until = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    for locale, words in (("zh_CN", "QQ 发送已暂停"), ("en", "QQ sending paused")):
        reader = Reader(renderer, locale, ZoneInfo("Asia/Shanghai"), ChannelName.TELEGRAM)
        text, buttons = KINDS[MessageKind.QQ_SUSPENDED].render(
            reader, QqRest(until=until, reason="retcode 100: <账号被风控>"), None
        )
        # In the admin's time zone; the host's words escaped.
        assert words in text and "2026-12-07 20:00" in text and "&lt;账号被风控&gt;" in text
        assert buttons == ()


async def test_a_members_reply_goes_before_the_notices_waiting_to_be_sent(
    qq: QqTransport,
    host: OneBotPeer,
    services: Services,
    db: Database,
    clock: FakeClock,
    monotonic: FakeMonotonic,
) -> None:
    group = await make_group(db, clock.now())
    await qq_members(db, clock, group, 5, first_qq=ALICE_QQ + 1)
    await make_member(db, clock.now(), name="赵六", phone=None, qq_user_id=ALICE_QQ)
    await notice(db, clock, group, "通知")
    # The account's clock stands still: the first notice goes, the next ones wait their turn.
    monotonic.hold(0.0)
    broadcast = asyncio.create_task(qq_dispatcher(services, qq).run_once())
    await host.wait_for(lambda: len(host.sent) == 1)
    await monotonic.someone_held()
    await host.private_message(ALICE_QQ, "/help")
    # The next notice waits at the gate (the rest in the outbox); now the reply waits too.
    await until(lambda: qq.account.gate.urgent_waiting == 1)
    assert qq.account.gate.waiting >= 2
    monotonic.release()
    await broadcast
    await host.wait_for(lambda: len(host.texts_to(user_id=ALICE_QQ)) == 1)
    order = [s.user_id for s in host.sent if s.is_message]
    # The reply took the very next slot, before the notices queued before it.
    assert order[0] != ALICE_QQ and order[1] == ALICE_QQ
    assert "/checkin" in host.texts_to(user_id=ALICE_QQ)[0]


async def test_a_host_that_stops_its_heartbeats_is_hung_up_on_and_may_dial_again(
    qq: QqTransport, host: OneBotPeer
) -> None:
    await host.heartbeat(interval=50)  # milliseconds, as OneBot writes it
    # No more heartbeats: after a few intervals Liaison hangs up, and the host dials again.
    await host.wait_for(lambda: not host.connected, within=5)
    assert not qq.account.server.connected
    await host.connect()
    await qq.account.server.wait_connected()
    assert qq.account.server.connected


async def test_a_qq_account_already_bound_keeps_its_member(
    qq: QqTransport, host: OneBotPeer, db: Database, clock: FakeClock
) -> None:
    await make_member(db, clock.now(), name="张伟", qq_user_id=ALICE_QQ, consent=Consent.GIVEN)
    other = await make_member(db, clock.now(), name="王芳", phone="+8613800000009")
    code = await make_invite(db, clock.now(), other)
    answer = await say(host, ALICE_QQ, f"/start {code}")
    assert "这个 QQ 账号已经绑定了党员" in answer and "张伟" in answer


async def test_numbered_choices_survive_a_restart(
    services: Services, monotonic: FakeMonotonic, db: Database, clock: FakeClock
) -> None:
    await make_member(db, clock.now(), qq_user_id=ALICE_QQ, consent=Consent.GIVEN)
    running = listening(services)
    async with running_qq(running, monotonic=monotonic) as first:
        assert first is not None
        async with OneBotPeer(url(first), self_id=BOT_QQ, token=TOKEN) as host:
            await say(host, ALICE_QQ, "/checkin")
            assert "[1] 工作稳定" in await say(host, ALICE_QQ, "武汉江汉区")
    # The service stops and starts again; the member answers the question they were asked.
    async with running_qq(running, monotonic=monotonic) as second:
        assert second is not None
        async with OneBotPeer(url(second), self_id=BOT_QQ, token=TOKEN) as host:
            assert "工作情况：工作稳定" in await say(host, ALICE_QQ, "1")


async def test_an_administrator_ends_the_rest_and_qq_sends_again(
    services: Services, monotonic: FakeMonotonic, db: Database, clock: FakeClock
) -> None:
    running = listening(services)
    async with db.session() as session:
        await qq_rest.begin(session, clock.now(), clock.now() + timedelta(hours=6), "retcode 100")
    # A restart does not end the rest early.
    async with running_qq(running, monotonic=monotonic, rest_check=0.01) as qq:
        assert qq is not None and qq.account.resting() > 5 * 3600
        async with db.session() as session:
            assert await qq_rest.end(session, clock.now(), actor="cli:admin") is not None
        await until(lambda: qq.account.resting() == 0)


async def test_erasing_a_member_forgets_their_qq_account_and_chat(
    qq: QqTransport, host: OneBotPeer, db: Database, clock: FakeClock
) -> None:
    member = await make_member(db, clock.now(), qq_user_id=ALICE_QQ, consent=Consent.GIVEN)
    await say(host, ALICE_QQ, "/checkin")  # a conversation open, its choices remembered
    await say(host, ALICE_QQ, "武汉江汉区")
    async with db.session() as session:
        session.add(InviteGuard(platform=Platform.QQ, user_id=ALICE_QQ, failures=2))
        # The same number on Telegram is somebody else: theirs stays.
        session.add(InviteGuard(platform=Platform.TELEGRAM, user_id=ALICE_QQ, failures=1))
    async with db.session() as session:
        report = await erase_member(session, clock.now(), member.id, actor="cli", request_id=None)
    assert report.deleted["conversations"] == 1 and report.deleted["invite_guards"] == 1
    async with db.session() as session:
        assert await qq_choices.load(session, ALICE_QQ) is None
        guards = list(await session.scalars(select(InviteGuard)))
        assert [(g.platform, g.user_id) for g in guards] == [(Platform.TELEGRAM, ALICE_QQ)]
        assert await session.get(Member, member.id) is None


async def test_a_qq_group_with_a_persons_number_is_still_a_group(
    qq: QqTransport, host: OneBotPeer, db: Database, clock: FakeClock
) -> None:
    group = await make_group(db, clock.now())
    await make_staff(
        db, clock.now(), telegram_user_id=ADMIN_TG, qq_user_id=ADMIN_QQ, groups=[group]
    )
    # QQ numbers people and groups apart: group 1234567 is not the person 1234567.
    await host.group_message(ALICE_QQ, ADMIN_QQ, f"/linkgroup {group.name}", role="admin")
    await host.wait_for(lambda: len(host.texts_to(group_id=ALICE_QQ)) == 1)
    assert host.texts_to(user_id=ALICE_QQ) == []
    async with db.session() as session:
        linked = await session.get(Group, group.id)
    assert linked is not None and linked.qq_group_id == ALICE_QQ


async def test_no_console_login_link_goes_over_qq(
    qq: QqTransport, host: OneBotPeer, db: Database, clock: FakeClock
) -> None:
    await make_staff(db, clock.now(), telegram_user_id=ADMIN_TG, qq_user_id=ADMIN_QQ)
    await make_staff(
        db, clock.now(), telegram_user_id=ADMIN_TG + 1, qq_user_id=ADMIN_QQ + 1, locale="en"
    )
    answer = await say(host, ADMIN_QQ, "/console")
    assert "只通过 Telegram 发送" in answer and "http" not in answer
    english = await say(host, ADMIN_QQ + 1, "/console")
    assert "sent over Telegram only" in english and "http" not in english
    async with db.session() as session:
        assert list(await session.scalars(select(ConsoleLink))) == []


async def test_an_activity_invitation_is_answered_with_its_numbers_in_qq(
    qq: QqTransport, host: OneBotPeer, services: Services, db: Database, clock: FakeClock
) -> None:
    """QQ shows "I'll come / I can't" as numbered choices: "2" is the member's answer, and
    /attend with the code checks them in at the venue."""
    group = await make_group(db, clock.now())
    [member] = await qq_members(db, clock, group, 1)
    starts = clock.now() + timedelta(days=2)
    async with db.session() as session:
        created = await create_activity(
            session,
            clock.now(),
            kind=ActivityKind.SERVICE,
            title="社区志愿服务",
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            groups=[group.name],
            actor="cli",
            organiser="区委组织部",
            zone=ZoneInfo("Asia/Shanghai"),
            address="江汉区民意街道社区服务中心",
        )
    dispatcher = qq_dispatcher(services, qq)
    await dispatcher.run_once()
    [invitation] = host.texts_to(user_id=ALICE_QQ)
    assert "【活动邀请】社区志愿服务" in invitation
    assert "[1] ✅ 我参加" in invitation and "[2] ✖️ 我不能参加" in invitation
    assert "已登记：您不能参加" in await say(host, ALICE_QQ, "2")
    async with db.session() as session:
        answer = await session.scalar(
            select(ActivityInvitation.answer).where(ActivityInvitation.member_id == member.id)
        )
    assert answer is ActivityAnswer.NO
    clock.set(starts)
    assert "签到成功" in await say(host, ALICE_QQ, f"/attend {created.activity.code}")


async def test_in_qq_a_full_activity_puts_the_member_in_line_and_a_cancellation_reaches_them(
    qq: QqTransport, host: OneBotPeer, services: Services, db: Database, clock: FakeClock
) -> None:
    """The numbered "I'll come" beyond the capacity waits in line, as a button press does; a
    "no" of the one with the place gives it to them, then the cancellation reaches them."""
    group = await make_group(db, clock.now())
    await qq_members(db, clock, group, 2)
    starts = clock.now() + timedelta(days=2)
    async with db.session() as session:
        created = await create_activity(
            session,
            clock.now(),
            kind=ActivityKind.SERVICE,
            title="社区志愿服务",
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            groups=[group.name],
            actor="cli",
            organiser="区委组织部",
            zone=ZoneInfo("Asia/Shanghai"),
            address="江汉区民意街道社区服务中心",
            capacity=1,
        )
    dispatcher = qq_dispatcher(services, qq)
    await dispatcher.run_once()
    assert "已登记：您参加" in await say(host, ALICE_QQ, "1")
    waiting = await say(host, ALICE_QQ + 1, "1")
    assert "已把您排进候补名单：您是第 1 位" in waiting
    assert "已登记：您不能参加" in await say(host, ALICE_QQ, "2")
    await dispatcher.run_once()
    told = host.texts_to(user_id=ALICE_QQ + 1)[-1]
    assert "【候补成功】社区志愿服务" in told and "[1] ✖️ 我来不了了" in told
    async with db.session() as session:
        await cancel_activity(
            session,
            clock.now(),
            created.activity.id,
            reason="天气原因",
            actor="cli",
            zone=ZoneInfo("Asia/Shanghai"),
            staff_id=None,
        )
    await dispatcher.run_once()
    assert "【活动取消】社区志愿服务" in host.texts_to(user_id=ALICE_QQ + 1)[-1]
    assert "原因：天气原因" in host.texts_to(user_id=ALICE_QQ + 1)[-1]
    # The one who said no hears nothing more.
    assert "【活动取消】" not in host.texts_to(user_id=ALICE_QQ)[-1]
