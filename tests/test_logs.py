"""The bot token never reaches a log line."""

from __future__ import annotations

import logging
import sys

import pytest

from bot.logs import RedactSecrets, configure_logging

TOKEN = "123456789:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789"


def test_token_in_a_logged_url_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging(logging.INFO, secrets=[TOKEN])
        logging.getLogger("telegram.ext").info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        logging.getLogger("httpx").info("HTTP Request: POST .../bot%s/getUpdates", TOKEN)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "bot[redacted]/getMe" in err
    assert TOKEN not in err
    assert "getUpdates" not in err  # httpx request lines are not logged at all


def test_filter_leaves_other_records_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    assert RedactSecrets([TOKEN]).filter(record)
    assert record.getMessage() == "hello world"


def test_token_in_an_exception_is_redacted() -> None:
    try:
        raise ConnectionError(f"https://api.telegram.org/bot{TOKEN}/getMe unreachable")
    except ConnectionError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    RedactSecrets([TOKEN]).filter(record)
    assert record.exc_text is not None
    assert TOKEN not in record.exc_text
    assert "[redacted]" in record.exc_text
