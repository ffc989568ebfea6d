"""What the console's tests share: a browser on the app (httpx), signing in by link, the
CSRF token of a page, the audit trail, and two groups to look at.

The `browser` fixture is in conftest.py; the rest is imported.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from storage import console
from storage.clock import FakeClock
from storage.db import Database
from storage.models import AuditEvent, Group
from tests.conftest import START
from tests.factories import make_checkin, make_group, make_member

LIAISON = 9001
OTHER_LIAISON = 9002
MEMBER = 8001
STRANGER = 424242


async def two_groups(db: Database) -> tuple[Group, Group]:
    """驻深圳 (3 members, 1 checked in this month, 1 lost contact) and 驻上海 (1 member)."""
    shenzhen = await make_group(db, START, "驻深圳党小组")
    shanghai = await make_group(db, START, "驻上海党小组")
    done = await make_member(
        db,
        START,
        name="刘洋",
        phone="+8613800138001",
        groups=[shenzhen],
        registered_at=START - timedelta(days=400),
    )
    await make_checkin(db, done, START - timedelta(days=2), city="深圳市")
    await make_checkin(db, done, START - timedelta(days=35), city="深圳市")
    await make_member(
        db, START, name="张伟", phone="+8613800138000", groups=[shenzhen], telegram_user_id=MEMBER
    )
    lost = await make_member(db, START, name="陈静", phone="+8613800138002", groups=[shenzhen])
    async with db.session() as session:
        (await session.merge(lost)).lost_contact_at = START - timedelta(days=3)
    await make_member(db, START, name="李娜", phone="+8613800138003", groups=[shanghai])
    return shenzhen, shanghai


async def link_for(db: Database, clock: FakeClock, staff_id: int) -> str:
    async with db.session() as session:
        token = await console.create_link(
            session, clock.now(), staff_id=staff_id, actor=f"staff:{staff_id}"
        )
    return f"/login/{token}"


async def log_in(browser: httpx.AsyncClient, db: Database, clock: FakeClock, staff_id: int) -> None:
    response = await browser.get(await link_for(db, clock, staff_id))
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def actions(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        return [(event.actor, event.action) for event in rows]


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)
