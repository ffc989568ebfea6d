"""Typed access to the shared services from every handler (no bot_data["…"] strings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.commands import Command
from messages.render import Renderer, normalize_locale
from scheduler.timers import CycleScheduler
from storage.checkins import member_zone
from storage.clock import Clock
from storage.conversations import OpenConversation
from storage.db import Database
from storage.identity import Identity
from storage.models import Platform
from storage.regions import RegionIndex
from storage.settings import Settings

if TYPE_CHECKING:
    from bot.flow import Conversation


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a handler may use, built once by the composition root."""

    settings: Settings
    db: Database
    clock: Clock
    renderer: Renderer
    regions: RegionIndex
    # The invite codes' HMAC key (storage/invite_key.py); never in a repr or a log.
    invite_key: bytes = field(repr=False)


class BotData:
    """application.bot_data: the services and the command table, set by build_application."""

    services: Services
    commands: list[Command]
    # The running service's timers (None in the bare Application of tests and `chat`).
    scheduler: CycleScheduler | None = None
    # Whose accounts this Application's user ids are: Telegram's, or QQ's when the same
    # handlers serve QQ private chats through the text transport (bot/qq.py).
    platform: Platform = Platform.TELEGRAM


class UserData:
    """context.user_data: who this account is, refreshed from the database on every update."""

    def __init__(self) -> None:
        self.identity: Identity | None = None
        # /lang chosen before the account is bound to a member.
        self.locale: str | None = None


class LiaisonContext(CallbackContext[ExtBot[None], UserData, dict[Any, Any], BotData]):
    """The context handlers receive: services, the caller's identity, locale and now.

    One per update, so what is set on it lasts one turn.
    """

    # The chat's open conversation during this turn (bot/flow.py reads and writes it).
    conversation: Conversation | None = None
    # Its row as read with the identity, in the same transaction (bot/app.load_identity):
    # one trip to the database before any handler, not two. None: not read (yet).
    stored_conversation: tuple[OpenConversation | None] | None = None
    # Already rendered: opens the next reply of this turn (one message per turn), e.g.
    # "the check-in you had open has ended" before the first question of a request.
    lead: str | None = None

    @property
    def services(self) -> Services:
        return self.bot_data.services

    @property
    def platform(self) -> Platform:
        """The platform of the accounts this update comes from."""
        return self.bot_data.platform

    @property
    def caller(self) -> UserData:
        """Per-account data of whoever sent the update (every update here has a sender)."""
        data = self.user_data
        if data is None:
            raise RuntimeError("update without a sender reached a handler that needs one")
        return data

    @property
    def identity(self) -> Identity | None:
        return self.user_data.identity if self.user_data is not None else None

    def staff(self) -> tuple[Identity, int] | None:
        """The caller's identity and staff id when the caller is staff, else None."""
        identity = self.identity
        if identity is None or identity.staff_id is None:
            return None
        return identity, identity.staff_id

    @property
    def locale(self) -> str:
        identity = self.identity
        chosen = identity.locale if identity and identity.locale else None
        if chosen is None and self.user_data is not None:
            chosen = self.user_data.locale
        return normalize_locale(chosen, self.services.settings.locale)

    @property
    def zone(self) -> tzinfo:
        """The caller's time zone: their own if set (and known), else the service default."""
        identity = self.identity
        return member_zone(identity.timezone if identity else None, self.services.settings.zone)

    def now(self) -> datetime:
        """The current instant from the service clock (fake in tests)."""
        return self.services.clock.now()


LiaisonApplication = Application[
    ExtBot[None], LiaisonContext, UserData, dict[Any, Any], BotData, Any
]
