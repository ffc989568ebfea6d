"""The console's audit log: administrators read who did what, filter it, page back through
it and export it; a liaison is refused; every look is itself in the log."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from storage import audit
from storage.clock import FakeClock
from storage.db import Database
from storage.models import AuditEvent, StaffRole
from tests.conftest import START
from tests.console_harness import LIAISON, actions, log_in
from tests.factories import make_staff, make_unit

ZONE = ZoneInfo("Asia/Shanghai")
ADMIN = 9003


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZONE)  # type: ignore[misc]


async def event(
    db: Database,
    at: datetime,
    actor: str,
    action: str,
    subject: str | None = None,
    **detail: object,
) -> None:
    async with db.session() as session:
        await audit.record(session, at, actor=actor, action=action, subject=subject, **detail)


async def shown(page: str) -> list[tuple[str, str]]:
    """(action, subject) of each event listed, in the page's order."""
    rows = re.findall(
        r"<td>\d+</td>\s*<td>[^<]*</td>\s*<td>.*?</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>",
        page,
        flags=re.S,
    )
    return [(action, subject) for action, subject in rows]


async def admin_in(db: Database, clock: FakeClock, browser: httpx.AsyncClient) -> int:
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN, name="周管理")
    await log_in(browser, db, clock, admin.id)
    return admin.id


async def test_an_administrator_reads_the_log_newest_first_with_names(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    liaison = await make_staff(db, START, telegram_user_id=LIAISON, name="李联络")
    await event(db, START - timedelta(hours=3), f"staff:{liaison.id}", "member.view", "member:7")
    await event(db, START - timedelta(hours=2), "cli:root", "notice.send", "notice:2",
                text="<b>通知</b>")  # fmt: skip
    admin = await admin_in(db, clock, browser)

    page = await browser.get("/audit")
    assert page.status_code == 200
    assert "审计日志" in page.text
    listed = await shown(page.text)
    # The login first: newest at the top.
    assert listed[:2] == [("console.login", ""), ("console.link", f"staff:{admin}")]
    assert listed[-2:] == [("notice.send", "notice:2"), ("member.view", "member:7")]
    assert f'李联络 <span class="muted">staff:{liaison.id}</span>' in page.text
    assert "2026-11-15 07:00" in page.text  # START - 3 h, in Wuhan
    # Whatever was kept in a detail is shown as text, never as markup.
    assert "text=&lt;b&gt;通知&lt;/b&gt;" in page.text
    # Reading the log is in the log, with what was asked for.
    async with db.session() as session:
        looked = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "console.audit.view")
        )
    assert looked is not None
    assert looked.actor == f"staff:{admin}"
    assert looked.detail is not None and looked.detail["before"] is None


async def test_the_filters_narrow_the_log(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    liaison = await make_staff(db, START, telegram_user_id=LIAISON, name="李联络")
    me = f"staff:{liaison.id}"
    await event(db, local(2026, 11, 13, 12, 0), me, "member.view", "member:7")
    await event(db, local(2026, 11, 14, 23, 59), me, "member.view", "member:8")
    await event(db, local(2026, 11, 15, 0, 0), me, "request.update", "request:3")
    await event(db, local(2026, 11, 15, 0, 1), "cli:root", "member.import", "member:7")
    await admin_in(db, clock, browser)

    async def listed(**params: str) -> list[tuple[str, str]]:
        page = await browser.get("/audit", params=params)
        assert page.status_code == 200
        return await shown(page.text)

    assert await listed(who=me) == [
        ("request.update", "request:3"),
        ("member.view", "member:8"),
        ("member.view", "member:7"),
    ]
    # A staff member's name finds their actions too.
    assert await listed(who="李联络") == await listed(who=me)
    assert await listed(action="member.") == [
        ("member.import", "member:7"),
        ("member.view", "member:8"),
        ("member.view", "member:7"),
    ]
    assert await listed(subject="member:7") == [
        ("member.import", "member:7"),
        ("member.view", "member:7"),
    ]
    # Local days, both ends included: 23:59 on the 14th is the 14th in Wuhan.
    assert await listed(**{"from": "2026-11-14", "to": "2026-11-14"}) == [
        ("member.view", "member:8")
    ]
    assert await listed(who=me, **{"from": "2026-11-14"}) == [
        ("request.update", "request:3"),
        ("member.view", "member:8"),
    ]
    # A "_" or "%" typed in the action is a character, not a wildcard.
    assert await listed(action="member_") == []
    assert await listed(who="nobody") == []
    page = (await browser.get("/audit", params={"action": "member.", "who": me})).text
    # The filter stays in the form, and the export takes the same filter.
    assert 'name="action" value="member."' in page
    assert f'href="/audit/export.csv?who=staff%3A{liaison.id}&amp;action=member."' in page


async def test_pages_go_back_by_id_without_gaps_or_repeats(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    for number in range(120):
        await event(db, START - timedelta(minutes=200 - number), "cli:root", "member.view",
                    f"member:{number}")  # fmt: skip
    await admin_in(db, clock, browser)
    seen: list[str] = []
    url: str | None = "/audit?action=member."
    pages = 0
    while url is not None:
        page = (await browser.get(url)).text
        seen += [subject for _, subject in await shown(page)]
        older = re.search(r'href="(/audit\?[^"]*before=\d+)" id="older"', page)
        url = older.group(1).replace("&amp;", "&") if older else None
        pages += 1
        if pages > 1:
            assert 'id="newest"' in page
    assert pages == 3
    assert seen == [f"member:{n}" for n in reversed(range(120))]
    views = [e for e in await actions(db) if e[1] == "console.audit.view"]
    assert len(views) == 3


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"from": "2026-13-01"}, "“开始日期”要写成 2026-11-15 这样的日期。"),
        ({"to": "昨天"}, "“结束日期”要写成 2026-11-15 这样的日期。"),
        ({"from": "2026-11-15", "to": "2026-11-01"}, "结束日期不能早于开始日期。"),
        ({"action": "x" * 51}, "“操作”太长了"),
    ],
)
async def test_a_filter_that_cannot_work_is_explained_and_kept(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, params: dict[str, str], said: str
) -> None:
    await admin_in(db, clock, browser)
    page = await browser.get("/audit", params=params)
    assert page.status_code == 400
    assert said in page.text
    for name, value in params.items():
        assert f'name="{name}" value="{value}"' in page.text
    assert 'aria-invalid="true"' in page.text
    assert 'id="events"' not in page.text
    assert "console.audit.view" not in {a for _, a in await actions(db)}


async def test_an_administrator_of_one_unit_is_refused_the_districts_log(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    # The log names whom staff of every unit looked at: a unit's administrator sees only
    # that unit's members anywhere else in the console, so not this.
    unit = await make_unit(db, START)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN, units=[unit])
    await event(db, START, "cli:root", "member.import", "member:1")
    await log_in(browser, db, clock, admin.id)
    response = await browser.get("/audit")
    assert response.status_code == 403
    assert "member.import" not in response.text
    assert (f"staff:{admin.id}", "console.audit.view.refused") in await actions(db)


async def test_a_liaison_is_refused_and_the_attempt_kept(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    liaison = await make_staff(db, START, telegram_user_id=LIAISON)
    await event(db, START, "cli:root", "member.import", "member:1")
    await log_in(browser, db, clock, liaison.id)
    assert 'href="/audit"' not in (await browser.get("/")).text
    for path in ("/audit", "/audit?action=member.", "/audit?from=bad", "/audit/export.csv"):
        response = await browser.get(path)
        assert response.status_code == 403
        assert "只有负责全区的管理员可以查看审计日志" in response.text
        assert "member.import" not in response.text
    refused = [a for who, a in await actions(db) if who == f"staff:{liaison.id}"]
    assert refused.count("console.audit.view.refused") == 3
    assert refused.count("console.audit.export.refused") == 1
    assert "console.audit.view" not in refused


async def test_the_export_is_the_filtered_log_as_csv(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    # A name that would start a formula in a spreadsheet.
    liaison = await make_staff(db, START, telegram_user_id=LIAISON, name="=HYPERLINK(1)")
    await event(db, local(2026, 11, 14, 9, 30), f"staff:{liaison.id}", "member.view",
                "member:7", query="刘")  # fmt: skip
    await event(db, local(2026, 11, 14, 9, 31), "cli:root", "notice.send", "notice:1")
    admin = await admin_in(db, clock, browser)
    response = await browser.get("/audit/export.csv", params={"action": "member."})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="audit-20261115-1000.csv"'
    )
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["id", "time", "actor", "actor_name", "action", "subject", "detail"],
        [
            rows[1][0],
            "2026-11-14 09:30:00",
            f"staff:{liaison.id}",
            "'=HYPERLINK(1)",
            "member.view",
            "member:7",
            '{"query": "刘"}',
        ],
    ]
    [exported] = [e for e in await _events(db) if e.action == "console.audit.export"]
    assert exported.actor == f"staff:{admin}"
    assert exported.detail is not None
    assert exported.detail["rows"] == 1
    assert exported.detail["filter"] == {
        "who": None, "action_prefix": "member.", "subject": None, "since": None, "until": None,
    }  # fmt: skip


async def _events(db: Database) -> list[AuditEvent]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


async def test_the_audit_log_in_english(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    admin = await make_staff(db, START, telegram_user_id=ADMIN, role=StaffRole.ADMIN, locale="en")
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get("/audit")).text
    assert "Audit log" in page
    assert "Export as CSV (every event of this filter)" in page
    bad = await browser.get("/audit", params={"from": "soon"})
    assert "“From” must be a date like 2026-11-15." in bad.text
    assert "No events match." in (await browser.get("/audit?who=nobody")).text

    liaison = await make_staff(db, START, telegram_user_id=LIAISON, locale="en")
    browser.cookies.clear()
    await log_in(browser, db, clock, liaison.id)
    refused = await browser.get("/audit")
    assert "only administrators over the whole district can read it" in refused.text
