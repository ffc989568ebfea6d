"""The partner letters in the console: an administrator lists the partners, draws a letter
and records it sent, adds, changes and removes partners and puts unmatched members with
one; a unit administrator sees and manages their unit's partners only; a liaison is
refused, and every refusal leaves a row in the trail."""

from __future__ import annotations

import io

import httpx
from pypdf import PdfReader
from sqlalchemy import select

from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    MemberStatus,
    PartnerAssignment,
    PartnerLetter,
    PartnerOrganisation,
    StaffRole,
)
from storage.partners import add_partner
from storage.regions import default_index
from tests.conftest import START
from tests.console_harness import LIAISON, actions, csrf_of, log_in
from tests.factories import make_member, make_staff, make_unit
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


def partner_form(page: str, **typed: str) -> dict[str, str]:
    """The partner form as a visitor fills it: the page's token, the fields given."""
    blank = dict.fromkeys(
        ("name", "region", "side", "address", "contact_person", "contact_phone", "unit", "note"),
        "",
    )
    return {"csrf": csrf_of(page), **blank, "side": "origin", **typed}


async def partners(db: Database) -> dict[str, PartnerOrganisation]:
    async with db.session() as session:
        return {p.name: p for p in await session.scalars(select(PartnerOrganisation))}


async def test_an_administrator_adds_changes_and_removes_a_partner(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await build_street(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, name="王管理", role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get("/reports/letters")).text
    assert "添加协作党组织" in page and "（全区）" in page

    # A region the index does not know: the form again with what was typed, nothing written.
    bad = await browser.post(
        "/reports/letters/partners",
        data=partner_form(
            page, name="<b>孝南区委组织部</b>", region="火星", contact_person="刘主任"
        ),
    )
    assert bad.status_code == 400
    assert "无法识别这个地区" in bad.text
    assert 'value="火星"' in bad.text and 'value="刘主任"' in bad.text
    assert "&lt;b&gt;孝南区委组织部&lt;/b&gt;" in bad.text and "<b>孝南" not in bad.text
    assert len(await partners(db)) == 3

    added = await browser.post(
        "/reports/letters/partners",
        data=partner_form(
            page,
            name="孝南区委组织部",
            region="孝感孝南",
            contact_person="刘主任",
            contact_phone="0712-2851234",
            note="<script>x</script>",
        ),
    )
    assert added.status_code == 303
    page = (await browser.get(added.headers["location"])).text
    assert "已添加协作党组织。" in page
    new = (await partners(db))["孝南区委组织部"]
    assert new.unit_id is None and new.contact_phone == "+867122851234"
    assert f'href="/reports/letters/partners/{new.id}">孝南区委组织部</a>' in page

    # Its page: the form filled in, to change it.
    shown = await browser.get(f"/reports/letters/partners/{new.id}")
    assert shown.status_code == 200
    assert "修改协作党组织" in shown.text and 'value="刘主任"' in shown.text
    assert "湖北省 孝感市 孝南区" in shown.text
    assert "&lt;script&gt;x&lt;/script&gt;" in shown.text and "<script>x" not in shown.text
    duplicate = await browser.post(
        f"/reports/letters/partners/{new.id}",
        data=partner_form(shown.text, name="沈丘县委组织部", region="孝感孝南"),
    )
    assert duplicate.status_code == 400
    assert "已经有同名的协作党组织了。" in duplicate.text
    assert 'value="沈丘县委组织部"' in duplicate.text
    saved = await browser.post(
        f"/reports/letters/partners/{new.id}",
        data=partner_form(
            shown.text,
            name="孝感市孝南区委组织部",
            region="湖北省 孝感市 孝南区",
            side="destination",
            contact_person="陈主任",
            unit=str(street.wang.home_unit_id),
        ),
    )
    assert saved.status_code == 303
    page = (await browser.get(saved.headers["location"])).text
    assert "已保存协作党组织。" in page and "孝感市孝南区委组织部" in page
    changed = (await partners(db))["孝感市孝南区委组织部"]
    assert changed.contact_person == "陈主任" and changed.side.value == "destination"
    assert changed.unit_id == street.wang.home_unit_id and changed.note is None

    # Removing asks for the box ticked.
    unticked = await browser.post(
        f"/reports/letters/partners/{new.id}/remove", data={"csrf": csrf_of(page)}
    )
    assert unticked.status_code == 400 and "没有删除：请勾选确认。" in unticked.text
    assert "孝感市孝南区委组织部" in await partners(db)
    removed = await browser.post(
        f"/reports/letters/partners/{new.id}/remove",
        data={"csrf": csrf_of(page), "confirm": "yes"},
    )
    assert removed.status_code == 303
    page = (await browser.get(removed.headers["location"])).text
    assert "已删除协作党组织。" in page and "孝感市孝南区委组织部" not in page
    assert "孝感市孝南区委组织部" not in await partners(db)
    done = [action for actor, action in await actions(db) if actor == f"staff:{admin.id}"]
    assert [a for a in done if a in ("partner.add", "partner.edit", "partner.remove")] == [
        "partner.add",
        "partner.edit",
        "partner.remove",
    ]


async def test_an_unmatched_member_is_put_with_a_partner(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await build_street(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, name="王管理", role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get("/reports/letters?half=2026H2")).text
    assert "2 名流动党员没有对应的协作党组织" in page
    assert f'<tr id="member-{street.zhao.id}">' in page
    assigned = await browser.post(
        "/reports/letters/assign",
        data={
            "csrf": csrf_of(page),
            "half": "2026H2",
            "member_id": str(street.zhao.id),
            "partner_id": str(street.shenqiu),
        },
    )
    assert assigned.status_code == 303
    assert "half=2026H2" in assigned.headers["location"]
    page = (await browser.get(assigned.headers["location"])).text
    assert "已把这名党员指定到协作党组织。" in page
    assert "1 名流动党员没有对应的协作党组织" in page
    assert f'<tr id="member-{street.zhao.id}">' not in page
    # 王芳 by place, 赵敏 by hand.
    assert "（其中 1 名为人工指定）" in page
    # A local member has no partner: the list says so, nothing written.
    local = await browser.post(
        "/reports/letters/assign",
        data={
            "csrf": csrf_of(page),
            "member_id": str(street.local.id),
            "partner_id": str(street.shenqiu),
        },
    )
    assert local.status_code == 400 and "本地党员没有协作党组织。" in local.text
    async with db.session() as session:
        rows = list(await session.scalars(select(PartnerAssignment)))
    assert [(r.member_id, r.partner_id, r.assigned_by) for r in rows] == [
        (street.zhao.id, street.shenqiu, f"staff:{admin.id}")
    ]
    assert (f"staff:{admin.id}", "partner.assign") in await actions(db)


async def test_a_unit_administrator_cannot_touch_another_units_partner(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await build_street(db)
    other = await make_unit(db, START, "民族街道")
    ours = await make_member(
        db, START, name="周杰", phone="+8613800000009", status=MemberStatus.INFLOW,
        unit=other,
    )  # fmt: skip
    async with db.session() as session:
        theirs = await add_partner(
            session, START, index=default_index(), name="孝南区委组织部", region="孝感孝南",
            side="origin", unit="民族街道", actor="cli:test",
        )  # fmt: skip
    admin = await make_staff(
        db, START, telegram_user_id=ADMIN, name="民族街道管理员", role=StaffRole.ADMIN,
        units=[other],
    )  # fmt: skip
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get("/reports/letters")).text
    # Only their own street to hold a new partner: not the whole district, not 民意街道.
    assert "（全区）" not in page and "民意街道" not in page
    assert f'<option value="{other.id}">民族街道</option>' in page
    token = csrf_of(page)

    shown = await browser.get(f"/reports/letters/partners/{street.shenqiu}")
    assert shown.status_code == 404 and "没有找到这个协作党组织" in shown.text
    saved = await browser.post(
        f"/reports/letters/partners/{street.shenqiu}",
        data=partner_form(page, name="改掉", region="河南", unit=str(other.id)),
    )
    assert saved.status_code == 404
    removed = await browser.post(
        f"/reports/letters/partners/{street.shenqiu}/remove",
        data={"csrf": token, "confirm": "yes"},
    )
    assert removed.status_code == 404
    # Another street's member to their partner, their member to another street's partner.
    foreign_member = await browser.post(
        "/reports/letters/assign",
        data={"csrf": token, "member_id": str(street.zhao.id), "partner_id": str(theirs.id)},
    )
    assert foreign_member.status_code == 404 and "没有找到这名党员" in foreign_member.text
    foreign_partner = await browser.post(
        "/reports/letters/assign",
        data={"csrf": token, "member_id": str(ours.id), "partner_id": str(street.shenqiu)},
    )
    assert foreign_partner.status_code == 404
    # A new partner held by another street is refused like a typing mistake.
    elsewhere = await browser.post(
        "/reports/letters/partners",
        data=partner_form(
            page, name="新洲区委组织部", region="武汉新洲", unit=str(street.wang.home_unit_id)
        ),
    )
    assert elsewhere.status_code == 400 and "请选择您负责的街道。" in elsewhere.text
    assert 'value="新洲区委组织部"' in elsewhere.text
    assert set(await partners(db)) == {
        "沈丘县委组织部", "河南省委组织部", "深圳市南山区委组织部", "孝南区委组织部",
    }  # fmt: skip
    async with db.session() as session:
        assert list(await session.scalars(select(PartnerAssignment))) == []
        refusals = list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.like("partner.%.refused"))
                .order_by(AuditEvent.id)
            )
        )
    assert [(r.action, r.subject, (r.detail or {})["reason"]) for r in refusals] == [
        ("partner.edit.refused", f"partner:{street.shenqiu}", "out_of_scope"),
        ("partner.edit.refused", f"partner:{street.shenqiu}", "out_of_scope"),
        ("partner.remove.refused", f"partner:{street.shenqiu}", "out_of_scope"),
        ("partner.assign.refused", f"member:{street.zhao.id}", "out_of_scope"),
        ("partner.assign.refused", f"partner:{street.shenqiu}", "out_of_scope"),
    ]
    # Their own partner they may change.
    shown = await browser.get(f"/reports/letters/partners/{theirs.id}")
    assert shown.status_code == 200 and f'<option value="{other.id}" selected>' in shown.text


async def test_a_liaison_cannot_manage_partners(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    street = await build_street(db)
    liaison = await make_staff(db, START, telegram_user_id=LIAISON, groups=[street.group])
    await log_in(browser, db, clock, liaison.id)
    dashboard = (await browser.get("/")).text
    token = csrf_of(dashboard)
    responses = [
        await browser.post(
            "/reports/letters/partners",
            data=partner_form(dashboard, name="新洲区委组织部", region="武汉新洲"),
        ),
        await browser.get(f"/reports/letters/partners/{street.shenqiu}"),
        await browser.post(
            f"/reports/letters/partners/{street.shenqiu}",
            data=partner_form(dashboard, name="改掉", region="河南"),
        ),
        await browser.post(
            f"/reports/letters/partners/{street.shenqiu}/remove",
            data={"csrf": token, "confirm": "yes"},
        ),
        await browser.post(
            "/reports/letters/assign",
            data={
                "csrf": token,
                "member_id": str(street.zhao.id),
                "partner_id": str(street.shenqiu),
            },
        ),
    ]
    assert [r.status_code for r in responses] == [403] * 5
    assert all("只有管理员可以这样做" in r.text for r in responses)
    assert len(await partners(db)) == 3
    refused = [action for actor, action in await actions(db) if actor == f"staff:{liaison.id}"]
    assert [a for a in refused if a.startswith("partner.")] == [
        "partner.add.refused",
        "partner.edit.refused",
        "partner.edit.refused",
        "partner.remove.refused",
        "partner.assign.refused",
    ]


async def test_a_forged_form_adds_nothing_and_the_form_reads_in_english(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    await build_street(db)
    admin = await make_staff(db, START, telegram_user_id=ADMIN, name="王管理", role=StaffRole.ADMIN)
    await log_in(browser, db, clock, admin.id)
    page = (await browser.get("/reports/letters")).text
    forged = await browser.post(
        "/reports/letters/partners",
        data={**partner_form(page, name="新洲区委组织部", region="武汉新洲"), "csrf": "forged"},
    )
    assert forged.status_code == 403
    assert len(await partners(db)) == 3
    await browser.post("/lang", data={"csrf": csrf_of(page), "locale": "en", "back": "/"})
    page = (await browser.get("/reports/letters")).text
    assert "Add a partner organisation" in page and "Contact person" in page
    assert "(the whole district)" in page
    bad = await browser.post(
        "/reports/letters/partners", data=partner_form(page, name="", region="武汉新洲")
    )
    assert bad.status_code == 400 and "Write the organisation&#39;s name." in bad.text
