"""/mydata and `liaison member data`: a member sees and copies everything stored about them
(PIPL Arts. 44–45), and nothing about anyone else."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.botapi import Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication
from messages.mydata import data_page
from messages.render import Renderer
from storage import audit
from storage.certificates import apply, view_certificate
from storage.clock import FakeClock
from storage.consent import set_consent
from storage.db import Database
from storage.ideas import submit, view_idea
from storage.models import (
    AuditEvent,
    Consent,
    IdeaKind,
    LocationReport,
    LocationSource,
    Member,
    Staff,
    StaffRole,
)
from storage.mydata import member_data
from storage.requests import create_request, open_card
from storage.rights import (
    Field,
    approve_correction,
    propose_correction,
    reject,
    request_deletion,
    view_request,
)
from storage.scope import open_member_card
from tests.chat import Person, said, talk
from tests.cli_helpers import cli_database, liaison, on_database
from tests.factories import (
    make_checkin,
    make_group,
    make_member,
    make_request_catalogue,
    make_staff,
)

ZHANG, WANG, LIAISON, ADMIN, STRANGER = 1001, 1002, 2001, 2002, 3001
ZONE = ZoneInfo("Asia/Shanghai")

# What belongs to the other member, 王芳, and must never reach 张伟.
WANG_PHONE = "+8613900139000"
WANG_IDEA = "建议在福田开一个夜校"
WANG_REQUEST = "营业执照到期了需要续办"


@dataclass
class Records:
    zhang: int
    wang: int
    request: int
    idea: int
    certificate: int
    wang_request: int
    wang_idea: int


async def setup(db: Database, clock: FakeClock, *, locale: str | None = None) -> Records:
    """张伟 with two check-ins, a request, an idea, a certificate, consent given then
    withdrawn, and his card, request, idea and certificate opened by staff; 王芳 in the same
    group with a request and an idea of her own, her card opened too."""
    now = clock.now()
    group = await make_group(db, now)
    zhang = await make_member(
        db, now, telegram_user_id=ZHANG, groups=[group], locale=locale, name="张伟"
    )
    wang = await make_member(
        db, now, name="王芳", phone=WANG_PHONE, telegram_user_id=WANG, groups=[group]
    )
    liaison_row = await make_staff(db, now, telegram_user_id=LIAISON, groups=[group])
    admin_row = await make_staff(
        db, now, telegram_user_id=ADMIN, name="赵管理", role=StaffRole.ADMIN
    )
    await make_checkin(db, zhang, now - timedelta(days=60), city="深圳市")
    await make_checkin(db, zhang, now - timedelta(days=30), city="广州市", needs="找工作")
    category, _ = await make_request_catalogue(db, now)
    async with db.session() as session:
        request = await create_request(
            session,
            now,
            member_id=zhang.id,
            category_id=category,
            description="门面租约下月到期，希望协调续租",
            zone=ZONE,
        )
        wang_request = await create_request(
            session,
            now,
            member_id=wang.id,
            category_id=category,
            description=WANG_REQUEST,
            zone=ZONE,
        )
        idea = await submit(
            session, now, member_id=zhang.id, kind=IdeaKind.IDEA, text="建议每月办一次线上学习会"
        )
        wang_idea = await submit(
            session, now, member_id=wang.id, kind=IdeaKind.OPINION, text=WANG_IDEA
        )
        certificate = await apply(
            session,
            now,
            member_id=zhang.id,
            origin_organisation="武汉市江汉区民意街道党工委",
            destination="深圳市南山区",
            reason="在深圳工作，需要参加当地组织生活",
            expected_months=12,
        )
        await set_consent(session, now - timedelta(days=90), zhang.id, Consent.GIVEN)
        await set_consent(session, now - timedelta(days=10), zhang.id, Consent.DECLINED)
    seen = now - timedelta(days=5)
    staff = f"staff:{liaison_row.id}"
    async with db.session() as session:
        for member_id in (zhang.id, wang.id):
            await open_member_card(
                session,
                seen,
                staff_id=liaison_row.id,
                actor=staff,
                member_id=member_id,
                requested=str(member_id),
                default_zone=ZONE,
            )
        await open_card(session, seen, request.id, staff_id=liaison_row.id)
        await open_card(session, seen, wang_request.id, staff_id=liaison_row.id)
        await view_idea(session, seen, idea.id, staff_id=None, actor=f"staff:{admin_row.id}")
        await view_idea(session, seen, wang_idea.id, staff_id=None, actor=f"staff:{admin_row.id}")
        await view_certificate(session, seen, certificate.id, staff_id=liaison_row.id, actor=staff)
        # Longer ago than the 12 months a member is told of.
        await audit.record(
            session,
            now - timedelta(days=400),
            actor=staff,
            action="member.view",
            subject=f"member:{zhang.id}",
        )
    return Records(
        zhang.id, wang.id, request.id, idea.id, certificate.id, wang_request.id, wang_idea.id
    )


def documents(replies: list[Outgoing]) -> dict[str, bytes]:
    """The files sent, by file name."""
    found = {}
    for outgoing in replies:
        if outgoing.method == "sendDocument":
            [(name, content)] = outgoing.params["files"].values()
            found[name] = content
    return found


async def copies(db: Database) -> list[AuditEvent]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "member.data_copy")
            .order_by(AuditEvent.id)
        )
        return list(rows)


def nothing_of_wang(text: str, records: Records) -> None:
    for leak in ("王芳", WANG_PHONE, WANG_IDEA, WANG_REQUEST, f"#{records.wang_request}"):
        assert leak not in text, leak


async def test_a_member_sees_all_their_data_in_chinese(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    records = await setup(db, clock)
    zhang = Person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            (
                "/mydata",
                [
                    "我的全部数据",
                    # Their own phone, whole: it is theirs.
                    "手机：+8613800138000",
                    "党小组：驻深圳流动党员党小组",
                    "报到记录（2 次）",
                    "深圳市，工作稳定",
                    "广州市",
                    f"#{records.request} 门面续租，2026-11-15：已受理",
                    f"#{records.certificate} 2026-11-15：已申请",
                    f"#{records.idea} 2026-11-15：建议每月办一次线上学习会（等待答复）",
                    "现在：不同意（只记录城市）",
                    "2026-08-17 10:00：同意记录位置（本人操作）",
                    "2026-11-05 10:00：不同意或撤回了位置记录授权（本人操作）",
                    "近 12 个月谁查看过您的记录（4 次）",
                    "2026-11-10 10:00：李联络（联络员）查看了您的党员卡片",
                    f"李联络（联络员）查看了您的服务诉求 #{records.request}",
                    f"赵管理（管理员）查看了您的建议 #{records.idea}",
                    f"李联络（联络员）查看了您的活动证申请 #{records.certificate}",
                ],
            )
        ],
    )
    nothing_of_wang(zhang.last_text, records)
    assert zhang.button_texts == ["📎 把全部数据以文件发给我"]
    await talk(zhang, [("/help", "/mydata")])

    await talk(zhang, [("📎 把全部数据以文件发给我", "上面是包含您全部数据的两个文件")])
    files = documents(zhang.last)
    assert set(files) == {"my-data-20261115.json", "my-data-20261115.html"}
    captions = [o.text for o in zhang.last if o.method == "sendDocument"]
    assert captions == [
        "您的全部数据，完整、可供机器读取（JSON）",
        "您的全部数据，便于阅读和打印（用浏览器打开）",
    ]

    data = json.loads(files["my-data-20261115.json"])
    assert data["registration"]["name"] == "张伟"
    assert data["registration"]["phone"] == "+8613800138000"
    assert [c["place"] for c in data["checkins"]] == ["广州市", "深圳市"]
    assert data["checkins"][0]["needs_text"] == "找工作"
    assert len(data["locations"]) == 2
    assert [r["id"] for r in data["requests"]] == [records.request]
    assert data["requests"][0]["category"] == {"zh": "门面续租", "en": "Shop lease"}
    assert [i["body"] for i in data["ideas"]] == ["建议每月办一次线上学习会"]
    assert [c["status"] for c in data["certificates"]] == ["applied"]
    assert [c["consent"] for c in data["consents"]] == ["declined", "given"]
    assert {(v["name"], v["role"], v["record"]) for v in data["staff_views"]} == {
        ("李联络", "liaison", f"member:{records.zhang}"),
        ("李联络", "liaison", f"request:{records.request}"),
        ("赵管理", "admin", f"idea:{records.idea}"),
        ("李联络", "liaison", f"certificate:{records.certificate}"),
    }
    # The liaisons were told of the request and the idea; the member was sent nothing yet.
    assert data["deliveries"] == []
    nothing_of_wang(files["my-data-20261115.json"].decode(), records)

    page = files["my-data-20261115.html"].decode()
    for fragment in (
        "<h1>我的全部数据</h1>",
        "+8613800138000",
        "门面租约下月到期，希望协调续租",
        "在深圳工作，需要参加当地组织生活",
        "建议每月办一次线上学习会",
        "<td>李联络</td><td>联络员</td><td>查看了您的党员卡片</td>",
    ):
        assert fragment in page, fragment
    nothing_of_wang(page, records)

    # Both the look and the copy are on the record, the member as the actor.
    assert [(e.actor, e.subject, e.detail) for e in await copies(db)] == [
        (f"member:{records.zhang}", f"member:{records.zhang}", {"form": "summary"}),
        (f"member:{records.zhang}", f"member:{records.zhang}", {"form": "files"}),
    ]


async def test_a_member_sees_all_their_data_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    records = await setup(db, clock, locale="en")
    zhang = Person(application, bot_api, ZHANG, language_code="en")
    await talk(
        zhang,
        [
            (
                "/mydata",
                [
                    "All your data",
                    "Phone: +8613800138000",
                    "Check-ins (2)",
                    "2026-09-16: 深圳市, Stable",
                    f"#{records.request} Shop lease, 2026-11-15: received",
                    f"#{records.certificate} 2026-11-15: applied",
                    "Now: declined (only your city is kept)",
                    "agreed to keeping your location (by you)",
                    "Who looked at your records in the last 12 months (4)",
                    "2026-11-10 10:00: 李联络 (liaison) opened your member card",
                    f"赵管理 (administrator) opened your idea #{records.idea}",
                ],
            )
        ],
    )
    nothing_of_wang(zhang.last_text, records)
    # `/mydata file` sends the files straight away.
    await talk(zhang, [("/mydata file", "Above are two files with all your data")])
    files = documents(zhang.last)
    page = files["my-data-20261115.html"].decode()
    assert "<h1>All my data</h1>" in page
    assert "<td>李联络</td><td>liaison</td><td>opened your member card</td>" in page
    assert "Shop lease" in page
    nothing_of_wang(page, records)
    assert json.loads(files["my-data-20261115.json"])["registration"]["locale"] == "en"


async def test_the_other_member_sees_only_their_own(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    records = await setup(db, clock)
    wang = Person(application, bot_api, WANG)
    await talk(
        wang, [("/mydata", ["姓名：王芳", WANG_PHONE, "近 12 个月谁查看过您的记录（3 次）"])]
    )
    text = wang.last_text
    for leak in ("张伟", "+8613800138000", "建议每月办一次线上学习会", "门面租约", "深圳市"):
        assert leak not in text, leak
    await talk(wang, [("/mydata file", None)])
    for content in documents(wang.last).values():
        for leak in ("张伟", "+8613800138000", "建议每月办一次线上学习会", "门面租约"):
            assert leak not in content.decode(), leak
    assert {e.subject for e in await copies(db)} == {f"member:{records.wang}"}


async def test_someone_who_is_not_a_member_is_told_so(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    stranger = Person(application, bot_api, STRANGER)
    await talk(
        stranger,
        [
            ("/mydata file", "这个 Telegram 账号没有绑定党员身份"),
            ("/lang", "请选择语言"),
            ("English", "Language set to English"),
            ("/mydata", "No member record is linked to this Telegram account"),
        ],
    )
    assert not [o for o in bot_api.sent if o.method == "sendDocument"]
    assert await copies(db) == []


@pytest.mark.parametrize(
    ("locale", "refusal"),
    [(None, "只在与我的私聊中显示"), ("en", "shown only in a private chat")],
)
async def test_the_files_button_pressed_in_a_group_posts_nothing_there(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    locale: str | None,
    refusal: str,
) -> None:
    await setup(db, clock, locale=locale)
    zhang = Person(application, bot_api, ZHANG)
    await talk(zhang, [("/mydata", None)])
    under = zhang.last[-1]
    update: dict[str, Any] = zhang.updates.press(
        zhang.user, under, Button("x", under.flat_buttons[0].callback_data)
    )
    update["callback_query"]["message"]["chat"] = {
        "id": -100_200_300,
        "type": "supergroup",
        "title": "党小组",
    }
    replies = await zhang.send_update(update)
    assert refusal in said(replies)
    assert "+8613800138000" not in said(replies)
    assert not [o for o in replies if o.method == "sendDocument"]
    # Only the summary in the private chat was a copy.
    assert [e.detail for e in await copies(db)] == [{"form": "summary"}]


# --- the command line ------------------------------------------------------------------


def test_an_operator_writes_a_members_data_to_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = cli_database(tmp_path, monkeypatch, demo=True)
    out = tmp_path / "zhang.json"
    result = liaison("member", "data", "13871000002", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote the data of 王芳 (+86 138****0002) to {out}: ")
    data = json.loads(out.read_text("utf-8"))
    assert data["registration"]["name"] == "王芳"
    assert data["registration"]["phone"] == "+8613871000002"
    assert data["groups"] == ["驻深圳流动党员党小组"]
    assert "张伟" not in out.read_text("utf-8")
    # Personal data: readable by the operator alone.
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600

    async def audited(database: Database) -> list[tuple[str, str | None, Any]]:
        async with database.session() as session:
            member_id = await session.scalar(select(Member.id).where(Member.name == "王芳"))
            rows = await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "member.data_copy")
            )
            return [(e.actor, e.subject, e.detail) for e in rows if member_id]

    [(actor, subject, detail)] = on_database(url, audited)
    assert actor.startswith("cli:")
    assert subject is not None and subject.startswith("member:")
    assert detail == {"form": "json"}

    # The operator's copy is one the member is told of.
    again = tmp_path / "again.json"
    assert liaison("member", "data", "+8613871000002", "--out", str(again)).exit_code == 0
    [view] = json.loads(again.read_text("utf-8"))["staff_views"]
    assert view["role"] == "operator"
    assert view["action"] == "member.data_copy"


def test_the_command_refuses_an_unknown_or_invalid_phone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_database(tmp_path, monkeypatch, demo=True)
    out = tmp_path / "x.json"
    unknown = liaison("member", "data", "13999999999", "--out", str(out))
    assert unknown.exit_code == 1
    assert "no member with phone +86 139****9999" in unknown.output
    invalid = liaison("member", "data", "abc", "--out", str(out))
    assert invalid.exit_code == 1
    assert "invalid phone" in invalid.output
    assert not out.exists()


async def test_what_a_member_typed_is_escaped_in_the_page(
    db: Database, clock: FakeClock, renderer: Renderer
) -> None:
    member = await make_member(db, clock.now(), telegram_user_id=ZHANG)
    async with db.session() as session:
        await submit(
            session, clock.now(), member_id=member.id, kind=IdeaKind.IDEA, text="<script>x</script>"
        )
        data = await member_data(session, clock.now(), member.id)
    assert data is not None
    page = data_page(renderer, "zh_CN", data, ZONE).decode()
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


# --- what came with issue 12's other rights --------------------------------------------


async def member_with_two_places(db: Database, clock: FakeClock, locale: str | None) -> int:
    """张伟, consent given, with a place the province survives (深圳市 in 广东省) and a
    typed one nothing recognisable is left of."""
    now = clock.now()
    member = await make_member(
        db, now, telegram_user_id=ZHANG, consent=Consent.GIVEN, locale=locale
    )
    async with db.session() as session:
        session.add_all(
            [
                LocationReport(
                    member_id=member.id,
                    reported_at=now - timedelta(days=40),
                    source=LocationSource.TYPED,
                    province="广东省",
                    city="深圳市",
                    text="深圳南山",
                ),
                LocationReport(
                    member_id=member.id,
                    reported_at=now - timedelta(days=20),
                    source=LocationSource.TYPED,
                    text="工地宿舍",
                ),
            ]
        )
    return member.id


@pytest.mark.parametrize(
    ("locale", "conversation", "summary", "page"),
    [
        (
            None,
            [
                ("/privacy", "您的选择：已同意"),
                ("撤回同意", "只记录省份"),
                ("只记录省份", "报到只记录省份"),
                ("/privacy", "您的选择：不同意"),
                ("不记录地点", "报到不记录地点"),
            ],
            [
                "现在：已撤回授权，报到不记录地点",
                "2026-11-15 10:00：更改了报到记录地点的方式（仍为撤回授权），报到不记录地点；"
                "已保存的地点 0 条改为省份、1 条删除（本人操作）",
                "2026-11-15 10:00：不同意或撤回了位置记录授权，报到只记录省份；"
                "已保存的地点 1 条改为省份、1 条删除（本人操作）",
            ],
            [
                "<tr><th>位置记录授权</th><td>已撤回授权，报到不记录地点</td></tr>",
                "<td>不同意或撤回了位置记录授权</td><td>报到只记录省份</td>"
                "<td>1 条改为省份、1 条删除</td><td>本人操作</td>",
            ],
        ),
        (
            "en",
            [
                ("/privacy", "Your choice: you agreed"),
                ("Withdraw consent", "What should check-ins keep"),
                ("Keep only the province", "only the province"),
                ("/privacy", "Your choice: you did not agree"),
                ("Keep no place", "no place"),
            ],
            [
                "Now: withdrawn; check-ins keep no place",
                "2026-11-15 10:00: changed what check-ins keep, consent still withdrawn; "
                "check-ins keep no place; places already kept: 0 reduced to the province, "
                "1 deleted (by you)",
                "2026-11-15 10:00: declined or withdrew consent to keeping your location; "
                "check-ins keep only the province; places already kept: 1 reduced to the "
                "province, 1 deleted (by you)",
            ],
            [
                "<tr><th>Consent to keeping your location</th>"
                "<td>withdrawn; check-ins keep no place</td></tr>",
                "<td>declined or withdrew consent to keeping your location</td>"
                "<td>check-ins keep only the province</td>"
                "<td>1 reduced to the province, 1 deleted</td><td>by you</td>",
            ],
        ),
    ],
)
async def test_the_choice_made_when_withdrawing_consent_is_in_the_consent_history(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    locale: str | None,
    conversation: list[tuple[str, str]],
    summary: list[str],
    page: list[str],
) -> None:
    await member_with_two_places(db, clock, locale)
    zhang = Person(application, bot_api, ZHANG, language_code=locale or "zh-hans")
    await talk(zhang, conversation)
    await talk(zhang, [("/mydata", summary)])
    await talk(zhang, [("/mydata file", None)])
    files = documents(zhang.last)
    html = files["my-data-20261115.html"].decode()
    for fragment in page:
        assert fragment in html, fragment
    data = json.loads(files["my-data-20261115.json"])
    assert data["registration"]["consent"] == "declined"
    assert data["registration"]["location_precision"] == "none"
    assert [
        (c["change"], c["precision"], c["coarsened"], c["erased"]) for c in data["consents"]
    ] == [("precision", "none", 0, 1), ("declined", "province", 1, 1)]


async def staff_id(db: Database, telegram_user_id: int) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(Staff.id).where(Staff.telegram_user_id == telegram_user_id)
        )
    assert found is not None
    return found


async def corrections_and_a_deletion(db: Database, clock: FakeClock, member_id: int) -> None:
    """A workplace approved by the liaison, a phone rejected with a reason, a trade proposed
    twice (the first withdrawn by the second, which waits), and a deletion asked for."""
    now = clock.now()
    liaison_id = await staff_id(db, LIAISON)
    actor = f"staff:{liaison_id}"
    async with db.session() as session:
        workplace = await propose_correction(
            session,
            now - timedelta(days=6),
            member_id=member_id,
            field=Field.WORKPLACE,
            text="深圳市南山区科技园某公司",
        )
        await approve_correction(
            session, now - timedelta(days=5), workplace.id, staff_id=liaison_id, actor=actor
        )
        phone = await propose_correction(
            session,
            now - timedelta(days=6),
            member_id=member_id,
            field=Field.PHONE,
            text="13912345678",
        )
        await reject(
            session,
            now - timedelta(days=4),
            phone.id,
            reason="请先到党组织核对号码",
            staff_id=liaison_id,
            actor=actor,
        )
        await propose_correction(
            session,
            now - timedelta(days=3),
            member_id=member_id,
            field=Field.TRADE,
            text="建筑",
        )
        await propose_correction(
            session,
            now - timedelta(days=2),
            member_id=member_id,
            field=Field.TRADE,
            text="物流",
        )
        await request_deletion(session, now - timedelta(days=1), member_id=member_id)


@pytest.mark.parametrize(
    ("locale", "summary", "page"),
    [
        (
            None,
            [
                "您的更正和删除申请（5 件）",
                "2026-11-14：删除您的全部数据，等待处理",
                "2026-11-13：行业改为“物流”，等待处理",
                "2026-11-12：行业改为“建筑”，已被您之后的申请取代（2026-11-13）",
                "2026-11-09：手机号码改为“+8613912345678”，未被接受（李联络，联络员，2026-11-11）"
                "；理由：请先到党组织核对号码",
                "2026-11-09：工作单位改为“深圳市南山区科技园某公司”，已同意（李联络，联络员，"
                "2026-11-10）",
                # The approved correction is in the record itself.
                "工作单位：深圳市南山区科技园某公司",
            ],
            [
                "<td>删除全部数据</td><td></td><td></td><td>等待处理</td>",
                "<td>更正信息</td><td>手机号码</td><td>+8613912345678</td><td>未被接受</td>"
                "<td>2026-11-11 10:00</td><td>李联络（联络员）</td><td>请先到党组织核对号码</td>",
                "<td>行业</td><td>建筑</td><td>已被您之后的申请取代</td>"
                "<td>2026-11-13 10:00</td><td>本人操作</td>",
            ],
        ),
        (
            "en",
            [
                "Your requests to correct or delete your data (5)",
                "2026-11-14: delete all your data: waiting for a decision",
                "2026-11-13: trade → 物流: waiting for a decision",
                "2026-11-12: trade → 建筑: replaced by your later proposal on 2026-11-13",
                "2026-11-09: phone number → +8613912345678: not accepted by 李联络 (liaison) on "
                "2026-11-11; reason: 请先到党组织核对号码",
                "2026-11-09: workplace → 深圳市南山区科技园某公司: approved by 李联络 (liaison) on "
                "2026-11-10",
                "Workplace: 深圳市南山区科技园某公司",
                "If anything is wrong, send /correct",
            ],
            [
                "<td>deletion of all your data</td><td></td><td></td>"
                "<td>waiting for a decision</td>",
                "<td>correction</td><td>phone number</td><td>+8613912345678</td>"
                "<td>not accepted</td>"
                "<td>2026-11-11 10:00</td><td>李联络 (liaison)</td><td>请先到党组织核对号码</td>",
                "<td>trade</td><td>建筑</td><td>replaced by your later proposal</td>"
                "<td>2026-11-13 10:00</td><td>by you</td>",
            ],
        ),
    ],
)
async def test_a_member_sees_their_correction_and_deletion_requests(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    locale: str | None,
    summary: list[str],
    page: list[str],
) -> None:
    records = await setup(db, clock, locale=locale)
    await corrections_and_a_deletion(db, clock, records.zhang)
    zhang = Person(application, bot_api, ZHANG, language_code=locale or "zh-hans")
    await talk(zhang, [("/mydata", summary)])
    await talk(zhang, [("/mydata file", None)])
    files = documents(zhang.last)
    html = files["my-data-20261115.html"].decode()
    for fragment in page:
        assert fragment in html, fragment
    requests = json.loads(files["my-data-20261115.json"])["data_requests"]
    assert [
        (r["kind"], r["field"], r["proposed"], r["status"], r["decided_by"], r["reason"])
        for r in requests
    ] == [
        ("delete", None, None, "pending", None, None),
        ("correct", "trade", "物流", "pending", None, None),
        ("correct", "trade", "建筑", "withdrawn", None, None),
        ("correct", "phone", "+8613912345678", "rejected", "李联络", "请先到党组织核对号码"),
        ("correct", "workplace", "深圳市南山区科技园某公司", "approved", "李联络", None),
    ]
    assert all(r["created_at"] for r in requests)
    # 王芳's own requests are hers alone.
    wang = Person(application, bot_api, WANG)
    await talk(wang, [("/mydata", "您的更正和删除申请（0 件）")])


OTHER_LIAISON = 2003


@pytest.mark.parametrize(
    ("locale", "summary", "page"),
    [
        (
            None,
            [
                "近 12 个月谁查看过您的记录（6 次）",
                "2026-11-15 10:00：李联络（联络员）在 /overdue（本月未报到的党员名单）中列出了您",
                "2026-11-15 10:00：李联络（联络员）查看了您的更正或删除申请 #",
                "2026-11-10 10:00：李联络（联络员）查看了您的党员卡片",
            ],
            "<td>李联络</td><td>联络员</td><td>在 /overdue（本月未报到的党员名单）中列出了您</td>",
        ),
        (
            "en",
            [
                "Who looked at your records in the last 12 months (6)",
                "2026-11-15 10:00: 李联络 (liaison) listed you in /overdue "
                "(members without a check-in this month)",
                "2026-11-15 10:00: 李联络 (liaison) opened your correction or deletion request #",
            ],
            "<td>李联络</td><td>liaison</td>"
            "<td>listed you in /overdue (members without a check-in this month)</td>",
        ),
    ],
)
async def test_being_listed_in_overdue_is_a_look_and_a_refused_lookup_is_not(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    locale: str | None,
    summary: list[str],
    page: str,
) -> None:
    records = await setup(db, clock, locale=locale)
    now = clock.now()
    elsewhere = await make_group(db, now, name="驻广州流动党员党小组")
    other = await make_staff(
        db, now, telegram_user_id=OTHER_LIAISON, name="孙联络", groups=[elsewhere]
    )
    liaison_id = await staff_id(db, LIAISON)
    async with db.session() as session:
        request = await request_deletion(session, now, member_id=records.zhang)
        # 李联络 opens the deletion request; 孙联络 tries to and is told there is none.
        await view_request(
            session, now, request.id, staff_id=liaison_id, actor=f"staff:{liaison_id}"
        )
        await view_request(session, now, request.id, staff_id=other.id, actor=f"staff:{other.id}")
        # 孙联络 presses an old button for 张伟's card: refused, on the record as refused.
        await open_member_card(
            session,
            now,
            staff_id=other.id,
            actor=f"staff:{other.id}",
            member_id=records.zhang,
            requested=str(records.zhang),
            default_zone=ZONE,
        )
        # An /overdue that listed 张伟 longer ago than 12 months.
        await audit.record(
            session,
            now - timedelta(days=400),
            actor=f"staff:{liaison_id}",
            action="overdue.view",
            total=1,
            shown=1,
            members=[records.zhang],
        )
    # 张伟 has not checked in this month: his liaison's /overdue lists him; 孙联络's lists
    # nobody of his, and 孙联络's search for him finds nobody (refused, out of scope).
    liaison = Person(application, bot_api, LIAISON)
    await talk(liaison, [("/overdue", "张伟")])
    outsider = Person(application, bot_api, OTHER_LIAISON)
    await talk(outsider, [("/overdue", None), ("/member 张伟", None)])
    assert "张伟" not in said(outsider.last)

    zhang = Person(application, bot_api, ZHANG, language_code=locale or "zh-hans")
    await talk(zhang, [("/mydata", summary)])
    assert "孙联络" not in zhang.last_text
    await talk(zhang, [("/mydata file", None)])
    files = documents(zhang.last)
    html = files["my-data-20261115.html"].decode()
    assert page in html
    assert "孙联络" not in html
    views = json.loads(files["my-data-20261115.json"])["staff_views"]
    assert [(v["name"], v["action"], v["record"]) for v in views[:2]] == [
        ("李联络", "overdue.view", f"member:{records.zhang}"),
        ("李联络", "rights.view", f"data_request:{request.id}"),
    ]
    assert len(views) == 6

    # The refusals are on the trail all the same, for the organisation to see.
    async with db.session() as session:
        refused = await session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == f"staff:{other.id}")
        )
        assert set(refused) == {"rights.view", "member.view.refused", "overdue.view"}

    # 王芳 was listed by the same /overdue.
    wang = Person(application, bot_api, WANG)
    await talk(wang, [("/mydata", "李联络（联络员）在 /overdue（本月未报到的党员名单）中列出了您")])
