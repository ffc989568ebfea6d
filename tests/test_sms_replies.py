"""Members answer by SMS, end to end: the loopback SMS centre (smpp34) sends deliver_sm over
the real SMPP bind, the channel stores each before answering it, the handler reads the
keywords, and the answer comes back to the centre as one SMS through the outbox.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

import messages.sms_inbound
from bot.background import make_sms_inbox
from bot.context import Services
from messages.channels.sms import SmppChannel
from messages.dispatcher import Dispatcher
from messages.mydata import context, data_json, data_page
from messages.sms_inbound import SmsInbox
from messages.sms_text import segment_count
from scheduler.jobs import run_due
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    ChannelName,
    CheckIn,
    Delivery,
    DeliveryStatus,
    InboundSms,
    InboundSmsPart,
    LocationPrecision,
    LocationReport,
    Member,
    WorkSituation,
)
from storage.mydata import member_data
from storage.notices import create_notice
from storage.outbox import Outcome, RetryPolicy, claim_due, record_outcome
from storage.retention import Retention, purge
from storage.sms_inbox import DUPLICATE_WINDOW, store_part
from tests.delivery import make_dispatcher
from tests.factories import make_checkin, make_group, make_member
from tests.smsc import ESME_ROK, ESME_RX_T_APPN, LoopbackSmsc, mo_parts

ZHANG = "+8613800138000"  # 张伟, a member with only a phone
ANNA = "+8613900139000"  # Anna, who reads English
STRANGER = "+8613700137000"  # no member has this number


@dataclass
class Phones:
    """Members' phones on one side of the SMS centre, the service on the other."""

    smsc: LoopbackSmsc
    inbox: SmsInbox
    dispatcher: Dispatcher
    db: Database

    async def text(self, sender: str, text: str, *, reference: int = 7) -> list[int]:
        """sender texts the service; the deliver_sm answers' statuses (after handling)."""
        statuses = await self.smsc.text_in(sender, text, reference=reference)
        await self.settle()
        return statuses

    async def settle(self) -> None:
        """What the service does next: handle what was stored, send what is due."""
        await self.inbox.handle_pending()
        await self.dispatcher.run_once()

    def received(self, phone: str) -> list[str]:
        return self.smsc.messages(to=phone)


@pytest.fixture
async def smsc() -> AsyncIterator[LoopbackSmsc]:
    centre = LoopbackSmsc()
    await centre.start()
    yield centre
    await centre.stop()


@pytest.fixture
async def phones(services: Services, smsc: LoopbackSmsc) -> AsyncIterator[Phones]:
    inbox = make_sms_inbox(services)
    dispatcher = make_dispatcher(services)
    channel = SmppChannel(
        "127.0.0.1",
        smsc.port,
        "liaison",
        "secret",
        receipt_sink=dispatcher.on_receipt,
        inbound_sink=inbox,
        rate=1000.0,
        connect_timeout=2.0,
        response_timeout=3.0,
        reconnect_min=0.02,
        reconnect_max=0.1,
    )
    dispatcher.channels = {ChannelName.SMS: channel}
    await channel.start()
    await asyncio.wait_for(channel.wait_connected(), 5.0)
    yield Phones(smsc, inbox, dispatcher, services.db)
    await channel.close()


@pytest.fixture(autouse=True)
async def district(db: Database, clock: FakeClock) -> None:
    group = await make_group(db, clock.now(), "驻深圳流动党员党小组")
    await make_member(db, clock.now(), name="张伟", phone=ZHANG, groups=[group])
    await make_member(db, clock.now(), name="Anna", phone=ANNA, groups=[group], locale="en")


async def member(db: Database, phone: str) -> Member:
    async with db.session() as session:
        found = await session.scalar(select(Member).where(Member.phone == phone))
        assert found is not None
        return found


async def places(db: Database, phone: str) -> list[tuple[str, str | None]]:
    """The member's check-ins: (period, the place kept as province/city/district)."""
    async with db.session() as session:
        rows = await session.execute(
            select(
                CheckIn.period,
                LocationReport.province,
                LocationReport.city,
                LocationReport.district,
            )
            .join(Member, Member.id == CheckIn.member_id)
            .outerjoin(LocationReport, LocationReport.id == CheckIn.location_report_id)
            .where(Member.phone == phone)
            .order_by(CheckIn.id)
        )
        return [
            (period, " ".join(p for p in (province, city, district) if p) or None)
            for period, province, city, district in rows
        ]


async def inbox_texts(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(InboundSms.sender, InboundSms.text)
            .where(InboundSms.in_inbox.is_(True))
            .order_by(InboundSms.id)
        )
        return [(sender, text) for sender, text in rows]


async def audited(db: Database, action: str) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            )
            or 0
        )


async def test_a_check_in_by_sms_is_stored_and_answered(phones: Phones, db: Database) -> None:
    assert await phones.text(ZHANG, "报到 深圳南山") == [ESME_ROK]
    assert await places(db, ZHANG) == [("2026-11", "广东省 深圳市 南山区")]
    [answer] = phones.received(ZHANG)
    assert answer == "已收到您2026-11的报到：广东省 深圳市 南山区。谢谢！"
    assert segment_count(answer) == 1
    assert await audited(db, "checkin.sms") == 1
    # Latin keyword, full-width letters and no space: the same thing.
    assert await phones.text(ANNA, "ＢＤ深圳") == [ESME_ROK]
    assert await places(db, ANNA) == [("2026-11", "广东省 深圳市")]
    assert phones.received(ANNA) == ["Check-in for 2026-11 received: 广东省 深圳市. Thank you!"]
    assert await inbox_texts(db) == []


async def test_the_work_situation_is_last_months_and_the_place_as_consent_allows(
    phones: Phones, db: Database, clock: FakeClock
) -> None:
    zhang = await member(db, ZHANG)
    await make_checkin(
        db, zhang, clock.now() - timedelta(days=30), situation=WorkSituation.LOOKING, city="武汉市"
    )
    async with db.session() as session:
        row = await session.get(Member, zhang.id)
        assert row is not None
        row.location_precision = LocationPrecision.PROVINCE  # withdrew consent to location
    await phones.text(ZHANG, "报到 深圳南山科技园")
    async with db.session() as session:
        latest = await session.scalar(select(CheckIn).order_by(CheckIn.id.desc()).limit(1))
        assert latest is not None and latest.work_situation is WorkSituation.LOOKING
    # Only the province is kept; what was typed ("科技园") is not.
    assert (await places(db, ZHANG))[-1] == ("2026-11", "广东省")
    assert phones.received(ZHANG) == ["已收到您2026-11的报到：广东省。谢谢！"]


async def test_a_check_in_without_a_place_or_with_one_unread_is_not_stored(
    phones: Phones, db: Database
) -> None:
    await phones.text(ZHANG, "报到")
    await phones.text(ZHANG, "报到 火星第三基地")
    assert await places(db, ZHANG) == []
    assert phones.received(ZHANG) == [
        "请在“报到”后写上您现在所在的地方，如：报到 深圳南山",
        "没能识别“火星第三基地”。请写省市区，如：报到 广东深圳南山",
    ]


async def test_one_after_the_prompt_is_same_as_last_month(
    phones: Phones, db: Database, clock: FakeClock, services: Services
) -> None:
    zhang = await member(db, ZHANG)
    await make_checkin(db, zhang, clock.now(), situation=WorkSituation.STABLE, city="深圳市")
    # "1" before any prompt this month answers nothing: it is for the staff inbox.
    await phones.text(ZHANG, "1")
    assert await inbox_texts(db) == [(ZHANG, "1")]
    assert phones.received(ZHANG) == []

    clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # 09:00 in Wuhan: the prompt
    await run_due(db, clock.now(), services.settings)
    await phones.dispatcher.run_once()
    [prompt] = phones.received(ZHANG)
    assert "请回复“报到 所在地”" in prompt and "与上月相同回复“1”" in prompt
    assert segment_count(prompt) == 1

    clock.advance(timedelta(hours=2))
    assert await phones.text(ZHANG, " １ ") == [ESME_ROK]
    assert await places(db, ZHANG) == [("2026-11", "深圳市"), ("2026-12", "深圳市")]
    assert phones.received(ZHANG)[1:] == ["已按上月情况记录您2026-12的报到：深圳市。谢谢！"]
    await phones.text(ZHANG, "同上")
    assert phones.received(ZHANG)[2:] == [
        "您2026-12已经报到过了，谢谢！地点有变化请回复：报到 现在所在地"
    ]
    assert len(await places(db, ZHANG)) == 2


async def test_stop_ends_sms_notices_until_resume(
    phones: Phones, db: Database, clock: FakeClock
) -> None:
    await phones.text(ZHANG, "退订")
    assert phones.received(ZHANG) == ["已退订，今后不再给您发短信通知。回复“恢复”可重新接收。"]
    assert (await member(db, ZHANG)).sms_stopped_at == clock.now()
    assert await audited(db, "sms.stop") == 1

    async def notice(body: str) -> list[Delivery]:
        async with db.session() as session:
            await create_notice(
                session,
                clock.now(),
                author="cli:test",
                author_name="花楼街道党工委",
                body=body,
                groups=["驻深圳流动党员党小组"],
            )
        await phones.settle()
        async with db.session() as session:
            return list(
                await session.scalars(
                    select(Delivery)
                    .where(Delivery.address.is_(None) | (Delivery.address == ZHANG))
                    .where(Delivery.notice_id.is_not(None))
                    .order_by(Delivery.id)
                )
            )

    [quiet] = await notice("周六开会")
    # No way to reach him left: the notice counts him, and sends nothing.
    assert quiet.status is DeliveryStatus.SUPPRESSED and quiet.channel is None
    assert len(phones.received(ZHANG)) == 1
    assert phones.received(ANNA) == ["周六开会 - 花楼街道党工委"]  # in English

    await phones.text(ZHANG, "恢复")
    assert phones.received(ZHANG)[1:] == ["已恢复短信通知。回复“退订”可停止。"]
    _, again = await notice("周日开会")
    assert again.status is DeliveryStatus.SENT
    assert phones.received(ZHANG)[2:] == ["【通知】周日开会 ——花楼街道党工委"]


async def test_help_lists_the_keywords_in_one_sms(phones: Phones) -> None:
    await phones.text(ANNA, "help")
    await phones.text(ZHANG, "？")
    [english] = phones.received(ANNA)
    [chinese] = phones.received(ZHANG)
    assert "CHECKIN <place>" in english and "STOP" in english
    assert "“退订”停止短信通知" in chinese
    assert segment_count(english) == segment_count(chinese) == 1


async def test_an_unknown_number_goes_to_the_inbox_unanswered(phones: Phones, db: Database) -> None:
    assert await phones.text(STRANGER, "你好，我是新来的党员，怎么报到？") == [ESME_ROK]
    assert await inbox_texts(db) == [(STRANGER, "你好，我是新来的党员，怎么报到？")]
    assert phones.smsc.messages() == []
    # Even a keyword from an unknown number: nobody to check in.
    await phones.text(STRANGER, "报到 深圳")
    assert phones.smsc.messages() == []
    assert len(await inbox_texts(db)) == 2


async def test_a_repeated_deliver_sm_is_handled_once(
    phones: Phones, db: Database, clock: FakeClock
) -> None:
    [part] = mo_parts(ZHANG, "报到 深圳南山")
    assert await phones.smsc.deliver(part) == ESME_ROK
    assert await phones.smsc.deliver(part) == ESME_ROK  # the centre did not hear the answer
    await phones.settle()
    assert await phones.smsc.deliver(part) == ESME_ROK  # and again, after it was handled
    await phones.settle()
    assert len(await places(db, ZHANG)) == 1
    assert len(phones.received(ZHANG)) == 1
    # The same text the next day is a new message.
    clock.advance(DUPLICATE_WINDOW + timedelta(minutes=1))
    assert await phones.smsc.deliver(part) == ESME_ROK
    await phones.settle()
    assert len(await places(db, ZHANG)) == 2


async def test_a_long_chinese_message_comes_whole_from_its_parts(
    phones: Phones, db: Database
) -> None:
    text = (
        "李书记您好，我是张伟，上个月从深圳南山换到宝安的一家电子厂上班，宿舍在福永街道，"
        "工作比较稳定。孩子明年要上小学，想问一下流动党员子女在深圳入学需要开什么证明，"
        "社区说要原籍党组织出具的材料，麻烦您帮忙问问。另外我的党费这几个月一直没交上，"
        "是不是可以在手机上交？下个月我们厂里有几个党员想一起过组织生活，能不能请您推荐"
        "一个附近的党员之家？谢谢！"
    )
    parts = mo_parts(ZHANG, text, reference=42)
    assert len(parts) == 3 and all(p.data_coding == 8 and p.esm_class == 0x40 for p in parts)
    # Out of order, one of them twice.
    for part in (parts[2], parts[0], parts[2], parts[1]):
        assert await phones.smsc.deliver(part) == ESME_ROK
    await phones.settle()
    assert await inbox_texts(db) == [(ZHANG, text)]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(InboundSmsPart)) == 3


async def test_a_long_message_in_the_gsm_alphabet_and_one_in_message_payload(
    phones: Phones, db: Database
) -> None:
    text = "Dear liaison, " + "I moved to a new factory in Bao'an and my phone stays the same. " * 3
    parts = mo_parts(ANNA, text, reference=3)
    assert len(parts) == 2 and parts[0].data_coding == 0
    assert await phones.smsc.text_in(ANNA, text, reference=3) == [ESME_ROK, ESME_ROK]
    [payload] = mo_parts(ZHANG, "请问党费怎么交？" * 12, payload_tlv=True)
    assert await phones.smsc.deliver(payload) == ESME_ROK
    await phones.settle()
    assert await inbox_texts(db) == [(ANNA, text), (ZHANG, "请问党费怎么交？" * 12)]


async def test_a_message_that_cannot_be_stored_is_refused_and_taken_when_sent_again(
    phones: Phones, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = messages.sms_inbound.store_part

    async def database_down(*args: object, **kwargs: object) -> int | None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(messages.sms_inbound, "store_part", database_down)
    [part] = mo_parts(ZHANG, "报到 深圳南山")
    # The centre keeps it and will send it again.
    assert await phones.smsc.deliver(part) == ESME_RX_T_APPN
    await phones.settle()
    assert await places(db, ZHANG) == []
    monkeypatch.setattr(messages.sms_inbound, "store_part", stored)
    assert await phones.smsc.deliver(part) == ESME_ROK
    await phones.settle()
    assert await places(db, ZHANG) == [("2026-11", "广东省 深圳市 南山区")]
    assert len(phones.received(ZHANG)) == 1


async def test_a_message_stored_before_a_crash_is_handled_after_it(
    phones: Phones, db: Database, services: Services
) -> None:
    await phones.smsc.text_in(ZHANG, "报到 深圳")
    # The service stops here: stored, acknowledged, not handled. Another process starts.
    restarted = make_sms_inbox(services)
    [handled] = await restarted.handle_pending()
    assert handled.outcome == "checkin_saved"
    assert await phones.inbox.handle_pending() == []  # nothing is handled twice
    await phones.dispatcher.run_once()
    assert phones.received(ZHANG) == ["已收到您2026-11的报到：广东省 深圳市。谢谢！"]


async def test_old_sms_are_purged_at_their_retention_time(
    db: Database, clock: FakeClock, services: Services
) -> None:
    inbox = make_sms_inbox(services)
    year_ago = clock.now() - timedelta(days=400)
    async with db.session() as session:
        await store_part(
            session, year_ago, sender=ZHANG, recipient="L", text="旧短信", dedupe_key="old"
        )
        # Half of a long message whose other half never came.
        await store_part(
            session,
            year_ago,
            sender=ZHANG,
            recipient="L",
            text="前半段",
            dedupe_key="half",
            reference=1,
            total=2,
        )
        await store_part(
            session, clock.now(), sender=ZHANG, recipient="L", text="新短信", dedupe_key="new"
        )
    await inbox.handle_pending()
    async with db.session() as session:
        report = await purge(session, clock.now(), Retention())
    assert report.count("inbound_sms").deleted == 1
    assert await inbox_texts(db) == [(ZHANG, "新短信")]
    async with db.session() as session:
        left = await session.scalars(select(InboundSmsPart.text))
        assert list(left) == ["新短信"]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_the_member_sees_the_sms_they_sent_in_their_data(
    phones: Phones, db: Database, clock: FakeClock, services: Services, locale: str
) -> None:
    await phones.text(ZHANG, "报到 深圳")
    await phones.text(ZHANG, "我的党费交给谁？")
    zhang = await member(db, ZHANG)
    async with db.session() as session:
        data = await member_data(session, clock.now(), zhang.id)
    assert data is not None
    assert [(s.text, s.intent) for s in data.sms] == [
        ("我的党费交给谁？", "other"),
        ("报到 深圳", "checkin"),
    ]
    assert data_json(data).decode().count("我的党费交给谁？") == 1
    page = data_page(services.renderer, locale, data, services.settings.zone).decode()
    assert "我的党费交给谁？" in page
    summary = services.renderer.render(
        locale, "mydata/summary", **context(services.renderer, locale, data, services.settings.zone)
    )
    assert "报到 深圳" in summary


async def test_a_member_who_stopped_sms_gets_no_sms_when_telegram_fails(
    phones: Phones, db: Database, clock: FakeClock
) -> None:
    async with db.session() as session:
        zhang = await session.scalar(select(Member).where(Member.phone == ZHANG))
        assert zhang is not None
        zhang.telegram_user_id = 7001
    await phones.text(ZHANG, "TD")
    async with db.session() as session:
        await create_notice(
            session,
            clock.now(),
            author="cli:test",
            author_name="花楼街道党工委",
            body="周六开会",
            groups=["驻深圳流动党员党小组"],
        )
    await phones.dispatcher.enqueue_due()
    async with db.session() as session:
        [claimed] = await claim_due(
            session,
            clock.now(),
            limit=5,
            lease=timedelta(seconds=20),
            channels=[ChannelName.TELEGRAM],
        )
        await record_outcome(
            session,
            clock.now(),
            claimed,
            Outcome("unreachable", reason="403 Forbidden: bot was blocked by the user"),
            policy=RetryPolicy(),
            rng=random.Random(1),
        )
    async with db.session() as session:
        to_zhang = list(
            await session.scalars(
                select(Delivery.channel).where(
                    Delivery.member_id == zhang.id, Delivery.notice_id.is_not(None)
                )
            )
        )
    # Telegram blocked, SMS stopped: nothing else to try.
    assert to_zhang == [ChannelName.TELEGRAM]
