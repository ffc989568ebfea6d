"""Reading the parts of an update that a handler's filters already guarantee."""

from __future__ import annotations

from telegram import Update


def sender_id(update: Update) -> int:
    """The Telegram id of whoever sent the update."""
    user = update.effective_user
    assert user is not None, "the handler's filters admit only updates with a sender"
    return user.id


def message_text(update: Update) -> str:
    """The text of the update's message, as typed."""
    message = update.effective_message
    assert message is not None, "the handler's filters admit only messages"
    assert message.text is not None, "the handler's filters admit only text"
    return message.text
