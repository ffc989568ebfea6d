"""Reading the parts of an update that a handler's filters already guarantee."""

from __future__ import annotations

from telegram import Update

from storage.models import MAX_ID
from storage.text import strip_nul


def parse_id(raw: str) -> int | None:
    """A record id as typed ("12", "#12"); None if not one (buttons: messages/callbacks.py)."""
    raw = raw.strip().removeprefix("#")
    # isascii: "²" and other Unicode digits pass str.isdigit() but make int() raise.
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID)):
        number = int(raw)
        return number if number <= MAX_ID else None
    return None


def sender_id(update: Update) -> int:
    """The Telegram id of whoever sent the update."""
    user = update.effective_user
    assert user is not None, "the handler's filters admit only updates with a sender"
    return user.id


def message_text(update: Update) -> str:
    """The text of the update's message, as typed, without NUL characters.

    Every handler reads typed text here: the one place where a NUL (which PostgreSQL
    cannot store, and nobody means to type) is dropped on the way in.
    """
    message = update.effective_message
    assert message is not None, "the handler's filters admit only messages"
    assert message.text is not None, "the handler's filters admit only text"
    return strip_nul(message.text)


def command_argument(update: Update) -> str:
    """Everything after the command ("/studied 驻深圳 党小组" → "驻深圳 党小组"): names may
    contain spaces."""
    parts = message_text(update).split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""
