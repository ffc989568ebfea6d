"""`liaison certificate`: list, show, advance and the letter, against the sample district."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.cli import main
from bot.cli.certificate import certificate
from storage.certificates import apply
from storage.db import Database
from storage.models import AuditEvent, Member
from tests.cli_helpers import cli_database, liaison, on_database

# bot/cli/__init__.py registers the group itself; registering it again here is harmless.
main.add_command(certificate)


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch, demo=True)


def applied(url: str, name: str, *, reverse: bool = False) -> int:
    """An application of a member of the sample district, as the bot stores it."""

    async def run(database: Database) -> int:
        async with database.session() as session:
            member = await session.scalar(select(Member).where(Member.name == name))
            assert member is not None
            row = await apply(
                session,
                datetime.now(UTC),
                member_id=member.id,
                origin_organisation="湖北省孝感市孝南区委组织部" if reverse else "民意街道党工委",
                destination="武汉市江汉区" if reverse else "深圳市南山区",
                reason="外出务工",
                expected_months=12,
                reverse=reverse,
            )
            return row.id

    return on_database(url, run)


def audits(url: str) -> list[tuple[str, str | None]]:
    async def run(database: Database) -> list[tuple[str, str | None]]:
        async with database.session() as session:
            rows = await session.execute(
                select(AuditEvent.action, AuditEvent.subject)
                .where(AuditEvent.action.like("certificate.%"))
                .order_by(AuditEvent.id)
            )
            return [(action, subject) for action, subject in rows]

    return on_database(url, run)


def test_list_show_and_advance_to_issue(database_url: str) -> None:
    first = applied(database_url, "张伟")
    second = applied(database_url, "黄勇", reverse=True)
    listing = [line.split("\t") for line in liaison("certificate", "list").output.splitlines()]
    assert [row[0] for row in listing] == [str(first), str(second)]
    assert listing[0][2:8] == [
        "applied",
        "张伟",
        "+86 138****0001",
        "normal",
        "民意街道党工委",
        "深圳市南山区",
    ]
    assert listing[1][5] == "reverse"
    for step in ("checked", "sent", "verified"):
        result = liaison("certificate", "advance", str(first), step)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"certificate {first}: {step}"
    issued = liaison("certificate", "advance", str(first), "issued", "--note", "已寄出")
    assert issued.exit_code == 0
    assert issued.output.startswith(f"certificate {first}: issued, number 20")
    shown = liaison("certificate", "show", str(first)).output.splitlines()
    assert shown[0] == f"certificate {first}: issued"
    assert "member: 张伟 (outflow), +86 138****0001" in shown
    assert "next step: -" in shown
    history = [line.split("\t")[1] for line in shown[shown.index("history:") + 1 :]]
    assert history == ["applied", "checked", "sent", "verified", "issued"]
    assert shown[-1].endswith("\t已寄出")
    only_open = liaison("certificate", "list", "--status", "applied").output.splitlines()
    assert [line.split("\t")[0] for line in only_open] == [str(second)]
    assert ("certificate.issued", f"certificate:{first}") in audits(database_url)


def test_wrong_steps_and_unknown_certificates_fail_clearly(database_url: str) -> None:
    first = applied(database_url, "张伟")
    skipped = liaison("certificate", "advance", str(first), "issued")
    assert skipped.exit_code == 1
    assert f"certificate {first} is applied; the next step is checked" in skipped.output
    reject = liaison("certificate", "advance", str(first), "rejected")
    assert reject.exit_code == 1
    assert "say why it is rejected" in reject.output
    bogus = liaison("certificate", "advance", str(first), "approve")
    assert bogus.exit_code == 2
    assert liaison("certificate", "show", "999").exit_code == 1
    # Larger than any id: refused before a query (PostgreSQL would reject it outright).
    huge = liaison("certificate", "show", "99999999999")
    assert huge.exit_code == 2 and "not in the range" in huge.output
    missing = liaison("certificate", "letter", "999")
    assert missing.exit_code == 1
    assert "no certificate 999" in missing.output
    rejected = liaison("certificate", "advance", str(first), "rejected", "--note", "材料不全")
    assert rejected.output.strip() == f"certificate {first}: rejected"


def test_the_letter_is_written_as_html_and_pdf(database_url: str, tmp_path: Path) -> None:
    certificate_id = applied(database_url, "黄勇", reverse=True)
    out = tmp_path / "letters"
    result = liaison("certificate", "letter", str(certificate_id), "--out", str(out))
    assert result.exit_code == 0, result.output
    html_path, pdf_path = (Path(line) for line in result.output.splitlines())
    assert html_path == out / f"certificate-letter-{certificate_id}.html"
    assert pdf_path == out / f"certificate-letter-{certificate_id}.pdf"
    html = html_path.read_text(encoding="utf-8")
    assert "关于反向办理《流动党员活动证》的函" in html
    assert "湖北省孝感市孝南区委组织部：" in html
    # The issuing organisation: the member's home unit (no LIAISON_CERTIFICATE_ISSUER).
    assert "民族街道党工委（盖章）" in html
    text = "".join(page.extract_text() for page in PdfReader(pdf_path).pages)
    assert "黄勇" in text
    assert "湖北省孝感市孝南区委组织部" in text
    english = liaison(
        "certificate",
        "letter",
        str(certificate_id),
        "--out",
        str(out),
        "--format",
        "html",
        "--locale",
        "en",
    )
    assert english.output.splitlines() == [str(html_path)]
    assert "Letter on the reverse issuance" in html_path.read_text(encoding="utf-8")
    letters = [a for a in audits(database_url) if a[0] == "certificate.letter"]
    assert letters == [("certificate.letter", f"certificate:{certificate_id}")] * 2


def test_the_issuer_is_a_setting(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate_id = applied(database_url, "张伟")
    monkeypatch.setenv("LIAISON_CERTIFICATE_ISSUER", "中共武汉市江汉区委组织部")
    result = liaison(
        "certificate", "letter", str(certificate_id), "--out", str(tmp_path), "--format", "pdf"
    )
    [pdf] = result.output.splitlines()
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "中共武汉市江汉区委组织部（盖章）" in text
    # 张伟 is an outflow member: the letter goes to where he is now.
    assert "关于接收流动党员参加组织生活的函" in text
    assert "流入地党组织（深圳市南山区）：" in text
