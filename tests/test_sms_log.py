"""The SMS demonstration log (no SMS centre configured): phone numbers masked, said at start,
and entries older than LIAISON_RETENTION_SMS_LOG_DAYS dropped by the retention purge."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from messages.channels.base import OutboundMessage
from messages.channels.sms_log import SmsLogChannel, drop_older
from storage.models import ChannelName

NOW = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)


async def write(path: Path, at: datetime, text: str, delivery_id: int = 1) -> None:
    channel = SmsLogChannel(path, now=lambda: at)
    message = OutboundMessage(delivery_id, ChannelName.SMS, "+8613800138000", text)
    assert (await channel.send(message)).delivered


async def test_the_log_masks_the_phone_number(tmp_path: Path) -> None:
    path = tmp_path / "sms.log"
    await write(path, NOW, "【江汉区委组织部】请于本月10日前报到。")
    log = path.read_text(encoding="utf-8")
    assert "+86 138****8000" in log
    assert "13800138000" not in log
    assert "  【江汉区委组织部】请于本月10日前报到。\n" in log


async def test_the_service_says_at_start_that_sms_go_to_a_demonstration_log_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        async with SmsLogChannel(tmp_path / "sms.log"):
            pass
    [record] = [r for r in caplog.records if r.name == "messages.channels.sms_log"]
    assert record.levelno == logging.WARNING
    assert "demonstration log only" in record.getMessage()
    assert "LIAISON_SMPP_HOST" in record.getMessage()


async def test_entries_past_their_days_are_dropped_and_those_just_inside_stay(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sms.log"
    before = NOW - timedelta(days=30)
    # The old text holds a line that looks like a header of a recent entry: it is not one.
    await write(path, before - timedelta(minutes=1), f"旧\n--- {NOW.isoformat()} to x\n旧", 1)
    await write(path, before + timedelta(minutes=1), "新\r\n第二行", 2)
    await write(path, NOW, "最新", 3)

    assert drop_older(path, before, dry_run=True) == 1
    assert "delivery 1" in path.read_text(encoding="utf-8")  # a dry run drops nothing

    assert drop_older(path, before) == 1
    log = path.read_bytes().decode()
    assert "delivery 1" not in log and "旧" not in log
    assert log.count("\n--- ") == 1 and log.startswith("--- ")
    assert "  新\r\n  第二行\n" in log and "  最新\n" in log
    # Twice is once; a later SMS is appended after what stayed.
    assert drop_older(path, before) == 0
    await write(path, NOW, "再一条", 4)
    after = path.read_bytes().decode()
    assert after.startswith(log) and after.endswith("delivery 4\n  再一条\n")


def test_no_log_file_is_nothing_to_drop(tmp_path: Path) -> None:
    assert drop_older(tmp_path / "none.log", NOW) == 0
    assert not (tmp_path / "none.log").exists()
