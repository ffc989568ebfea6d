"""`liaison service`: list, show, load, export, set, add, activate and deactivate the catalogue."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select

from storage.catalogue import SHIPPED
from storage.db import Database
from storage.models import AuditEvent
from tests.cli_helpers import cli_database, liaison, on_database

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return cli_database(tmp_path, monkeypatch)


@pytest.fixture
def loaded(database_url: str) -> str:
    result = liaison("catalogue", "load")
    assert result.exit_code == 0, result.output
    return database_url


def ok(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def refused(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.output.rstrip().endswith("nothing was changed")
    return result.output


def audit_trail(url: str) -> list[tuple[str, str, str | None]]:
    async def read(database: Database) -> list[tuple[str, str, str | None]]:
        async with database.session() as session:
            rows = await session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            return [(e.actor, e.action, e.subject) for e in rows]

    return on_database(url, read)


def test_load_without_a_file_loads_the_shipped_catalogue(database_url: str) -> None:
    lines = ok(liaison("catalogue", "load"))
    assert lines[0] == "added\tcategory lease"
    assert lines[-1] == "43 added, 0 changed, 0 deactivated, 0 unchanged"
    measures = ok(liaison("catalogue", "list", "measures"))
    assert len(measures) == 26
    assert measures[0].split("\t") == [
        "measure",
        "shop-lease-renewal",
        "commerce",
        "lease",
        "市场商铺租赁续签协调",
        "Help renewing a market shop lease",
        "10 days",
        "active",
    ]
    departments = ok(liaison("catalogue", "list", "departments"))
    assert [line.split("\t")[1] for line in departments][:6] == [
        "commerce",
        "police",
        "labour",
        "personnel",
        "justice",
        "education",
    ]
    assert departments[9].endswith("\t1 measure\tactive")
    everything = ok(liaison("catalogue", "list"))
    assert len(everything) == 6 + 11 + 26
    # A second load changes nothing.
    assert ok(liaison("catalogue", "load"))[-1] == "0 added, 0 changed, 0 deactivated, 43 unchanged"
    assert (
        audit_trail(database_url)
        == [
            (f"cli:{getpass.getuser()}", "service.load", "service_catalogue.toml"),
        ]
        * 2
    )


def test_show_prints_an_entry_as_the_file_writes_it(loaded: str) -> None:
    shown = liaison("catalogue", "show", "residence-registration").output
    assert shown.startswith('[[measure]]\ncode = "residence-registration"\ndepartment = "police"')
    assert 'documents_zh = [\n    "身份证",\n' in shown
    assert "target_days = 3\n" in shown
    police = ok(liaison("catalogue", "show", "police"))
    assert police[0] == "[[department]]"
    assert "# measure residence-permit (active): 办理、签注居住证" in police
    missing = liaison("catalogue", "show", "nothing")
    assert missing.exit_code == 1
    assert "no category, department or measure has the code 'nothing'" in missing.output


def test_a_bad_file_is_refused_whole_with_each_reason(loaded: str, tmp_path: Path) -> None:
    before = ok(liaison("catalogue", "list"))
    text = SHIPPED.read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text.replace('department = "justice"', 'department = "courts"', 1)
        .replace("target_days = 15", "target_days = 0", 1)
        .replace('title_en = "Job matching"\n', "", 1),
        encoding="utf-8",
    )
    output = refused(liaison("catalogue", "load", str(bad)))
    assert "measure 13 'legal-aid': unknown department 'courts'" in output
    assert "measure 5 'residence-permit': target_days must be a whole number of days" in output
    assert "measure 7 'job-matching': title_en is missing" in output
    assert output.count("error: ") == 3
    broken = tmp_path / "broken.toml"
    broken.write_text('[[category]]\ncode = "lease\n', encoding="utf-8")
    assert "line 2" in refused(liaison("catalogue", "load", str(broken)))
    refused(liaison("catalogue", "load", str(tmp_path / "missing.toml")))
    assert ok(liaison("catalogue", "list")) == before
    # Refusals write nothing, not even to the audit log.
    assert [a for _, a, _ in audit_trail(loaded)] == ["service.load"]


def test_a_dry_run_says_what_would_change(loaded: str, tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    start = text.index('[[measure]]\ncode = "stall-priority"')
    end = text.index("[[measure]]", start + 1)
    smaller = tmp_path / "smaller.toml"
    smaller.write_text(
        text[:start] + text[end:].replace("target_days = 7", "target_days = 6", 1),
        encoding="utf-8",
    )
    lines = ok(liaison("catalogue", "load", "--dry-run", str(smaller)))
    assert "changed\tmeasure startup-guidance\ttarget_days" in lines
    assert "deactivated\tmeasure stall-priority" in lines
    assert lines[-1].startswith("dry run, nothing written: would be 0 added, 1 changed,")
    assert "stall-priority" in liaison("catalogue", "list", "measures").output
    # For real now.
    lines = ok(liaison("catalogue", "load", str(smaller)))
    assert lines[-1].startswith("0 added, 1 changed, 1 deactivated, 23 moved")
    listed = liaison("catalogue", "list", "measures").output.splitlines()
    assert listed[-1].startswith("measure\tstall-priority\t")
    assert listed[-1].endswith("\tinactive")


def test_export_then_load_changes_nothing(loaded: str, tmp_path: Path) -> None:
    ok(liaison("catalogue", "deactivate", "student-aid"))
    exported = tmp_path / "catalogue.toml"
    assert ok(liaison("catalogue", "export", str(exported))) == [
        f"wrote {exported}: 6 categories, 11 departments, 26 measures"
    ]
    text = exported.read_text(encoding="utf-8")
    assert text.startswith("# The service catalogue of Liaison, exported by")
    assert "active = false" in text
    assert ok(liaison("catalogue", "load", str(exported)))[-1] == (
        "0 added, 0 changed, 0 deactivated, 43 unchanged"
    )
    actions = [(a, s) for _, a, s in audit_trail(loaded)]
    assert ("service.export", str(exported)) in actions
    unwritable = liaison("catalogue", "export", str(tmp_path / "no" / "such" / "dir.toml"))
    assert unwritable.exit_code == 1
    assert "cannot write" in unwritable.output


def test_set_add_deactivate_and_activate(loaded: str) -> None:
    lines = ok(liaison("catalogue", "set", "legal-aid", "target_days", "5", "contact", "027-1234"))
    assert lines == [
        "changed\tmeasure legal-aid\tcontact,target_days",
        "0 added, 1 changed, 0 deactivated, 42 unchanged",
    ]
    assert "target_days = 5" in liaison("catalogue", "show", "legal-aid").output
    assert ok(liaison("catalogue", "set", "legal-aid", "target_days", "5")) == [
        "legal-aid: nothing changed (the values were already so)"
    ]
    output = refused(liaison("catalogue", "set", "legal-aid", "target_days", "-1"))
    assert "target_days must be a whole number of days from 1 to 365" in output
    assert "FIELD VALUE pairs" in liaison("catalogue", "set", "legal-aid", "title_zh").output
    refused(liaison("catalogue", "set", "nothing", "title_zh", "x"))

    lines = ok(
        liaison(
            "service", "add", "measure", "tenancy-disputes",
            "department", "housing", "category", "legal",
            "title_zh", "租赁纠纷调处", "title_en", "Tenancy disputes",
            "documents_zh", "身份证|租赁合同", "documents_en", "ID card|the tenancy agreement",
            "target_days", "10",
        )
    )  # fmt: skip
    assert lines[0] == "added\tmeasure tenancy-disputes"
    assert 'documents_en = [\n    "ID card",\n    "the tenancy agreement",\n]' in (
        liaison("catalogue", "show", "tenancy-disputes").output
    )
    output = refused(liaison("catalogue", "add", "department", "housing", "name_zh", "房管"))
    assert "name_en is missing" in output
    assert "code 'housing' is already used" in output

    lines = ok(liaison("catalogue", "deactivate", "housing"))
    assert lines[:4] == [
        "deactivated\tdepartment housing",
        "deactivated\tmeasure public-rental-housing",
        "deactivated\tmeasure rental-filing",
        "deactivated\tmeasure tenancy-disputes",
    ]
    assert ok(liaison("catalogue", "deactivate", "housing")) == ["housing was already inactive"]
    output = refused(liaison("catalogue", "activate", "rental-filing"))
    assert "the measure is active but its department 'housing' is not" in output
    ok(liaison("catalogue", "activate", "housing"))
    assert ok(liaison("catalogue", "activate", "rental-filing"))[0] == (
        "changed\tmeasure rental-filing\tactive"
    )
    # Every edit that was taken is audited, including those that found nothing to change.
    assert [a for _, a, _ in audit_trail(loaded)] == [
        "service.load",
        "service.set",
        "service.set",
        "service.add",
        "service.deactivate",
        "service.deactivate",
        "service.activate",
        "service.activate",
    ]


def test_the_terminal_chat_starts_with_the_shipped_guide(database_url: str) -> None:
    """`liaison chat` on a database whose catalogue is empty seeds it, then /guide shows it."""
    env = {**os.environ, "LIAISON_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", "424242"],
        input="/guide\n🏛 按部门查找\n6. 江汉区教育局\n1. 随迁子女义务教育入学\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    transcript = completed.stdout
    assert "[1] 🏛 按部门查找" in transcript
    assert "6. 江汉区教育局" in transcript
    assert "随迁子女义务教育入学（15 天内答复）" in transcript
    assert "儿童预防接种证" in transcript
    # The catalogue was seeded once (the nightly jobs may also run if the test runs at night).
    actions = [a for _, a, _ in audit_trail(database_url)]
    assert [a for a in actions if a.startswith("service.")] == ["service.seed"]


def test_the_old_name_service_still_runs_the_catalogue_commands(loaded: str) -> None:
    assert ok(liaison("service", "list", "departments")) == ok(
        liaison("catalogue", "list", "departments")
    )
    # Listed once, under its name.
    listing = liaison("--help").output.split("Commands:")[1].splitlines()
    commands = [line.split()[0] for line in listing if line.startswith("  ") and line[2] != " "]
    assert "catalogue" in commands and "service" not in commands
