"""Channels: how a rendered message reaches a recipient (Telegram, SMS, group chats)."""

from messages.channels.base import (
    Channel,
    OutboundMessage,
    ReceiptSink,
    SendOutcome,
    SendResult,
)

__all__ = ["Channel", "OutboundMessage", "ReceiptSink", "SendOutcome", "SendResult"]
