"""The command table: /help, the Telegram command menu and the handler wiring share it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler

if TYPE_CHECKING:
    from bot.flow import Flow


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
    """A bot/features module: its commands, a factory for its handlers, its conversations."""

    name: str
    commands: Sequence[Command]
    handlers: Callable[[], Sequence[BaseHandler]]  # type: ignore[type-arg]
    flows: Sequence[Flow[Any]] = ()


def visible_commands(commands: Sequence[Command], *, is_staff: bool) -> list[Command]:
    """The commands a person should see in /help and the menu."""
    return [command for command in commands if command.audience is not Audience.STAFF or is_staff]
