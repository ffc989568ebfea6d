"""QQ pacing: a notice to 200 QQ members through the outbox, one message per interval, and a
member's reply meanwhile; against a bare send loop over the same WebSocket. (real time)"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from datetime import timedelta
from typing import Any

from benchmarks.common import fresh_database, show
from bot.context import Services
from bot.qq import QqTransport, running_qq
from bot.terminal import html_to_text
from messages.channels.qq import QqChannel
from messages.dispatcher import Dispatcher, DispatcherConfig
from messages.ratelimit import RateGate
from messages.render import Renderer
from storage.clock import SystemClock
from storage.directory import add_group
from storage.models import ChannelName, Consent, GroupKind, Member, MemberStatus
from storage.notices import create_notice
from storage.regions import default_index
from storage.settings import Settings
from tests.onebot_peer import OneBotPeer

MEMBERS = 200
# The benchmark's interval: short, so that 200 sends take seconds; the check is the same.
INTERVAL = 0.2
TOKEN = "benchmark-token"  # noqa: S105 (a loopback test host's)
FIRST_QQ = 100_000


async def _members(services: Services) -> None:
    now = services.clock.now()
    async with services.db.session() as session:
        group, _ = await add_group(session, now, "QQ 成员", kind=GroupKind.OTHER)
        for index in range(MEMBERS):
            member = Member(
                name=f"党员{index}",
                phone=None,
                status=MemberStatus.OUTFLOW,
                qq_user_id=FIRST_QQ + index,
                consent=Consent.GIVEN,
                registered_at=now,
                updated_at=now,
            )
            member.groups = [group]
            session.add(member)
        await create_notice(
            session, now, author="bench", author_name="区委组织部", body="通知", groups=["QQ 成员"]
        )


async def _paced() -> dict[str, Any]:
    async with fresh_database() as database:
        settings = Settings(
            database_url=str(database.engine.url),
            onebot_listen="127.0.0.1:0",
            onebot_access_token=TOKEN,  # type: ignore[arg-type]
        )
        services = Services(
            settings=settings,
            db=database,
            clock=SystemClock(),
            renderer=Renderer(),
            regions=default_index(),
            invite_key=b"benchmark invite key",
        )
        await _members(services)
        async with running_qq(services) as transport:
            assert transport is not None
            # Faster than the settings allow, so that 200 sends take seconds, not minutes.
            transport.account.gate = RateGate(1, INTERVAL)
            transport.account.interval = INTERVAL
            return await _broadcast(services, transport)


async def _broadcast(services: Services, qq: QqTransport) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{qq.account.server.port}/onebot/v11/ws"
    peer = OneBotPeer(url, token=TOKEN)
    await peer.connect()
    await qq.account.server.wait_connected()
    dispatcher = Dispatcher(
        services.db,
        {ChannelName.QQ: QqChannel(qq.account, ChannelName.QQ, html_to_text, qq.show)},
        services.renderer,
        services.clock,
        default_locale="zh_CN",
        default_zone=services.settings.zone,
        config=DispatcherConfig(poll_interval=0.05, lease=timedelta(seconds=20)),
    )
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(dispatcher.run(stop))
    # Halfway through, a member writes: the reply takes the next slot.
    await peer.wait_for(lambda: len(peer.sent) >= MEMBERS // 2, within=120)
    asked = time.monotonic()
    await peer.private_message(FIRST_QQ, "/help")
    await peer.wait_for(lambda: bool(peer.texts_to(user_id=FIRST_QQ)[1:]), within=30)
    reply_wait = time.monotonic() - asked
    await peer.wait_for(lambda: len(peer.sent) >= MEMBERS + 1, within=300)
    elapsed = time.monotonic() - started
    stop.set()
    await task
    stamps = [s.at for s in peer.sent if s.is_message]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    await peer.close()
    return {
        "sends": len(stamps),
        "seconds": round(elapsed, 2),
        "sends_per_second": round(len(stamps) / elapsed, 2),
        "interval": INTERVAL,
        "shortest_gap": round(min(gaps), 4),
        "gaps_under_interval": sum(1 for g in gaps if g < INTERVAL),
        "reply_wait_seconds": round(reply_wait, 3),
    }


async def _bare() -> dict[str, Any]:
    """The baseline: 200 send_private_msg over one reverse WebSocket, no pacing, no outbox."""
    from messages.channels.qq import OneBotServer

    async def ignore(_: Any) -> None:
        return None

    server = OneBotServer("127.0.0.1", 0, access_token=TOKEN, on_event=ignore)
    await server.start()
    peer = OneBotPeer(f"ws://127.0.0.1:{server.port}/onebot/v11/ws", token=TOKEN)
    try:
        await peer.connect()
        await server.wait_connected()
        started = time.monotonic()
        for index in range(MEMBERS):
            await server.call(
                "send_private_msg",
                {"user_id": FIRST_QQ + index, "message": [{"type": "text", "data": {"text": "x"}}]},
            )
        elapsed = time.monotonic() - started
    finally:
        with contextlib.suppress(Exception):
            await peer.close()
        await server.close()
    return {
        "sends": MEMBERS,
        "seconds": round(elapsed, 3),
        "sends_per_second": round(MEMBERS / elapsed),
    }


async def run() -> dict[str, Any]:
    bare = await _bare()
    show("bare send loop (no pacing)", bare["sends_per_second"], "sends/s")
    paced = await _paced()
    show(f"paced, target {1 / INTERVAL:.0f}/s", paced["sends_per_second"], "sends/s")
    show("shortest gap between two sends", paced["shortest_gap"] * 1000, "ms")
    show("gaps under the interval", paced["gaps_under_interval"], "")
    show("a member's reply mid-broadcast waited", paced["reply_wait_seconds"] * 1000, "ms")
    return {"bare": bare, "paced": paced}
