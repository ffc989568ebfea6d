"""The police reconciliation as people read it: the month's roster and the findings as
workbooks (whole phones: the station needs them), and the findings for a screen (phones
masked). The command line (bot/cli/police.py) and the console (bot/console/reports.py)
both show them from here, so the two never drift apart.

Labels are in messages/locales/<locale>/police.toml. What members typed is made inert
for spreadsheets (spreadsheet_safe) before it goes into a cell.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, tzinfo

import openpyxl

from messages.render import Renderer
from storage.phones import mask_phone
from storage.police import Change, Mismatch, PoliceRoster, PoliceRow, Reconciliation
from storage.sheets import RowError, add_sheet, spreadsheet_safe

__all__ = [
    "Findings",
    "MovedPerson",
    "OurPerson",
    "TheirPerson",
    "change_words",
    "findings",
    "findings_workbook",
    "made_at",
    "roster_left",
    "roster_workbook",
    "row_problem",
    "workbook_bytes",
]

ROSTER_COLUMNS = ("name", "phone", "origin", "place", "workplace", "changes")


def _safe(text: str | None) -> str:
    return spreadsheet_safe(text) if text else ""


def _masked(phone: str | None) -> str:
    return mask_phone(phone) if phone else ""


def made_at(now: datetime, zone: tzinfo) -> str:
    """When a workbook was made, as its notes sheet says it: "2026-11-15 10:00+08:00"."""
    return now.astimezone(zone).isoformat(sep=" ", timespec="minutes")


def change_words(renderer: Renderer, row: PoliceRow, locale: str) -> str:
    """What changed for a member since last month, in words ("新增；失联")."""
    words = []
    for change in row.changes:
        if change is Change.MOVED:
            words.append(
                renderer.label(locale, "police.change_moved", before=row.previous_place or "")
            )
        else:
            words.append(renderer.label(locale, f"police.change_{change.value}"))
    return "；".join(words) if locale == "zh_CN" else "; ".join(words)


def roster_workbook(
    renderer: Renderer, roster: PoliceRoster, locale: str, *, made: str
) -> openpyxl.Workbook:
    """The month's roster for the station (whole phones) and a notes sheet saying what each
    column means; made is when, as made_at writes it."""
    words = renderer.labels(locale, "police")
    book = openpyxl.Workbook()
    book.remove(book.worksheets[0])
    add_sheet(
        book,
        words["sheet_roster"],
        [words[f"col_{key}"] for key in ROSTER_COLUMNS],
        (
            [
                _safe(row.name),
                row.phone or "",
                _safe(row.origin),
                _safe(row.place),
                _safe(row.workplace),
                _safe(change_words(renderer, row, locale)),
            ]
            for row in roster.rows
        ),
    )
    left = roster_left(roster)
    unit = roster.unit or words["notes_all_units"]

    def label(key: str, **values: object) -> str:
        return renderer.label(locale, f"police.{key}", **values)

    notes = [
        [_safe(label("notes_title", month=roster.month, unit=unit))],
        [label("notes_made", at=made)],
        [label("notes_count", count=len(roster.rows) - left, left=left)],
        [label("notes_erased", count=roster.erased)],
        [""],
        *([words[f"notes_{key}"]] for key in ROSTER_COLUMNS),
    ]
    add_sheet(book, words["sheet_notes"], [words["notes_meaning"]], notes)
    return book


def roster_left(roster: PoliceRoster) -> int:
    """How many of the roster's rows are members who left during the month."""
    return sum(Change.LEFT in row.changes for row in roster.rows)


def findings_workbook(renderer: Renderer, result: Reconciliation, locale: str) -> openpyxl.Workbook:
    """The findings, one sheet each (police list only, ours only, place differs, bad rows),
    with whole phones for whoever follows them up."""
    words = renderer.labels(locale, "police")
    book = openpyxl.Workbook()
    book.remove(book.worksheets[0])
    person = [words["col_row"], words["col_name"], words["col_phone"]]
    add_sheet(
        book,
        words["sheet_theirs_only"],
        [*person, words["col_their_address"]],
        (
            [r.row_number, _safe(r.name), r.phone or "", _safe(r.address)]
            for r in result.theirs_only
        ),
    )
    add_sheet(
        book,
        words["sheet_ours_only"],
        [words["col_name"], words["col_phone"], words["col_origin"], words["col_place"]],
        ([_safe(m.name), m.phone or "", _safe(m.origin), _safe(m.place)] for m in result.ours_only),
    )
    add_sheet(
        book,
        words["sheet_place_differs"],
        [*person, words["col_their_address"], words["col_our_place"], words["col_matched_by"]],
        (
            [
                p.theirs.row_number,
                _safe(p.ours.name),
                p.ours.phone or "",
                _safe(p.theirs.address),
                _safe(p.ours.place),
                words["matched_by_name" if p.by_name else "matched_by_phone"],
            ]
            for p in result.place_differs
        ),
    )
    add_sheet(
        book,
        words["sheet_bad_rows"],
        [words["col_row"], words["col_problem"]],
        ([e.row_number, _safe(e.message)] for e in result.bad_rows),
    )
    return book


def workbook_bytes(book: openpyxl.Workbook) -> bytes:
    """A workbook as the bytes of an .xlsx file (for a download)."""
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the findings on a screen -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TheirPerson:
    """A row of the police list nobody of ours matched."""

    row_number: int
    name: str
    phone: str  # masked
    address: str


@dataclass(frozen=True, slots=True)
class OurPerson:
    """A member of our roster the police list lacks."""

    name: str
    phone: str  # masked
    origin: str
    place: str


@dataclass(frozen=True, slots=True)
class MovedPerson:
    """A match: the police's row and our member (whose place may differ from theirs)."""

    row_number: int
    name: str
    phone: str  # masked
    their_address: str
    our_place: str
    by_name: bool


@dataclass(frozen=True, slots=True)
class Findings:
    """A reconciliation for a screen: every phone masked, missing text as ""."""

    matched: int
    theirs_only: list[TheirPerson]
    ours_only: list[OurPerson]
    place_differs: list[MovedPerson]
    by_name: list[MovedPerson]
    bad_rows: list[tuple[int, str]]  # (row number, problem)


def row_problem(renderer: Renderer, locale: str, error: RowError) -> str:
    """A bad row of the police list in the reader's language: the two kinds its reader
    finds (storage.police), the phone's reason as the phone reader gave it."""
    if error.column is None:
        return renderer.label(locale, "police.row_no_name_or_phone")
    if error.column == "phone":
        reason = error.message.removeprefix("unreadable phone:").strip()
        return renderer.label(locale, "police.row_bad_phone", reason=reason)
    return error.message


def findings(
    result: Reconciliation, renderer: Renderer | None = None, locale: str | None = None
) -> Findings:
    """The reconciliation with phones masked, as the terminal and the console show it; with
    a renderer and a locale, the bad rows' problems in that language (else as read)."""

    def moved(pairs: list[Mismatch]) -> list[MovedPerson]:
        return [
            MovedPerson(
                p.theirs.row_number,
                p.ours.name,
                _masked(p.ours.phone),
                p.theirs.address or "",
                p.ours.place or "",
                p.by_name,
            )
            for p in pairs
        ]

    return Findings(
        matched=result.matched,
        theirs_only=[
            TheirPerson(r.row_number, r.name or "", _masked(r.phone), r.address or "")
            for r in result.theirs_only
        ],
        ours_only=[
            OurPerson(m.name, _masked(m.phone), m.origin or "", m.place or "")
            for m in result.ours_only
        ],
        place_differs=moved(result.place_differs),
        by_name=moved(result.by_name),
        bad_rows=[
            (
                e.row_number,
                row_problem(renderer, locale, e) if renderer and locale else e.message,
            )
            for e in result.bad_rows
        ],
    )
