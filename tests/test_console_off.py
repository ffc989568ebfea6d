"""/console when the console is switched off (LIAISON_CONSOLE_LISTEN empty): no link."""

from __future__ import annotations

import pytest

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication
from storage.db import Database
from storage.settings import Settings
from tests.chat import Person, talk
from tests.conftest import START
from tests.factories import make_staff


@pytest.fixture
def settings(db: Database) -> Settings:
    return Settings(
        database_url=str(db.engine.url.render_as_string(hide_password=False)), console_listen=""
    )


async def test_no_link_when_the_console_is_off(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await make_staff(db, START, telegram_user_id=9001)
    await make_staff(db, START, telegram_user_id=9002, locale="en")
    await talk(Person(application, bot_api, 9001), [("/console", "联络工作台未开启")])
    await talk(
        Person(application, bot_api, 9002, language_code="en"),
        [("/console", "The web console is not switched on")],
    )
