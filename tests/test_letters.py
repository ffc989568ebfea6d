"""The half-yearly letter to a partner organisation as the partner reads it (HTML and PDF, in
Chinese and in English), and `liaison partner` / `liaison report letters` as a street's
operator runs them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from messages.letters import letter_pdf, partner_letter_html
from messages.render import Renderer
from storage.db import Database
from storage.models import AuditEvent, MemberStatus, PartnerLetter
from tests.cli_helpers import cli_database, liaison, on_database
from tests.pdfs import embedded_fonts, ink_under, overflowing, pdf_text
from tests.test_partners import Street, build_street, busy_half, mobile, the_letter


async def with_markup(db: Database, street: Street) -> None:
    """A member whose name looks like markup: the letter shows it as typed."""
    await mobile(
        db,
        "<b>刘</b>&amp;",
        "+8613800000009",
        MemberStatus.INFLOW,
        origin="沈丘县",
        workplace="<i>茶</i>",
        groups=(street.group,),
    )


async def test_the_letter_in_chinese_html_and_pdf(db: Database, renderer: Renderer) -> None:
    street = await build_street(db)
    await busy_half(db, street)
    await with_markup(db, street)
    letter = await the_letter(db, street.shenqiu)
    html = partner_letter_html(renderer, "zh_CN", letter)
    assert "关于2026年下半年流动党员“双联双管”情况的函" in html
    assert "<p>沈丘县委组织部：</p>" in html
    assert "2026年7月1日至2026年12月31日从贵地（河南省 周口市 沈丘县）流入我处" in html
    assert "共有流动党员 2 名，其中流入党员 2 名、流出党员 0 名" in html
    assert "沈丘籍流入党员党小组（2 名）" in html
    assert "<td>社区义诊志愿服务</td>" in html
    assert "<td>志愿服务</td>" in html
    assert "<td>3/6 个月</td><td>1 篇</td><td>1 次</td>" in html
    assert "2026-09-01 门面续租：已解决（本人确认已解决）" in html
    assert "提供服务 1 件；党员所提“金点子”被采纳 1 条，参加志愿服务 1 人次" in html
    assert "民意街道党工委（盖章）" in html
    # What a member typed stays text: no markup of theirs reaches the letter.
    assert "&lt;b&gt;刘&lt;/b&gt;&amp;amp;" in html
    assert "&lt;i&gt;茶&lt;/i&gt;" in html
    assert "<b>刘" not in html and "<i>茶" not in html
    pdf = letter_pdf(html)
    text = pdf_text(pdf)
    for words in ("沈丘县委组织部", "王芳", "民意街道党工委", "<b>刘</b>"):
        assert words in text, words
    fonts = embedded_fonts(pdf)
    assert any("WenQuanYiMicroHei" in name for name in fonts), fonts
    outside = {name for name, embedded in fonts.items() if not embedded}
    assert outside <= {"/Helvetica", "/Times-Roman", "/Courier"}, fonts
    # The tables' Chinese, without spaces, still breaks within the page.
    assert overflowing(pdf) == ""
    # The dates' digits are drawn too: the font has Latin letters and digits, not only CJK.
    assert ink_under(pdf, "2026") > 30


async def test_the_letter_in_english(db: Database, renderer: Renderer) -> None:
    street = await build_street(db)
    await busy_half(db, street)
    letter = await the_letter(db, street.shenqiu)
    html = partner_letter_html(renderer, "en", letter)
    assert "Mobile members under dual contact, dual management: the second half of 2026" in html
    assert "<p>To 沈丘县委组织部,</p>" in html
    assert "who came to us from your area (河南省 周口市 沈丘县)" in html
    assert "There is 1 mobile member: 1 inflow and 0 outflow." in html
    assert "<td>inflow member</td>" in html
    assert "<td>3 of 6 months</td><td>1 material</td><td>1 attended</td>" in html
    assert "2026-09-01 Shop lease: resolved (solved, the member says)" in html
    assert "<td>Volunteer service</td><td>社区义诊志愿服务</td>" in html
    assert "民意街道党工委 (seal)" in html
    pdf = letter_pdf(html)
    assert "王芳" in pdf_text(pdf)
    assert overflowing(pdf) == ""
    assert ink_under(pdf, "Mobile members") > 100
    # A destination partner's letter speaks of where members went.
    outflow = partner_letter_html(renderer, "en", await the_letter(db, street.nanshan))
    assert "who went from us to your area (广东省 深圳市 南山区)" in outflow
    assert "<th>Destination</th>" in outflow


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = cli_database(tmp_path, monkeypatch)
    monkeypatch.setenv("LIAISON_ORGANISATION_NAME", "民意街道党工委")

    async def fill(db: Database) -> None:
        street = await build_street(db)
        await busy_half(db, street)
        await with_markup(db, street)

    on_database(url, fill)
    return url


def _audit(url: str) -> list[tuple[str, str | None]]:
    async def read(db: Database) -> list[tuple[str, str | None]]:
        async with db.session() as session:
            rows = await session.execute(
                select(AuditEvent.action, AuditEvent.subject)
                .where(AuditEvent.action.like("partner.%"))
                .order_by(AuditEvent.id)
            )
            return [(action, subject) for action, subject in rows]

    return on_database(url, read)


def _letters(url: str) -> list[tuple[int, str, str, str | None]]:
    async def read(db: Database) -> list[tuple[int, str, str, str | None]]:
        async with db.session() as session:
            rows = await session.scalars(select(PartnerLetter).order_by(PartnerLetter.partner_id))
            return [
                (r.partner_id, r.half, r.digest, r.sent_how.value if r.sent_how else None)
                for r in rows
            ]

    return on_database(url, read)


def test_the_letters_of_a_half_are_written_and_recorded(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "letters"
    result = liaison("report", "letters", "--half", "2026H2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        f"partner-{n}-2026H2.{ext}" for n in (1, 2, 3) for ext in ("html", "pdf")
    ]
    assert "沈丘县委组织部\t2 member(s)" in result.output
    # Those no partner has are listed, so staff can fix them.
    assert "2 mobile member(s) with no partner" in result.output
    assert "陈刚\toutflow\t沈丘县\t河南省 周口市 沈丘县" in result.output
    assert "赵敏\tinflow\t老家村里\tnot a place the region index knows" in result.output
    html = (out / "partner-1-2026H2.html").read_text(encoding="utf-8")
    assert "民意街道党工委（盖章）" in html
    assert "&lt;b&gt;刘&lt;/b&gt;" in html
    pdf = (out / "partner-1-2026H2.pdf").read_bytes()
    assert "王芳" in pdf_text(pdf)
    letters = _letters(database_url)
    assert [(pid, half, how) for pid, half, _, how in letters] == [
        (1, "2026H2", None),
        (2, "2026H2", None),
        (3, "2026H2", None),
    ]
    assert letters[0][2] == hashlib.sha256(pdf).hexdigest()
    exports = [e for e in _audit(database_url) if e[0] == "partner.letter"]
    assert exports == [("partner.letter", f"partner:{n}") for n in (1, 2, 3)]

    listed = liaison("partner", "list", "--half", "2026H2")
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.output.splitlines() if "沈丘县委组织部" in x)
    assert "\t2 member(s)\t" in line and "not sent" in line
    assert "+86 394***1234" in line  # the contact's phone masked in the list

    sent = liaison(
        "partner", "sent", "1", "--half", "2026H2", "--by", "post", "--note", "挂号信 XA123"
    )
    assert sent.exit_code == 0, sent.output
    assert "sent " in sent.output and "by post" in sent.output
    listed = liaison("partner", "list", "--half", "2026H2")
    line = next(x for x in listed.output.splitlines() if "沈丘县委组织部" in x)
    assert "2026H2: sent" in line and "by post" in line
    shown = liaison("partner", "show", "1", "--half", "2026H2")
    assert "sending note: 挂号信 XA123" in shown.output
    assert "region: 河南省 周口市 沈丘县 (411624000000)" in shown.output
    # Drawn again after sending: the list says the copy sent is not the latest.
    again = liaison(
        "report", "letters", "--half", "2026H2", "--partner", "1", "--lang", "en", "--out", str(out)
    )
    assert again.exit_code == 0, again.output
    assert "Mobile members under dual contact" in (out / "partner-1-2026H2.html").read_text(
        encoding="utf-8"
    )
    listed = liaison("partner", "list", "--half", "2026H2")
    line = next(x for x in listed.output.splitlines() if "沈丘县委组织部" in x)
    assert "drawn again since" in line
    assert ("partner.sent", "partner:1") in _audit(database_url)


def test_bad_input_is_refused_with_nothing_written(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "letters"
    result = liaison("report", "letters", "--half", "2026H3", "--out", str(out))
    assert result.exit_code == 1
    assert "is not a half year like 2026H2" in result.output
    assert not out.exists()
    assert _letters(database_url) == []
    for args, message in (
        (("--region", "火星基地", "--side", "origin"), "not a place the region index knows"),
        (("--region", "周口", "--side", "origin", "--phone", "12345"), "the contact phone"),
        (("--region", "周口", "--side", "sideways"), "Invalid value for '--side'"),
    ):
        added = liaison("partner", "add", "周口市委组织部", *args)
        assert added.exit_code != 0
        assert message in added.output, added.output
    duplicate = liaison("partner", "add", "沈丘县委组织部", "--region", "沈丘", "--side", "origin")
    assert duplicate.exit_code == 1
    assert "already a partner named '沈丘县委组织部'" in duplicate.output
    unsent = liaison("partner", "sent", "2", "--half", "2026H2", "--by", "post")
    assert unsent.exit_code == 1 and "draw it first" in unsent.output
    assert liaison("partner", "sent", "2", "--half", "2026H2", "--by", "pigeon").exit_code == 2
    listed = liaison("partner", "list", "--half", "2026H2")
    assert sum("组织部" in line for line in listed.output.splitlines()) == 3
    assert not [a for a in _audit(database_url) if a[0] == "partner.add" and a[1] != "partner:1"][
        3:
    ]


def test_partners_are_added_edited_assigned_and_removed(database_url: str) -> None:
    added = liaison(
        "partner", "add", "周口市委组织部", "--region", "河南省周口市", "--side", "origin",
        "--contact", "孙主任", "--phone", "13900139000", "--address", "周口市川汇区",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.output.strip() == "partner 4: 周口市委组织部 (origin, 河南省 周口市)"
    edited = liaison("partner", "edit", "4", "--note", "2025 年签订协议", "--address", "")
    assert edited.exit_code == 0, edited.output
    assert "note: 2025 年签订协议" in edited.output and "address: -" in edited.output
    assert liaison("partner", "edit", "4").exit_code == 1
    # 赵敏 (member 4) has an origin nobody can place: put her with 周口 by hand.
    assigned = liaison("partner", "assign", "4", "4")
    assert assigned.exit_code == 0, assigned.output
    assert assigned.output.strip() == "赵敏: with 周口市委组织部 (by hand)"
    listed = liaison("partner", "list", "--half", "2026H2")
    line = next(x for x in listed.output.splitlines() if "周口市委组织部" in x)
    assert "1 member(s) (1 by hand)" in line
    assert "赵敏" not in listed.output.split("with no partner")[-1]
    assert (
        liaison("partner", "assign", "4", "--clear").output.strip()
        == "赵敏: matched by place again"
    )
    assert liaison("partner", "assign", "6", "1").exit_code == 1  # 孙丽 is a local member
    removed = liaison("partner", "remove", "4")
    assert removed.output.strip() == "removed partner 4: 周口市委组织部"
    assert liaison("partner", "show", "4").exit_code == 1
    actions = [action for action, _ in _audit(database_url)]
    for action in ("partner.add", "partner.edit", "partner.assign", "partner.remove"):
        assert action in actions
