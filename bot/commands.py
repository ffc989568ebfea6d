"""The command table: /help, the Telegram command menu and the handler wiring share it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from telegram.ext import BaseHandler


class Audience(StrEnum):
    EVERYONE = "everyone"
    MEMBERS = "members"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class Command:
    """One slash command; its description is the label commands.<name> in each locale."""

    name: str
    audience: Audience
    in_menu: bool = True


@dataclass(frozen=True, slots=True)
class Feature:
    """A bot/features module: its commands and a factory for its handlers."""

    name: str
    commands: Sequence[Command]
    handlers: Callable[[], Sequence[BaseHandler]]  # type: ignore[type-arg]


def visible_commands(commands: Sequence[Command], *, is_staff: bool) -> list[Command]:
    """The commands a person should see in /help and the menu."""
    return [command for command in commands if command.audience is not Audience.STAFF or is_staff]
