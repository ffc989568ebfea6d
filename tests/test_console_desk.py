"""The console's desk: service requests, activity certificates and ideas, as staff handle
them in the browser, with the member hearing of it in the bot as when done there.

Driven over HTTP with httpx on the real app and the real database; the member's messages
go out through the real dispatcher to the in-process Bot API. Every form is sent as the
page drew it (its hidden fields read from the page), so a form sent twice is the page's.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from bot.terminal import html_to_text
from storage import certificates, ideas, requests
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    Certificate,
    CertificateStatus,
    IdeaKind,
    Member,
    RequestEventKind,
    RequestStatus,
    ServiceRequest,
    ServiceRequestEvent,
    StaffRole,
)
from tests.conftest import START
from tests.console_harness import LIAISON, MEMBER, OTHER_LIAISON, actions, log_in, two_groups
from tests.delivery import Deliver
from tests.factories import make_member, make_request_catalogue, make_staff

ZONE = ZoneInfo("Asia/Shanghai")
COLLEAGUE = 9003
ENGLISH_MEMBER = 8002


@dataclass(frozen=True, slots=True)
class Desk:
    """驻深圳 (张伟, 刘洋, 陈静, Jenny Wu in English) looked after by 李联络 and 王芳;
    驻上海 (李娜) by 赵强."""

    liaison: int
    colleague: int
    other: int
    members: dict[str, int]
    category: int

    @property
    def actor(self) -> str:
        return f"staff:{self.liaison}"


async def desk(db: Database) -> Desk:
    shenzhen, shanghai = await two_groups(db)
    await make_member(
        db,
        START,
        name="Jenny Wu",
        phone="+8613800138009",
        groups=[shenzhen],
        telegram_user_id=ENGLISH_MEMBER,
        locale="en",
    )
    liaison = await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    colleague = await make_staff(
        db, START, telegram_user_id=COLLEAGUE, name="王芳", groups=[shenzhen]
    )
    other = await make_staff(
        db, START, telegram_user_id=OTHER_LIAISON, name="赵强", groups=[shanghai]
    )
    category, _ = await make_request_catalogue(db, START)
    async with db.session() as session:
        members = {m.name: m.id for m in await session.scalars(select(Member))}
    return Desk(liaison.id, colleague.id, other.id, members, category)


async def file_request(
    db: Database, desk: Desk, name: str, *, days_ago: int = 3, text: str = "门面续租需要帮助"
) -> int:
    async with db.session() as session:
        row = await requests.create_request(
            session,
            START - timedelta(days=days_ago),
            member_id=desk.members[name],
            category_id=desk.category,
            description=text,
            zone=ZONE,
        )
    return row.id


async def page(browser: httpx.AsyncClient, path: str, status: int = 200) -> str:
    response = await browser.get(path)
    assert response.status_code == status, response.text
    return response.text


def form_of(page_text: str, form_id: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of one form of the page, as a browser sends them."""
    found = re.search(
        rf'<form method="post" action="([^"]+)"[^>]*id="{form_id}">(.*?)</form>',
        page_text,
        re.DOTALL,
    )
    assert found is not None, f"no form {form_id}"
    hidden = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', found.group(2))
    return found.group(1), {name: html.unescape(value) for name, value in hidden}


async def send(
    browser: httpx.AsyncClient, page_text: str, form_id: str, **fields: str
) -> httpx.Response:
    """Fill in one form of the page and send it; a change that worked shows the card again."""
    action, hidden = form_of(page_text, form_id)
    response = await browser.post(action, data={**hidden, **fields})
    if response.status_code == 303:
        return await browser.get(response.headers["location"])
    return response


def said(page_text: str, element_id: str) -> str:
    """The text of one element of the page (#done, #error, #assignee …)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page_text, re.DOTALL)
    assert found is not None, f"no #{element_id}"
    return html.unescape(found.group(1)).strip()


def listed(page_text: str, area: str) -> list[int]:
    return [int(n) for n in re.findall(rf'<a href="/{area}/(\d+)">', page_text)]


async def request_row(db: Database, request_id: int) -> ServiceRequest:
    async with db.session() as session:
        row = await session.get(ServiceRequest, request_id)
    assert row is not None
    return row


async def events_of(db: Database, request_id: int, kind: RequestEventKind) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(ServiceRequestEvent)
                .where(
                    ServiceRequestEvent.request_id == request_id, ServiceRequestEvent.kind == kind
                )
            )
            or 0
        )


# --- service requests -----------------------------------------------------------------------


async def test_the_open_requests_of_my_members_by_status_age_and_order(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    d = await desk(db)
    oldest = await file_request(db, d, "张伟", days_ago=40)
    middle = await file_request(db, d, "刘洋", days_ago=10)
    newest = await file_request(db, d, "张伟", days_ago=1)
    await file_request(db, d, "李娜", days_ago=2)  # 驻上海: not this liaison's
    closed = await file_request(db, d, "陈静", days_ago=3)
    async with db.session() as session:
        await requests.set_status(
            session, START, closed, staff_id=d.colleague, status=RequestStatus.RESOLVED,
            answer="已经办好",
        )  # fmt: skip
    await log_in(browser, db, clock, d.liaison)

    shown = await page(browser, "/requests")
    assert listed(shown, "requests") == [oldest, middle, newest]
    assert said(shown, "count") == "共 3 件"
    assert "李娜" not in shown
    assert "超期" in shown  # 40 days: past its 30-day target
    newest_first = await page(browser, "/requests?order=newest")
    assert listed(newest_first, "requests") == [newest, middle, oldest]
    assert 'value="newest" selected' in newest_first
    ages = {
        age: listed(await page(browser, f"/requests?age={age}"), "requests")
        for age in ("week", "month", "older")
    }
    assert ages == {"week": [newest], "month": [middle], "older": [oldest]}
    assert listed(await page(browser, "/requests?status=resolved"), "requests") == [closed]
    assert listed(await page(browser, "/requests?status=all"), "requests") == [
        oldest, middle, closed, newest,
    ]  # fmt: skip
    # A filter the page does not offer is no filter.
    assert listed(await page(browser, "/requests?status=lost&age=ages"), "requests") == [
        oldest, middle, newest,
    ]  # fmt: skip
    assert listed(await page(browser, "/requests?status=in_progress"), "requests") == []
    assert (d.actor, "request.list") in await actions(db)


async def test_a_liaison_takes_a_request_and_the_member_hears_it(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, deliver: Deliver
) -> None:
    d = await desk(db)
    request_id = await file_request(db, d, "张伟", text="<b>房东</b>要涨租 & 不续签")
    await deliver()  # the liaisons' "new request"
    await log_in(browser, db, clock, d.liaison)

    card = await page(browser, f"/requests/{request_id}")
    assert f"服务申请 #{request_id}" in card
    assert said(card, "status") == "已受理"
    assert said(card, "assignee") == "无人办理"
    assert "+86 138****8000" in card and "8613800138000" not in card
    assert "&lt;b&gt;房东&lt;/b&gt;要涨租 &amp; 不续签" in card
    assert "张伟 提交申请" in card

    taken = await send(browser, card, "take-form")
    assert said(taken.text, "done") == "已由您办理，已通知党员。"
    assert said(taken.text, "status") == "办理中"
    assert said(taken.text, "assignee") == "李联络"
    assert 'id="take-form"' not in taken.text
    got = await deliver()
    [told] = got[MEMBER]
    assert "您的服务申请 #1（门面续租）已经由联络员 李联络 开始办理" in html_to_text(told.text)
    assert (d.actor, "request.view") in await actions(db)
    assert (d.actor, "request.take") in await actions(db)


async def test_closing_with_the_answer_tells_the_member_in_their_language(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, deliver: Deliver
) -> None:
    d = await desk(db)
    request_id = await file_request(db, d, "Jenny Wu")
    await deliver()
    await log_in(browser, db, clock, d.liaison)
    card = await page(browser, f"/requests/{request_id}")
    assert re.findall(r'<option value="(\w+)"', card) == [
        "in_progress", "resolved", "cannot_help", "referred", str(d.colleague),
    ]  # fmt: skip

    # Referred, but not where to: said, and the answer typed is kept.
    answer = "请带身份证<去>办理"
    missing = await send(
        browser, card, "status-form", status="referred", referred_to=" ", answer=answer
    )
    assert missing.status_code == 400
    assert said(missing.text, "error") == "请写明转介到哪个部门或单位。"
    assert ">请带身份证&lt;去&gt;办理</textarea>" in missing.text
    assert 'value="referred" selected' in missing.text
    assert (await request_row(db, request_id)).status is RequestStatus.RECEIVED

    referred = await send(
        browser,
        missing.text,
        "status-form",
        status="referred",
        referred_to="区人社局",
        answer="请带身份证<去>办理",
    )
    assert said(referred.text, "done") == "状态已改为“已转介”，已通知党员。"
    assert "区人社局" in referred.text
    assert 'id="closed"' in referred.text and 'id="status-form"' not in referred.text
    got = await deliver()
    [told] = got[ENGLISH_MEMBER]
    assert "(Shop lease) was referred to: 区人社局" in html_to_text(told.text)
    assert "李联络 answers: 请带身份证&lt;去&gt;办理" in told.text
    assert [b.text for b in told.flat_buttons] == ["👍 Solved", "👎 Not solved"]
    assert (d.actor, "request.status") in await actions(db)


async def test_bad_input_is_said_and_what_was_typed_stays(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    d = await desk(db)
    request_id = await file_request(db, d, "张伟")
    await log_in(browser, db, clock, d.liaison)
    card = await page(browser, f"/requests/{request_id}")

    empty = await send(browser, card, "note-form", note="  \n ")
    assert empty.status_code == 400
    assert said(empty.text, "error") == "备注是空的，请输入内容。"
    long_note = "房东<周五>来面谈" + "长" * 995
    too_long = await send(browser, card, "note-form", note=long_note)
    assert too_long.status_code == 400
    assert said(too_long.text, "error") == (
        "备注太长：最多 1000 字，这次有 1004 字，没有保存。请写短一些再提交。"
    )
    assert f">{html.escape(long_note, quote=False)}</textarea>" in too_long.text
    no_answer = await send(browser, card, "status-form", status="resolved", answer="")
    assert said(no_answer.text, "error") == "办结需要写下给党员的答复，它会发给党员。"
    long_answer = await send(browser, card, "status-form", status="resolved", answer="答" * 1001)
    assert "答复太长：最多 1000 字，这次有 1001 字" in said(long_answer.text, "error")
    assert ">" + "答" * 1001 + "</textarea>" in long_answer.text
    unknown = await send(browser, card, "status-form", status="flying")
    assert said(unknown.text, "error") == "请选择要改成的状态。"
    assert await events_of(db, request_id, RequestEventKind.NOTE) == 0

    # In progress, it cannot go back to received.
    taken = await send(browser, card, "take-form")
    backwards = await send(browser, taken.text, "status-form", status="received", answer="x")
    assert backwards.status_code == 409
    assert said(backwards.text, "error") == (
        f"服务申请 #{request_id} 现在是“办理中”，不能改为“已受理”。"
    )
    assert (await request_row(db, request_id)).status is RequestStatus.IN_PROGRESS


async def test_a_form_sent_twice_does_it_once(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, deliver: Deliver
) -> None:
    d = await desk(db)
    request_id = await file_request(db, d, "张伟")
    await deliver()
    await log_in(browser, db, clock, d.liaison)
    card = await page(browser, f"/requests/{request_id}")

    first = await send(browser, card, "note-form", note="房东周五来面谈")
    assert said(first.text, "done") == "内部备注已保存。"
    assert "李联络 备注：房东周五来面谈" in first.text
    assert "（内部）" in first.text
    again = await send(browser, card, "note-form", note="房东周五来面谈")
    assert again.status_code == 409
    assert said(again.text, "error") == "这个操作已经完成了，重复提交没有再执行一次。"
    assert "房东周五来面谈</textarea>" not in again.text
    assert await events_of(db, request_id, RequestEventKind.NOTE) == 1

    card = first.text
    closing = {"status": "resolved", "answer": "已协调房东续租"}
    done = await send(browser, card, "status-form", **closing)
    assert said(done.text, "done") == "状态已改为“已解决”，已通知党员。"
    twice = await send(browser, card, "status-form", **closing)
    assert said(twice.text, "error") == "这个操作已经完成了，重复提交没有再执行一次。"
    got = await deliver()
    assert len(got[MEMBER]) == 1
    assert "已经办结：已解决" in html_to_text(got[MEMBER][0].text)


async def test_a_request_taken_by_a_colleague_meanwhile_is_not_taken_over(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    d = await desk(db)
    request_id = await file_request(db, d, "张伟")
    await log_in(browser, db, clock, d.liaison)
    card = await page(browser, f"/requests/{request_id}")
    # 王芳 presses "take" in the bot while the page is open.
    async with db.session() as session:
        await requests.take(session, START, request_id, staff_id=d.colleague)

    late = await send(browser, card, "take-form")
    assert late.status_code == 409
    assert said(late.text, "error") == (
        f"在您打开这个页面之后，王芳已经更新了服务申请 #{request_id}（见下面的经过），"
        "您的操作没有执行。请看过最新情况后再提交。"
    )
    assert said(late.text, "assignee") == "王芳"
    assert (await request_row(db, request_id)).assignee_id == d.colleague
    # A note typed on the old page is not lost; sent again from the page as it is now, kept.
    note = await send(browser, card, "note-form", note="已电话联系党员")
    assert note.status_code == 409
    assert "已电话联系党员</textarea>" in note.text
    kept = await send(browser, note.text, "note-form", note="已电话联系党员")
    assert said(kept.text, "done") == "内部备注已保存。"


async def test_a_request_is_assigned_only_to_a_colleague_who_looks_after_the_member(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, deliver: Deliver
) -> None:
    d = await desk(db)
    request_id = await file_request(db, d, "张伟")
    await deliver()
    await log_in(browser, db, clock, d.liaison)
    card = await page(browser, f"/requests/{request_id}")
    choices = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', card)
    assert choices == [(str(d.colleague), "王芳")]  # not 赵强 of 驻上海, not oneself

    refused = await send(browser, card, "assign-form", to=str(d.other))
    assert refused.status_code == 400
    assert said(refused.text, "error") == "这位同事不负责这名党员，不能转给他（她）办理。"
    assigned = await send(browser, card, "assign-form", to=str(d.colleague))
    assert said(assigned.text, "done") == "已转给 王芳，对方会在机器人里收到通知。"
    assert said(assigned.text, "assignee") == "王芳"
    assert "李联络 转给 王芳" in assigned.text
    got = await deliver()
    assert MEMBER not in got  # handing on is internal
    assert f"#{request_id}" in html_to_text(got[COLLEAGUE][0].text)
    assert "李联络" in html_to_text(got[COLLEAGUE][0].text)
    assert (d.actor, "request.assign") in await actions(db)


async def test_another_liaisons_request_is_not_found_on_every_page_and_form(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    d = await desk(db)
    mine = await file_request(db, d, "张伟")
    theirs = await file_request(db, d, "李娜")
    await log_in(browser, db, clock, d.liaison)
    own_card = await page(browser, f"/requests/{mine}")

    refused = await page(browser, f"/requests/{theirs}", 404)
    assert "没有找到这件服务申请" in refused
    assert "李娜" not in refused
    for path in ("/requests/99999", "/requests/abc", "/requests/99999999999999999999"):
        assert "没有找到这件服务申请" in await page(browser, path, 404)
    for form_id, fields in (
        ("take-form", {}),
        ("assign-form", {"to": str(d.other)}),
        ("note-form", {"note": "看看"}),
        ("status-form", {"status": "resolved", "answer": "好"}),
    ):
        action, hidden = form_of(own_card, form_id)
        response = await browser.post(
            action.replace(f"/{mine}/", f"/{theirs}/"), data={**hidden, **fields}
        )
        assert response.status_code == 404
        assert "没有找到这件服务申请" in response.text
    row = await request_row(db, theirs)
    assert (row.status, row.assignee_id) == (RequestStatus.RECEIVED, None)
    assert await events_of(db, theirs, RequestEventKind.NOTE) == 0
    assert (d.actor, "request.view.refused") in await actions(db)


# --- every form needs the session's token -----------------------------------------------------


async def test_no_form_of_the_desk_works_without_the_csrf_token(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    d = await desk(db)
    request_id = await file_request(db, d, "张伟")
    certificate_id = await apply_for(db, d, "张伟")
    idea_id = await idea_of(db, d, "张伟")
    await log_in(browser, db, clock, d.liaison)
    before = await actions(db)
    for path, fields in (
        (f"/requests/{request_id}/take", {}),
        (f"/requests/{request_id}/assign", {"to": str(d.colleague)}),
        (f"/requests/{request_id}/note", {"note": "备注"}),
        (f"/requests/{request_id}/status", {"status": "resolved", "answer": "好"}),
        (f"/certificates/{certificate_id}/step", {"step": "checked"}),
        (f"/ideas/{idea_id}/reply", {"reply": "谢谢"}),
        (f"/ideas/{idea_id}/adopt", {}),
    ):
        for token in (None, "forged"):
            data = fields if token is None else {**fields, "csrf": token}
            response = await browser.post(path, data=data)
            assert response.status_code == 403, path
            assert "请求被拒绝" in response.text
    assert await actions(db) == before
    row = await request_row(db, request_id)
    assert (row.status, row.assignee_id) == (RequestStatus.RECEIVED, None)


# --- activity certificates ---------------------------------------------------------------------


async def apply_for(db: Database, d: Desk, name: str) -> int:
    async with db.session() as session:
        row = await certificates.apply(
            session,
            START - timedelta(days=2),
            member_id=d.members[name],
            origin_organisation="江汉区民族街道党工委",
            destination="深圳市南山区",
            reason="在深圳<务工>",
            expected_months=12,
        )
    return row.id


async def test_a_certificate_goes_step_by_step_to_issue_and_the_member_hears_each(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, deliver: Deliver
) -> None:
    d = await desk(db)
    certificate_id = await apply_for(db, d, "张伟")
    await apply_for(db, d, "李娜")
    await deliver()
    await log_in(browser, db, clock, d.liaison)

    waiting = await page(browser, "/certificates")
    assert listed(waiting, "certificates") == [certificate_id]
    assert said(waiting, "count") == "共 1 份"
    card = await page(browser, f"/certificates/{certificate_id}")
    assert "活动证申请 1 号" in card
    assert "在深圳&lt;务工&gt;" in card
    assert said(card, "status") == "已申请"

    checked = await send(browser, card, "step-form", step="checked")
    assert said(checked.text, "done") == "已审核通过，已通知申请人。"
    assert said(checked.text, "status") == "联络员已审核"
    got = await deliver()
    assert "您的申请已经联络员审核通过" in html_to_text(got[MEMBER][0].text)
    # The same form again: said, not taken twice.
    twice = await send(browser, card, "step-form", step="checked")
    assert twice.status_code == 409
    assert said(twice.text, "error") == "这一步已经办理了，重复提交没有再办理一次。"
    # A step out of turn is refused with the same check as in the bot.
    jump = await send(browser, checked.text, "step-form", step="issued")
    assert said(jump.text, "error").startswith("这份申请现在不能办理这一步")
    nonsense = await send(browser, checked.text, "step-form", step="fly")
    assert nonsense.status_code == 400
    assert said(nonsense.text, "error") == "请选择要办理的步骤。"

    shown = checked.text
    for step in ("sent", "verified", "issued"):
        shown = (await send(browser, shown, "step-form", step=step)).text
    assert said(shown, "number") == "2026-0001"
    assert 'id="reject-form"' not in shown
    got = await deliver()
    assert "编号 2026-0001" in html_to_text(got[MEMBER][-1].text)
    steps = [a for actor, a in await actions(db) if actor == d.actor]
    assert [a for a in steps if a.startswith("certificate.") and "view" not in a] == [
        "certificate.checked", "certificate.sent", "certificate.verified", "certificate.issued",
    ]  # fmt: skip
    assert "certificate.view" in steps and "certificate.list.view" in steps


async def test_a_rejection_needs_its_reason_and_the_member_reads_it_in_english(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, deliver: Deliver
) -> None:
    d = await desk(db)
    certificate_id = await apply_for(db, d, "Jenny Wu")
    await deliver()
    await log_in(browser, db, clock, d.liaison)
    card = await page(browser, f"/certificates/{certificate_id}")

    empty = await send(browser, card, "reject-form", note="")
    assert empty.status_code == 400
    assert said(empty.text, "error") == "请写明不予通过的原因，会告知申请人。"
    long_reason = "材料<不全>" + "缺" * 500
    too_long = await send(browser, card, "reject-form", note=long_reason)
    assert said(too_long.text, "error") == "原因太长了：最多 500 字。请写短一些再提交。"
    assert f">{html.escape(long_reason, quote=False)}</textarea>" in too_long.text

    rejected = await send(browser, too_long.text, "reject-form", note="材料<不全>，请补交")
    assert said(rejected.text, "done") == "已不予通过，原因已告知申请人。"
    assert said(rejected.text, "status") == "未通过"
    got = await deliver()
    [told] = got[ENGLISH_MEMBER]
    assert "Sorry, your application was rejected. Reason: 材料&lt;不全&gt;，请补交" in told.text


async def test_the_letter_downloads_as_a_pdf_and_is_audited(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    d = await desk(db)
    certificate_id = await apply_for(db, d, "张伟")
    await log_in(browser, db, clock, d.liaison)
    card = await page(browser, f"/certificates/{certificate_id}")
    link = re.search(r'<a href="([^"]+)" id="letter"', card)
    assert link is not None

    letter = await browser.get(link.group(1))
    assert letter.status_code == 200
    assert letter.headers["content-type"] == "application/pdf"
    assert letter.headers["content-disposition"].startswith(
        'attachment; filename="certificate-letter-1.pdf"'
    )
    assert letter.content.startswith(b"%PDF")
    assert (d.actor, "certificate.letter") in await actions(db)


async def test_a_certificate_withdrawn_meanwhile_takes_no_step(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    d = await desk(db)
    certificate_id = await apply_for(db, d, "张伟")
    await log_in(browser, db, clock, d.liaison)
    card = await page(browser, f"/certificates/{certificate_id}")
    async with db.session() as session:
        await certificates.withdraw(session, START, member_id=d.members["张伟"])

    late = await send(browser, card, "reject-form", note="材料不全")
    assert late.status_code == 409
    assert said(late.text, "error").startswith("在您打开这个页面之后，这份申请已经有了变动")
    assert said(late.text, "status") == "已撤回"
    assert 'id="letter"' not in late.text


async def test_another_liaisons_certificate_is_not_found(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    d = await desk(db)
    mine = await apply_for(db, d, "张伟")
    theirs = await apply_for(db, d, "李娜")
    await log_in(browser, db, clock, d.liaison)
    own_card = await page(browser, f"/certificates/{mine}")

    for path in (
        f"/certificates/{theirs}",
        f"/certificates/{theirs}/letter.pdf",
        "/certificates/x",
    ):
        refused = await page(browser, path, 404)
        assert "没有找到这份活动证申请" in refused
        assert "李娜" not in refused
    action, hidden = form_of(own_card, "step-form")
    response = await browser.post(
        action.replace(f"/{mine}/", f"/{theirs}/"), data={**hidden, "step": "checked"}
    )
    assert response.status_code == 404
    async with db.session() as session:
        row = await session.get(Certificate, theirs)
    assert row is not None and row.status is CertificateStatus.APPLIED
    seen = await actions(db)
    assert (d.actor, "certificate.view.refused") in seen
    assert (d.actor, "certificate.letter.refused") in seen
    assert (d.actor, "certificate.letter") not in seen


# --- ideas -------------------------------------------------------------------------------------


async def idea_of(
    db: Database,
    d: Desk,
    name: str,
    kind: IdeaKind = IdeaKind.IDEA,
    text: str = "建议<周末>开放活动室",
) -> int:
    async with db.session() as session:
        row = await ideas.submit(
            session, START - timedelta(days=1), member_id=d.members[name], kind=kind, text=text
        )
    return row.id


async def test_a_reply_and_an_adoption_reach_the_member_once_each(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, deliver: Deliver
) -> None:
    d = await desk(db)
    idea_id = await idea_of(db, d, "张伟")
    opinion_id = await idea_of(db, d, "刘洋", IdeaKind.OPINION, "报到提醒太频繁")
    await idea_of(db, d, "李娜")
    await deliver()
    await log_in(browser, db, clock, d.liaison)

    shown = await page(browser, "/ideas")
    assert listed(shown, "ideas") == [opinion_id, idea_id]  # newest first
    assert "待回复 2 条" in said(shown, "count")
    assert listed(await page(browser, "/ideas?kind=opinion"), "ideas") == [opinion_id]
    card = await page(browser, f"/ideas/{idea_id}")
    assert "金点子 #1" in card
    assert "建议&lt;周末&gt;开放活动室" in card

    replied = await send(browser, card, "reply-form", reply="好主意，<下月>起试行")
    assert said(replied.text, "done") == "回复已发给党员。"
    assert said(replied.text, "status") == "已回复"
    twice = await send(browser, card, "reply-form", reply="好主意，<下月>起试行")
    assert twice.status_code == 409
    assert said(twice.text, "error") == "这条回复已经发给党员了，重复提交没有再发一次。"
    got = await deliver()
    [reply] = got[MEMBER]
    assert "党组织回复了您的金点子 #1" in html_to_text(reply.text)
    assert "好主意，&lt;下月&gt;起试行" in reply.text

    adopted = await send(browser, replied.text, "adopt-form")
    assert said(adopted.text, "done") == "已采纳，已通知党员。"
    assert 'id="adopt-form"' not in adopted.text
    again = await send(browser, replied.text, "adopt-form")
    assert said(again.text, "error") == "这条建议已经采纳过了，党员已经收到通知。"
    got = await deliver()
    [news] = got[MEMBER]
    assert "您的金点子 #1 被采纳了" in html_to_text(news.text)
    seen = await actions(db)
    for action in ("idea.list.view", "idea.view", "idea.reply", "idea.adopt"):
        assert (d.actor, action) in seen


async def test_a_reply_too_long_or_empty_or_overtaken_is_kept_for_another_try(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, deliver: Deliver
) -> None:
    d = await desk(db)
    idea_id = await idea_of(db, d, "Jenny Wu")
    await deliver()
    await log_in(browser, db, clock, d.liaison)
    card = await page(browser, f"/ideas/{idea_id}")

    empty = await send(browser, card, "reply-form", reply="   ")
    assert empty.status_code == 400
    assert said(empty.text, "error") == "回复是空的，请写下要告诉党员的话。"
    too_long = await send(browser, card, "reply-form", reply="谢" * 2001)
    assert said(too_long.text, "error") == (
        "回复太长：最多 2000 字，这次有 2001 字，没有发出。请写短一些再提交。"
    )
    assert "谢" * 2001 + "</textarea>" in too_long.text
    # 王芳 replies in the bot while the page is open: not overwritten unread.
    async with db.session() as session:
        await ideas.reply_to(
            session, START, idea_id, text="Thank you!", actor=f"staff:{d.colleague}",
            staff_id=d.colleague,
        )  # fmt: skip
    late = await send(browser, card, "reply-form", reply="我们会考虑")
    assert late.status_code == 409
    assert said(late.text, "error").startswith("在您打开这个页面之后，已经有人回复了这条建议")
    assert "我们会考虑</textarea>" in late.text
    assert said(late.text, "reply") == "Thank you!"
    got = await deliver()
    [reply] = got[ENGLISH_MEMBER]
    assert "The organisation replied to your idea #1" in html_to_text(reply.text)
    assert "Thank you!" in reply.text


async def test_another_liaisons_idea_is_not_found(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient
) -> None:
    d = await desk(db)
    mine = await idea_of(db, d, "张伟")
    theirs = await idea_of(db, d, "李娜")
    await log_in(browser, db, clock, d.liaison)
    own_card = await page(browser, f"/ideas/{mine}")

    refused = await page(browser, f"/ideas/{theirs}", 404)
    assert "没有找到这条建议" in refused
    assert "李娜" not in refused
    for form_id, fields in (("reply-form", {"reply": "谢谢"}), ("adopt-form", {})):
        action, hidden = form_of(own_card, form_id)
        response = await browser.post(
            action.replace(f"/{mine}/", f"/{theirs}/"), data={**hidden, **fields}
        )
        assert response.status_code == 404
    async with db.session() as session:
        found = await ideas.get_idea(session, theirs, staff_id=None)
    assert found is not None and found.reply is None and not found.adopted
    assert (d.actor, "idea.view.refused") in await actions(db)


# --- in English, and for an administrator -------------------------------------------------------


@pytest.mark.parametrize("area", ["requests", "certificates", "ideas"])
async def test_the_desk_in_english_for_an_administrator_who_sees_every_group(
    db: Database, clock: FakeClock, browser: httpx.AsyncClient, area: str
) -> None:
    d = await desk(db)
    await file_request(db, d, "李娜")
    await apply_for(db, d, "李娜")
    await idea_of(db, d, "李娜")
    admin = await make_staff(
        db, START, telegram_user_id=9009, name="Admin", role=StaffRole.ADMIN, locale="en"
    )
    await log_in(browser, db, clock, admin.id)
    shown = await page(browser, f"/{area}")
    assert listed(shown, area) == [1]
    card = await page(browser, f"/{area}/1")
    assert '<html lang="en">' in card
    assert "李娜" in card
    words = {
        "requests": ["Service request #1", "I&#39;ll take it", "Internal note", "Change to"],
        "certificates": ["Certificate application no. 1", "Checked", "Reject", "the letter"],
        "ideas": ["Idea #1", "Reply to the member", "Adopt", "awaiting a reply"],
    }[area]
    for word in words:
        assert word in card
