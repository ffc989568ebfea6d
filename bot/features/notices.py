"""Placeholder: being written (issue 3)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram.ext import BaseHandler

from bot.commands import Command

COMMANDS: tuple[Command, ...] = ()


def handlers() -> Sequence[BaseHandler]:  # type: ignore[type-arg]
    return []
