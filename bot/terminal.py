"""The terminal transport: the same Application and handlers, driven from a terminal.

Lines typed by the person become the updates a Telegram client would send: numbered or
named buttons are pressed, `/loc LAT LON` shares a location, anything else is a message.
The bot's replies come back through the in-process Bot API and are printed as plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import sys
import unicodedata
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TextIO

from telegram import Update

from bot.botapi import Button, JSONDict, LocalBotApi, Outgoing, UpdateFactory
from bot.context import LiaisonApplication
from storage.text import printable

_TAG = re.compile(r"<[^>]+>")
_LOCATION = re.compile(r"^/loc\s+(-?\d+(?:\.\d+)?)[\s,]+(-?\d+(?:\.\d+)?)\s*$", re.IGNORECASE)


class ChoiceError(ValueError):
    """The line named a button that cannot be used that way (e.g. share-location)."""


def html_to_text(text: str) -> str:
    """Telegram HTML as a terminal shows it: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", text))


def pick_button(buttons: list[Button], line: str) -> Button | None:
    """The button a typed line presses: its number, or its whole text; else None."""
    if not buttons:
        return None

    def plain(text: str) -> str:
        # "１" from a phone's full-width keys is 1; "（" is "(" either way.
        return unicodedata.normalize("NFKC", text).strip().casefold()

    wanted = plain(line)
    if wanted.isascii() and wanted.isdigit() and 1 <= int(wanted) <= len(buttons):
        return buttons[int(wanted) - 1]
    for button in buttons:
        if plain(button.text) == wanted:
            return button
    # Nothing else presses a button: "深圳" is what the member typed, not the
    # "广东省 深圳市 福田区" button that happens to contain it.
    return None


class Account:
    """One Telegram account talking to the bot; remembers the buttons last shown to it."""

    def __init__(
        self,
        application: LiaisonApplication,
        api: LocalBotApi,
        *,
        user_id: int,
        name: str,
        language_code: str = "zh-hans",
    ) -> None:
        self.application = application
        self.api = api
        self.updates = UpdateFactory(api)
        self.user = self.updates.user(user_id, name, language_code)
        self.user_id = user_id
        self._shown: Outgoing | None = None
        # Everything sent to this account counts, replies and background notices alike.
        api.subscribe(self._track_one)

    @property
    def buttons(self) -> list[Button]:
        """The buttons the member can press now (from the latest message that had any)."""
        return self._shown.flat_buttons if self._shown is not None else []

    def _track_one(self, outgoing: Outgoing) -> None:
        if outgoing.chat_id != self.user_id:
            return
        if outgoing.buttons:
            self._shown = outgoing
        elif (
            self._shown is not None
            and outgoing.message_id == self._shown.message_id
            and outgoing.method.startswith("edit")
        ):
            # The message was edited without its buttons: they are gone.
            self._shown = None

    def update_for(self, line: str) -> JSONDict:
        """The update a Telegram client would send for what the person typed."""
        line = line.strip()
        location = _LOCATION.match(line)
        if location:
            return self.updates.location(
                self.user, float(location.group(1)), float(location.group(2))
            )
        button = pick_button(self.buttons, line)
        if button is None:
            return self.updates.text(self.user, line)
        if button.request_location:
            raise ChoiceError("share a location by typing /loc LATITUDE LONGITUDE")
        if button.callback_data is not None and self._shown is not None and self._shown.inline:
            return self.updates.press(self.user, self._shown, button)
        # A reply-keyboard button simply sends its text.
        return self.updates.text(self.user, button.text)

    async def send_update(self, update: JSONDict) -> list[Outgoing]:
        """Hand one update to the Application; return what the bot sent meanwhile."""
        before = len(self.api.sent)
        await self.application.process_update(Update.de_json(update, self.application.bot))
        return self.api.sent[before:]

    async def say(self, line: str) -> list[Outgoing]:
        """Type line (a message, a button number or text, or /loc LAT LON)."""
        return await self.send_update(self.update_for(line))


def format_outgoing(outgoing: Outgoing) -> str:
    """How a reply looks in the terminal, buttons numbered."""
    if outgoing.method == "sendLocation":
        params = outgoing.params
        return f"📍 {params['latitude']}, {params['longitude']}"
    if outgoing.method == "answerCallbackQuery":
        return f"💬 {outgoing.text}"
    if outgoing.method == "editMessageReplyMarkup":
        # Only the buttons changed (a group ticked, a row gone): show the new ones, if any.
        lines = ["✎"] if outgoing.flat_buttons else []
    else:
        lines = [html_to_text(outgoing.text)]
    if outgoing.method == "editMessageText":
        lines[0] = "✎ " + lines[0]
    for number, button in enumerate(outgoing.flat_buttons, start=1):
        hint = "  (/loc LAT LON)" if button.request_location else ""
        lines.append(f"  [{number}] {button.text}{hint}")
    return "\n".join(lines)


async def _read_line(stream: TextIO) -> str | None:
    line = await asyncio.get_running_loop().run_in_executor(None, stream.readline)
    return line if line else None


async def run_terminal(
    application: LiaisonApplication,
    api: LocalBotApi,
    *,
    user_id: int,
    name: str,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    banner: str | None = None,
    echo_input: bool | None = None,
    background: Callable[[], AbstractAsyncContextManager[object]] | None = None,
) -> int:
    """Chat in the terminal until end of input; returns the exit status.

    Everything the bot sends to this user is printed as it is sent, so notices the
    dispatcher delivers in the background show up between replies.
    """
    account = Account(application, api, user_id=user_id, name=name)
    interactive = stdin.isatty()
    echo = (not interactive) if echo_input is None else echo_input

    def show(outgoing: Outgoing) -> None:
        if outgoing.chat_id == user_id and (text := format_outgoing(outgoing)):
            # What others wrote (a notice, a reply) reaches a real terminal here: no escape
            # sequences or bidi controls (storage.text.printable).
            print(printable(text), file=stdout, flush=True)

    api.subscribe(show)
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        async with background() if background is not None else contextlib.nullcontext():
            if banner:
                print(banner, file=stdout, flush=True)
            while True:
                if interactive:
                    print("> ", end="", file=stdout, flush=True)
                line = await _read_line(stdin)
                if line is None:
                    break
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                if echo:
                    # Piped conversations read like a transcript.
                    print(f"> {printable(line)}", file=stdout, flush=True)
                try:
                    await account.say(line)
                except ChoiceError as error:
                    print(f"! {error}", file=stdout, flush=True)
    finally:
        await application.shutdown()
    return 0
