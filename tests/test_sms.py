"""The SMPP channel against a loopback SMS centre built on another SMPP library (smpp34).

What the centre received is reassembled there, with its own UDH parser and decoders, and
compared with what was sent: Chinese, emoji and the GSM alphabet included.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from messages.channels.base import OutboundMessage, SendOutcome, SendResult
from messages.channels.sms import SmppChannel, sms_channel
from messages.channels.sms_log import SmsLogChannel
from storage.models import ChannelName
from storage.phones import mask_phone
from storage.settings import ConfigError, load_settings
from tests.smsc import (
    DROP,
    ESME_RINVDSTADR,
    ESME_RMSGQFUL,
    ESME_ROK,
    ESME_RTHROTTLED,
    HOLD,
    LoopbackSmsc,
)

PHONE = "+8613800138000"
# Longer than two segments, with emoji where the 67-unit cuts fall and elsewhere.
CHINESE = (
    "【社区通知】各位流动党员：本周六上午九点在社区服务中心召开组织生活会，"
    "请准时参加😀。不能到场的同志请提前向支部书记请假，并于下周一前补交学习心得🎉。"
    "会议议程：一、学习文件；二、交流发言；三、民主评议。"
    "联系电话：027-12345678，地址：武汉市江岸区某街道88号👍。"
)

Receipt = tuple[str, bool, str | None]


class Sink:
    """A receipt sink that lets a test wait for the receipts it expects."""

    def __init__(self) -> None:
        self.calls: list[Receipt] = []
        self._changed = asyncio.Event()

    async def __call__(self, external_id: str, delivered: bool, reason: str | None) -> None:
        self.calls.append((external_id, delivered, reason))
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, count: int, within: float = 5.0) -> list[Receipt]:
        async def until() -> None:
            while len(self.calls) < count:
                changed = self._changed
                await changed.wait()

        await asyncio.wait_for(until(), within)
        return self.calls


def message(text: str, delivery_id: int = 1, address: str = PHONE) -> OutboundMessage:
    return OutboundMessage(delivery_id, ChannelName.SMS, address, text)


@pytest.fixture
async def smsc() -> AsyncIterator[LoopbackSmsc]:
    centre = LoopbackSmsc()
    await centre.start()
    try:
        yield centre
    finally:
        await centre.stop()


@pytest.fixture
def sink() -> Sink:
    return Sink()


MakeChannel = Callable[..., Awaitable[SmppChannel]]


@pytest.fixture
async def make_channel(smsc: LoopbackSmsc, sink: Sink) -> AsyncIterator[MakeChannel]:
    opened: list[SmppChannel] = []

    async def make(**options: float) -> SmppChannel:
        settings: dict[str, float] = {
            "rate": 1000.0,
            "connect_timeout": 2.0,
            "response_timeout": 3.0,
            "reconnect_min": 0.02,
            "reconnect_max": 0.1,
            "throttle_backoff": 0.05,
        }
        settings.update(options)
        channel = SmppChannel(
            "127.0.0.1",
            smsc.port,
            "liaison",
            "secret",
            receipt_sink=sink,
            **settings,  # type: ignore[arg-type]
        )
        await channel.start()
        opened.append(channel)
        return channel

    yield make
    for channel in opened:
        await channel.close()


def accepted(result: SendResult) -> str:
    assert result.outcome is SendOutcome.ACCEPTED, result
    assert result.external_id is not None and not result.delivered
    return result.external_id


async def test_chinese_and_emoji_are_reassembled_exactly(
    smsc: LoopbackSmsc, make_channel: MakeChannel
) -> None:
    channel = await make_channel()
    result = await channel.send(message(CHINESE))
    external_id = accepted(result)

    submits = smsc.accepted()
    assert len(submits) == 3
    assert external_id == submits[0].message_id
    assert smsc.messages() == [CHINESE]
    references = {s.concat[0] for s in submits if s.concat}
    assert len(references) == 1
    assert [s.concat[1:] for s in submits if s.concat] == [(3, 1), (3, 2), (3, 3)]
    for submitted in submits:
        assert submitted.esm_class == 0x40
        assert submitted.data_coding == 8
        assert submitted.registered_delivery == 1
        assert len(submitted.short_message) <= 140
        assert (submitted.destination_addr, submitted.dest_addr_ton, submitted.dest_addr_npi) == (
            "8613800138000",
            1,
            1,
        )
        assert (submitted.source_addr, submitted.source_addr_ton) == ("Liaison", 5)
        submitted.text.encode("utf-16-be")  # no part ends inside a surrogate pair


async def test_each_message_gets_its_own_reference(
    smsc: LoopbackSmsc, make_channel: MakeChannel
) -> None:
    channel = await make_channel()
    first, second = CHINESE, CHINESE[::-1]
    results = await asyncio.gather(
        channel.send(message(first, 1)), channel.send(message(second, 2))
    )
    assert all(r.outcome is SendOutcome.ACCEPTED for r in results)
    assert sorted(smsc.messages()) == sorted([first, second])


async def test_gsm_text_is_one_segment(smsc: LoopbackSmsc, make_channel: MakeChannel) -> None:
    text = "Meeting moved to 3pm, room [B] - cost 5€ @ door. Thanks!"
    channel = await make_channel()
    accepted(await channel.send(message(text)))
    (submitted,) = smsc.submits
    assert submitted.data_coding == 0
    assert submitted.esm_class == 0
    assert submitted.concat is None
    assert submitted.text == text


async def test_throttling_is_retried_then_accepted(
    smsc: LoopbackSmsc, make_channel: MakeChannel
) -> None:
    channel = await make_channel()
    smsc.answer_next(ESME_RTHROTTLED, ESME_RMSGQFUL)
    throttled = await channel.send(message("你好"))
    assert throttled.outcome is SendOutcome.RETRY
    assert throttled.reason == "ESME_RTHROTTLED"
    assert throttled.retry_after == pytest.approx(0.05)
    full = await channel.send(message("你好"))
    assert (full.outcome, full.reason) == (SendOutcome.RETRY, "ESME_RMSGQFUL")
    accepted(await channel.send(message("你好")))
    assert smsc.messages() == ["你好"]
    # After a throttling answer the channel waits before the next submit.
    times = [s.at for s in smsc.submits]
    assert times[2] - times[1] >= 0.04


async def test_invalid_destination_fails(smsc: LoopbackSmsc, make_channel: MakeChannel) -> None:
    channel = await make_channel()
    smsc.answer_next(ESME_RINVDSTADR)
    result = await channel.send(message("你好"))
    assert result == SendResult.failed("ESME_RINVDSTADR")


async def test_refused_before_reaching_the_smsc(
    smsc: LoopbackSmsc, make_channel: MakeChannel
) -> None:
    channel = await make_channel()
    no_plus = await channel.send(message("hi", address="8613800138000"))
    assert no_plus.outcome is SendOutcome.FAILED
    empty = await channel.send(message(""))
    assert empty.outcome is SendOutcome.FAILED and empty.reason is not None
    assert "empty" in empty.reason
    assert smsc.submits == []


async def test_smsc_down_at_start_then_back(smsc: LoopbackSmsc, make_channel: MakeChannel) -> None:
    await smsc.go_down()
    channel = await make_channel()
    for _ in range(2):
        result = await channel.send(message("通知"))
        assert result.outcome is SendOutcome.RETRY
        assert result.reason == "SMSC unavailable"
        assert result.retry_after is not None
    assert not channel.connected

    await smsc.come_back()
    await asyncio.wait_for(channel.wait_connected(), 5)
    accepted(await channel.send(message("通知")))
    assert smsc.messages() == ["通知"]


async def test_connection_lost_mid_message_then_recovered(
    smsc: LoopbackSmsc, make_channel: MakeChannel
) -> None:
    channel = await make_channel()
    await asyncio.wait_for(channel.wait_connected(), 5)
    smsc.answer_next(ESME_ROK, DROP)  # the second part never gets an answer
    lost = await channel.send(message(CHINESE))
    assert lost.outcome is SendOutcome.RETRY
    assert lost.reason is not None and "lost" in lost.reason
    assert smsc.messages() == []  # only part 1 arrived

    await asyncio.wait_for(channel.wait_connected(), 5)
    await smsc.wait_for(lambda: smsc.binds == 2)  # it bound again by itself
    accepted(await channel.send(message(CHINESE)))
    assert smsc.messages() == [CHINESE]


async def test_smsc_goes_away_and_returns(smsc: LoopbackSmsc, make_channel: MakeChannel) -> None:
    channel = await make_channel()
    accepted(await channel.send(message("一")))
    await smsc.go_down()
    down = await channel.send(message("二"))
    assert down.outcome is SendOutcome.RETRY
    await smsc.come_back()
    await asyncio.wait_for(channel.wait_connected(), 5)
    accepted(await channel.send(message("二")))
    assert smsc.messages() == ["一", "二"]


async def test_receipts_reach_the_sink(
    smsc: LoopbackSmsc, make_channel: MakeChannel, sink: Sink
) -> None:
    channel = await make_channel()
    long_id = accepted(await channel.send(message(CHINESE, 1)))
    short_id = accepted(await channel.send(message("Hello", 2)))
    other_id = accepted(await channel.send(message("再见", 3)))
    parts = [s.message_id for s in smsc.accepted()[:3] if s.message_id]
    assert parts[0] == long_id

    # Two of three parts delivered: nothing final yet.
    await smsc.receipt(parts[0])
    await smsc.receipt(parts[1], "ENROUTE")
    await smsc.receipt(parts[1])
    await smsc.receipt(short_id, "UNDELIV", err=11)
    assert await sink.wait(1) == [(short_id, False, "UNDELIV (err 11)")]

    await smsc.receipt(parts[2])
    await sink.wait(2)
    assert sink.calls[1] == (long_id, True, None)

    # A receipt that names the message only in its TLV.
    await smsc.receipt(other_id, "EXPIRED", in_text=False)
    await sink.wait(3)
    assert sink.calls[2] == (other_id, False, "EXPIRED")


async def test_receipt_before_the_last_part_is_answered(
    smsc: LoopbackSmsc, make_channel: MakeChannel, sink: Sink
) -> None:
    channel = await make_channel()
    smsc.answer_next(ESME_ROK, HOLD)
    sending = asyncio.create_task(channel.send(message(CHINESE)))
    await smsc.wait_submits(2)
    first = smsc.submits[0].message_id
    assert first is not None
    await smsc.receipt(first, "REJECTD")  # before send() knows the message went out
    assert sink.calls == []
    smsc.release()
    assert accepted(await sending) == first
    assert await sink.wait(1) == [(first, False, "REJECTD")]


async def test_receipt_with_non_standard_dates(
    smsc: LoopbackSmsc, make_channel: MakeChannel, sink: Sink
) -> None:
    channel = await make_channel()
    external_id = accepted(await channel.send(message("你好")))
    await smsc.receipt(external_id, "UNDELIV", err=1, date="261115100059")  # with seconds
    assert await sink.wait(1) == [(external_id, False, "UNDELIV (err 1)")]
    assert smsc.binds == 1 and channel.connected  # the session stayed up
    accepted(await channel.send(message("再见")))


async def test_receipt_for_a_message_sent_before_a_restart(
    smsc: LoopbackSmsc, make_channel: MakeChannel, sink: Sink
) -> None:
    channel = await make_channel()
    external_id = accepted(await channel.send(message("你好")))
    channel._receipts.clear()  # as after a restart: the ids are gone from memory
    await smsc.receipt(external_id, "DELIVRD", tlv=False)
    assert await sink.wait(1) == [(external_id, True, None)]


async def test_a_failing_sink_does_not_break_the_session(
    smsc: LoopbackSmsc, make_channel: MakeChannel, caplog: pytest.LogCaptureFixture
) -> None:
    channel = await make_channel()

    async def broken(external_id: str, delivered: bool, reason: str | None) -> None:
        raise RuntimeError("database is down")

    channel.receipt_sink = broken
    external_id = accepted(await channel.send(message("你好")))
    with caplog.at_level(logging.ERROR, logger="messages.channels.sms"):
        await smsc.receipt(external_id)
    assert "receipt sink failed" in caplog.text
    assert channel.connected
    accepted(await channel.send(message("还在")))


async def test_rate_paces_submits(smsc: LoopbackSmsc, make_channel: MakeChannel) -> None:
    channel = await make_channel(rate=40.0)
    results = await asyncio.gather(*(channel.send(message(f"n{i}", i)) for i in range(4)))
    assert all(r.outcome is SendOutcome.ACCEPTED for r in results)
    times = sorted(s.at for s in smsc.submits)
    assert times[-1] - times[0] >= 3 / 40 * 0.9


async def test_closed_channel_retries(smsc: LoopbackSmsc, make_channel: MakeChannel) -> None:
    channel = await make_channel()
    await asyncio.wait_for(channel.wait_connected(), 5)
    await channel.close()
    result = await channel.send(message("你好"))
    assert result.outcome is SendOutcome.RETRY
    await smsc.wait_for(lambda: not smsc._sessions)  # unbound


async def test_log_channel_writes_what_would_go_out(tmp_path: Path) -> None:
    path = tmp_path / "out" / "sms.log"
    async with SmsLogChannel(path) as channel:
        result = await channel.send(message(CHINESE, 7))
        empty = await channel.send(message("", 8))
    assert result.outcome is SendOutcome.ACCEPTED and result.delivered
    assert empty.outcome is SendOutcome.FAILED
    written = path.read_text(encoding="utf-8")
    # A demonstration log: the number masked (tests/test_sms_log.py has the rest).
    assert PHONE not in written and mask_phone(PHONE) in written
    assert "3 SMS" in written and "UCS2" in written
    assert CHINESE in written


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert defaults.smpp_host is None
    assert (defaults.smpp_port, defaults.smpp_rate) == (2775, 10.0)
    assert defaults.smpp_source_addr == "Liaison"
    assert isinstance(sms_channel(defaults), SmsLogChannel)

    monkeypatch.setenv("LIAISON_SMPP_HOST", "smsc.example.net")
    monkeypatch.setenv("LIAISON_SMPP_PORT", "2776")
    monkeypatch.setenv("LIAISON_SMPP_SYSTEM_ID", "liaison")
    monkeypatch.setenv("LIAISON_SMPP_PASSWORD", "s3cret")
    monkeypatch.setenv("LIAISON_SMPP_SOURCE_ADDR", "10690000")
    monkeypatch.setenv("LIAISON_SMPP_RATE", "2.5")
    settings = load_settings()
    assert settings.smpp_password == SecretStr("s3cret")
    assert "s3cret" not in repr(settings)
    channel = sms_channel(settings)
    assert isinstance(channel, SmppChannel)
    assert channel.name is ChannelName.SMS

    monkeypatch.setenv("LIAISON_SMPP_PASSWORD", "toolongpassword")
    monkeypatch.setenv("LIAISON_SMPP_RATE", "0")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "LIAISON_SMPP_PASSWORD" in str(error.value)
    assert "LIAISON_SMPP_RATE" in str(error.value)
    assert "toolongpassword" not in str(error.value)
