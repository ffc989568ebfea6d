"""A member's channels in order of preference, as the roster and the CLI write them."""

from __future__ import annotations

import re

from storage.models import ChannelName

# A member's own channels; group chats belong to groups.
MEMBER_CHANNELS = (ChannelName.TELEGRAM, ChannelName.QQ, ChannelName.SMS)
_WORDS = {
    "telegram": ChannelName.TELEGRAM,
    "tg": ChannelName.TELEGRAM,
    "电报": ChannelName.TELEGRAM,
    "qq": ChannelName.QQ,
    "sms": ChannelName.SMS,
    "短信": ChannelName.SMS,
    "text": ChannelName.SMS,
}
_SEPARATORS = re.compile(r"[\s,;，；、>]+")


class ChannelOrderError(ValueError):
    """Not a channel order; the message names the bad word (also as word, for a page)."""

    def __init__(self, message: str, word: str = "") -> None:
        super().__init__(message)
        self.word = word


def parse_channels(text: str) -> str | None:
    """Normalise a channel order: "短信、telegram" → "sms,telegram"; "default" → None.

    None is the default order: Telegram when bound (and not blocked), then QQ when bound,
    otherwise SMS.
    """
    words = [w for w in _SEPARATORS.split(text.strip().lower()) if w]
    if not words or words in (["default"], ["默认"]):
        return None
    order: list[str] = []
    for word in words:
        channel = _WORDS.get(word)
        if channel is None:
            raise ChannelOrderError(f"unknown channel {word!r} (use telegram, qq and/or sms)", word)
        if channel.value not in order:
            order.append(channel.value)
    return ",".join(order)
