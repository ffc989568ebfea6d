"""Conversation tests that read like the conversation.

    await talk(alice, [
        ("/checkin", "您现在在哪里"),
        ("武汉江汉区", "工作情况"),
        ("工作稳定", ...),
    ])

Each step is what the member types (a message, a button's number or text, `/loc LAT LON`)
and a fragment, or list of fragments, the bot's answer must contain (tags dropped).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.botapi import LocalBotApi, Outgoing
from bot.context import LiaisonApplication
from bot.terminal import Account, html_to_text

Expected = str | Sequence[str] | None


def said(replies: Sequence[Outgoing]) -> str:
    """Everything the bot said in replies, as the member reads it."""
    return "\n".join(html_to_text(r.text) for r in replies if r.text)


class Person(Account):
    """A Telegram account in a test, with the transcript of what it was told."""

    def __init__(
        self,
        application: LiaisonApplication,
        api: LocalBotApi,
        user_id: int,
        name: str = "Member",
        language_code: str = "zh-hans",
    ) -> None:
        super().__init__(application, api, user_id=user_id, name=name, language_code=language_code)
        self.last: list[Outgoing] = []

    async def say(self, line: str) -> list[Outgoing]:
        self.last = await super().say(line)
        return self.last

    @property
    def messages(self) -> list[Outgoing]:
        """The new messages of the last turn (not the edits of earlier ones)."""
        return [o for o in self.last if o.method.startswith("send")]

    @property
    def last_text(self) -> str:
        return said(self.last)

    @property
    def button_texts(self) -> list[str]:
        return [button.text for button in self.buttons]


async def talk(person: Person, script: Sequence[tuple[str, Expected]]) -> None:
    """Play script; after each line assert the bot's answer contains every fragment."""
    for line, expected in script:
        replies = await person.say(line)
        text = said(replies)
        fragments = [expected] if isinstance(expected, str) else list(expected or [])
        for fragment in fragments:
            assert fragment in text, (
                f"after {line!r} expected {fragment!r} in the bot's answer:\n{text or '(nothing)'}"
            )
