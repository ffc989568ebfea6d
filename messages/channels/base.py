"""The one interface every channel implements, and the classified outcome of a send."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from storage.models import ChannelName


class SendOutcome(enum.StrEnum):
    """What the far side said, reduced to what the dispatcher must do next."""

    ACCEPTED = "accepted"  # taken by the network; a receipt may follow
    RETRY = "retry"  # try again later (after retry_after seconds if given)
    FAILED = "failed"  # permanently refused: do not try this again
    UNREACHABLE = "unreachable"  # the recipient cannot be reached here: fall back
    HELD = "held"  # not sent, by choice (quiet hours): due again after retry_after, no attempt


@dataclass(frozen=True, slots=True)
class SendResult:
    """A send's outcome; reason is short English for the delivery report."""

    outcome: SendOutcome
    external_id: str | None = None
    retry_after: float | None = None
    reason: str | None = None
    # A group chat that became a supergroup: its new chat id (the send should be retried).
    new_address: str | None = None
    # Final on acceptance (Telegram says the message is in the chat): no receipt will follow.
    delivered: bool = False
    # A message sent in parts that failed part-way: how many parts are in the chat (the
    # next attempt sends only the rest). None when the channel does not split.
    parts_sent: int | None = None

    @classmethod
    def accepted(cls, external_id: str | None = None, *, delivered: bool = False) -> SendResult:
        return cls(SendOutcome.ACCEPTED, external_id=external_id, delivered=delivered)

    @classmethod
    def retry(cls, reason: str, after: float | None = None) -> SendResult:
        return cls(SendOutcome.RETRY, reason=reason, retry_after=after)

    @classmethod
    def failed(cls, reason: str) -> SendResult:
        return cls(SendOutcome.FAILED, reason=reason)

    @classmethod
    def held(cls, after: float, reason: str) -> SendResult:
        return cls(SendOutcome.HELD, reason=reason, retry_after=after)

    @classmethod
    def unreachable(cls, reason: str, *, for_now: float | None = None) -> SendResult:
        """Not here: the member's next channel takes the message. for_now: only for that many
        seconds (QQ resting); with no next channel the message waits that long instead."""
        return cls(SendOutcome.UNREACHABLE, reason=reason, retry_after=for_now)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One rendered message for one address.

    text is Telegram HTML for Telegram and group chats and plain text for SMS; buttons are
    (label, callback data) pairs shown under a Telegram message.

    A channel that splits a long text sends only the parts after parts_sent (an earlier
    attempt sent those) and awaits part_sent(k) after each part, so that the count is
    written before the next part goes: a crash between two parts sends neither twice.
    """

    delivery_id: int
    channel: ChannelName
    address: str
    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    parts_sent: int = 0
    part_sent: Callable[[int], Awaitable[None]] | None = field(default=None, compare=False)


class Channel(Protocol):
    """Sends one message and classifies the answer; never raises for a refused send."""

    name: ChannelName

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send message; every failure comes back as a SendResult, not an exception."""
        ...


class ReceiptSink(Protocol):
    """Where a channel reports delivery receipts that arrive after the send (SMS)."""

    async def __call__(self, external_id: str, delivered: bool, reason: str | None) -> None: ...


@dataclass(frozen=True, slots=True)
class MobileOriginated:
    """One mobile-originated deliver_sm as the SMS centre sent it: a whole SMS, or one part
    of a long one (reference, total, number from its concatenation header).

    sender is "+<digits>" when the centre gave an international number, else as given.
    dedupe_key identifies the content (a repeat of the deliver_sm has the same one).
    """

    sender: str
    recipient: str
    text: str
    dedupe_key: str
    reference: int = 0
    total: int = 1
    number: int = 1


class InboundSink(Protocol):
    """Where a channel hands messages from members' phones. It returns once the message is
    stored, and raises when it could not be: the channel then refuses it, so that the SMS
    centre sends it again."""

    async def __call__(self, message: MobileOriginated) -> None: ...
