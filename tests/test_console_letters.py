"""The partner letters in the console: an administrator lists the partners, draws a letter
and records it sent; a unit administrator sees their unit's partners only; a liaison is
refused, and every refusal leaves a row in the trail."""

from __future__ import annotations

import io

import httpx
from pypdf import PdfReader
from sqlalchemy import select

from storage.clock import FakeClock
from storage.db import Database
from storage.models import AuditEvent, PartnerLetter, StaffRole
from storage.partners import add_partner
from storage.regions import default_index
from tests.conftest import START
from tests.console_harness import LIAISON, actions, csrf_of, log_in
from tests.factories import make_staff, make_unit
from tests.test_partners import build_street, busy_half

ADMIN = 9100


async def test_an_administrator_draws_a_letter_and_records_it_sent(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await build_street(db)
    await busy_half(db, street)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, name="王管理", role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)

    page = (await browser.get("/reports/letters?half=2026H2")).text
    assert "半年函告" in page
    assert "沈丘县委组织部" in page and "河南省 周口市 沈丘县" in page
    assert page.count("尚未生成") == 3
    # Those no partner has, with what the index made of their place.
    assert "2 名流动党员没有对应的协作党组织" in page
    assert "老家村里" in page and "无法识别的地点" in page

    response = await browser.get(f"/reports/letters/{street.shenqiu}/letter.pdf?half=2026H2")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f"partner-{street.shenqiu}-2026H2.pdf" in response.headers["content-disposition"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "王芳" in text and "沈丘县委组织部" in text
    english = await browser.get(
        f"/reports/letters/{street.nanshan}/letter.html?half=2026H2&lang=en"
    )
    assert "To 深圳市南山区委组织部," in english.text

    page = (await browser.get("/reports/letters?half=2026H2")).text
    assert page.count("尚未生成") == 1
    # A form without the session's token changes nothing.
    forged = await browser.post(
        f"/reports/letters/{street.shenqiu}/sent", data={"half": "2026H2", "how": "post"}
    )
    assert forged.status_code == 403
    # Sent: how, with a note; the list says so.
    sent = await browser.post(
        f"/reports/letters/{street.shenqiu}/sent",
        data={"csrf": csrf_of(page), "half": "2026H2", "how": "post", "note": "挂号信 XA123"},
    )
    assert sent.status_code == 303
    page = (await browser.get(sent.headers["location"])).text
    assert "已登记寄出。" in page
    assert "已寄出（邮寄）" in page and "挂号信 XA123" in page
    # Another half: nothing drawn, so nothing to record as sent.
    refused = await browser.post(
        f"/reports/letters/{street.henan}/sent",
        data={"csrf": csrf_of(page), "half": "2026H1", "how": "post"},
    )
    assert refused.status_code == 409
    assert "请先生成这份函件，再登记寄出。" in refused.text
    assert (await browser.get("/reports/letters?half=2026H3")).status_code == 400
    async with db.session() as session:
        letters = list(await session.scalars(select(PartnerLetter).order_by(PartnerLetter.id)))
    assert [(r.partner_id, r.half, r.sent_by) for r in letters] == [
        (street.shenqiu, "2026H2", f"staff:{admin.id}"),
        (street.nanshan, "2026H2", None),
    ]
    done = [action for actor, action in await actions(db) if actor == f"staff:{admin.id}"]
    assert done.count("partner.letter") == 2
    assert "partner.sent" in done


async def test_a_unit_administrator_sees_their_units_partners_only(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await build_street(db)
    other = await make_unit(db, START, "民族街道")
    async with db.session() as session:
        theirs = await add_partner(
            session, START, index=default_index(), name="孝南区委组织部", region="孝感孝南",
            side="origin", unit="民族街道", actor="cli:test",
        )  # fmt: skip
    admin = await make_staff(
        db,
        START,
        telegram_user_id=ADMIN,
        name="民族街道管理员",
        role=StaffRole.ADMIN,
        units=[other],
    )
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get("/reports/letters?half=2026H2")).text
    assert "孝南区委组织部" in page
    assert "沈丘县委组织部" not in page and "王芳" not in page and "赵敏" not in page
    response = await browser.get(f"/reports/letters/{street.shenqiu}/letter.pdf?half=2026H2")
    assert response.status_code == 404
    assert "没有找到这个协作党组织" in response.text
    ours = await browser.get(f"/reports/letters/{theirs.id}/letter.html?half=2026H2")
    assert ours.status_code == 200 and "孝南区委组织部：" in ours.text
    async with db.session() as session:
        refusal = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "partner.letter.refused")
        )
    assert refusal is not None and refusal.subject == f"partner:{street.shenqiu}"
    assert (refusal.detail or {})["reason"] == "out_of_scope"


async def test_a_liaison_is_refused(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await build_street(db)
    liaison = await make_staff(db, START, telegram_user_id=LIAISON, groups=[street.group])
    await log_in(browser, db, clock, liaison.id)
    page = await browser.get("/reports/letters")
    assert page.status_code == 403
    assert "只有管理员可以这样做" in page.text and "王芳" not in page.text
    letter = await browser.get(f"/reports/letters/{street.shenqiu}/letter.pdf?half=2026H2")
    assert letter.status_code == 403
    dashboard = (await browser.get("/")).text
    sent = await browser.post(
        f"/reports/letters/{street.shenqiu}/sent",
        data={"csrf": csrf_of(dashboard), "half": "2026H2", "how": "post"},
    )
    assert sent.status_code == 403
    refused = [action for actor, action in await actions(db) if actor == f"staff:{liaison.id}"]
    assert [a for a in refused if a.startswith("partner.")] == [
        "partner.list.refused",
        "partner.letter.refused",
        "partner.sent.refused",
    ]
    # Without a session, nothing at all.
    browser.cookies.clear()
    assert (await browser.get("/reports/letters")).status_code == 401
