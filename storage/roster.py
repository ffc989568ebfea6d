"""Parsing of member roster files (``liaison member import FILE``).

This module only *reads* a roster: it turns a ``.csv`` or ``.xlsx`` file into
validated :class:`RosterRow` objects plus a list of :class:`RowError` for the
rows it could not accept.  It never touches the database; checks that need
it (unknown groups or units, conflicts with existing members) belong to the
caller.

Whole-file problems (unreadable file, unsupported extension, missing
required columns, no data) raise :class:`RosterFileError`.
"""

from __future__ import annotations

import csv
import importlib
import io
import re
import sys
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from storage.channels import ChannelOrderError, parse_channels
from storage.phones import InvalidPhone, normalize_phone

__all__ = [
    "FIELD_MAX_CHARS",
    "NAME_MAX_CHARS",
    "STATUSES",
    "ParsedRoster",
    "RosterFileError",
    "RosterRow",
    "RowError",
    "read_roster",
]

STATUSES = ("inflow", "outflow", "local")

NAME_MAX_CHARS = 64
FIELD_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class RosterRow:
    row_number: int  # spreadsheet row number as a human sees it (first row is 1)
    name: str
    phone: str  # E.164
    status: str  # one of STATUSES
    home_unit: str | None
    origin: str | None
    destination: str | None
    groups: tuple[str, ...]
    workplace: str | None
    trade: str | None
    # "sms,telegram"; None: the cell was empty, so the member's order is left as it is.
    channels: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    row_number: int
    column: str | None  # canonical field name ("phone", "status", ...) or None
    message: str  # short English sentence


@dataclass(frozen=True, slots=True)
class ParsedRoster:
    rows: tuple[RosterRow, ...]
    errors: tuple[RowError, ...]
    # Non-empty header cells that matched no known column, as written in the file.
    ignored_columns: tuple[str, ...] = ()


class RosterFileError(Exception):
    """The file as a whole cannot be imported; ``str(exc)`` says why."""


# --------------------------------------------------------------------------
# Columns and values

_FIELDS = (
    "name",
    "phone",
    "status",
    "home_unit",
    "origin",
    "destination",
    "groups",
    "workplace",
    "trade",
    "channels",
)
_REQUIRED = ("name", "phone", "status")

_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "姓名"),
    "phone": (
        "phone",
        "mobile",
        "phone_number",
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "电话号码",
        "联系电话",
    ),
    "status": ("status", "状态", "类型"),
    "home_unit": ("home_unit", "所在党组织", "组织关系所在党组织", "单位"),
    "origin": ("origin", "流出地", "来源地"),
    "destination": ("destination", "流入地", "去向"),
    "groups": ("groups", "group", "党小组", "小组", "分组"),
    "workplace": ("workplace", "工作单位"),
    "trade": ("trade", "行业"),
    "channels": ("channels", "channel", "通知方式", "联系方式"),
}

_STATUS_VALUES: dict[str, tuple[str, ...]] = {
    "inflow": ("inflow", "流入", "流入党员"),
    "outflow": ("outflow", "流出", "流出党员"),
    "local": ("local", "本地", "本地党员", "在册", "在册党员"),
}

_GROUP_SEPARATORS = re.compile("[;；、]")
_HEADER_PUNCT = re.compile(r"[\s\-]+")

# Everything str.isspace() knows (ASCII whitespace, NBSP, U+3000 ideographic
# space, ...) plus the invisible characters that copy-paste drags along.
_STRIP_CHARS = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + (
    "\u200b\u200c\u200d\u2060\ufeff"
)


def _header_key(text: str) -> str:
    """Canonical form of a header cell: "Home Unit *" -> "home_unit"."""
    text = unicodedata.normalize("NFKC", text).strip(_STRIP_CHARS + "*").casefold()
    return _HEADER_PUNCT.sub("_", text)


def _status_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


_HEADER_LOOKUP = {_header_key(alias): field for field, names in _ALIASES.items() for alias in names}
_STATUS_LOOKUP = {_status_key(v): status for status, names in _STATUS_VALUES.items() for v in names}
assert tuple(_ALIASES) == _FIELDS
assert tuple(_STATUS_VALUES) == STATUSES


def _cell_text(value: object) -> str | None:
    """Cell value as stripped text, ``None`` when blank."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))  # Excel stores typed-in integers as floats
    else:
        text = str(value)
    return text.strip(_STRIP_CHARS) or None


def _preview(text: str, limit: int = 40) -> str:
    """Quote a cell value in an error message without pasting a whole essay."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------
# Progress bar


class _Progress(Protocol):
    def update(self, n: int = 1) -> object: ...

    def close(self) -> None: ...


class _NoProgress:
    def update(self, n: int = 1) -> object:
        return None

    def close(self) -> None:
        return None


def _progress_bar(enabled: bool, total: int | None, desc: str) -> _Progress:
    if not enabled:
        return _NoProgress()
    # Imported dynamically: tqdm ships no type information.
    tqdm_module = importlib.import_module("tqdm")
    bar: _Progress = tqdm_module.tqdm(
        total=total, desc=desc, unit=" rows", file=sys.stderr, dynamic_ncols=True
    )
    return bar


# --------------------------------------------------------------------------
# Readers: each yields (row_number, cell values) for every row of the sheet.

_Rows = Iterator[tuple[int, Sequence[object]]]


@contextmanager
def _open_csv(path: Path) -> Iterator[tuple[int | None, _Rows]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterFileError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    text = _decode_csv(data)
    delimiter = _sniff_delimiter(text)
    total = text.count("\n") + (0 if text.endswith("\n") else 1)

    def rows() -> _Rows:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        row_number = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise RosterFileError(f"row {row_number + 1}: malformed CSV ({exc})") from exc
            row_number += 1
            yield row_number, values

    yield total, rows()


def _decode_csv(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        raise RosterFileError(
            "this is an Excel workbook, not CSV: save it with the .xlsx extension"
        )
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterFileError("this is an old Excel .xls workbook: save it as .xlsx or CSV")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel "Unicode text"
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        # Chinese Excel saves "CSV" as GBK; GB18030 is its superset.
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise RosterFileError("the file contains NUL bytes: is it really a CSV file?")
        return text
    raise RosterFileError("cannot decode the file: save it as UTF-8 or GBK CSV")


def _sniff_delimiter(text: str) -> str:
    """Pick ',', ';' or TAB by counting them in the first non-blank line.

    csv.Sniffer is not used: it is easily fooled by ';' inside the groups
    column, while a header line never contains separators of its own.
    """
    for line in text.splitlines():
        if line.strip(_STRIP_CHARS + ",;\t\"'"):
            counts = {d: line.count(d) for d in (",", "\t", ";")}
            best = max(counts, key=lambda d: counts[d])  # ties: first in order
            return best if counts[best] else ","
    return ","


@contextmanager
def _open_xlsx(path: Path) -> Iterator[tuple[int | None, _Rows]]:
    with warnings.catch_warnings():
        # openpyxl warns about every extension it does not support (data
        # validation, conditional formatting, ...): noise for a data import.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\b")
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (OSError, zipfile.BadZipFile, InvalidFileException) as exc:
            raise RosterFileError(f"cannot open {path.name} as an Excel workbook: {exc}") from exc
        except Exception as exc:  # corrupt parts inside the zip: KeyError, XML errors, ...
            raise RosterFileError(f"cannot read {path.name}: the workbook is damaged") from exc
        try:
            if not workbook.worksheets:
                raise RosterFileError("the workbook has no worksheet")
            sheet = workbook.worksheets[0]
            if not isinstance(sheet, ReadOnlyWorksheet):  # pragma: no cover - read_only=True
                raise RosterFileError("the first sheet is not a worksheet")
            total = sheet.max_row
            # Some programs write a wrong "dimension" record, and read-only
            # mode would silently stop there: read up to the real last row.
            sheet.reset_dimensions()
            yield total, _xlsx_rows(sheet)
        finally:
            workbook.close()


class _ValueRows(Protocol):
    def iter_rows(self, *, values_only: bool) -> Iterator[tuple[object, ...]]: ...


def _xlsx_rows(sheet: ReadOnlyWorksheet) -> _Rows:
    # types-openpyxl types ReadOnlyWorksheet.iter_rows with a Worksheet self.
    rows = cast(_ValueRows, sheet).iter_rows(values_only=True)
    row_number = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # damaged sheet XML
            raise RosterFileError(f"row {row_number + 1}: cannot read the worksheet") from exc
        row_number += 1
        yield row_number, values


# --------------------------------------------------------------------------
# Parsing


def read_roster(path: Path, *, progress: bool = False) -> ParsedRoster:
    """Read and validate a roster file (``.csv`` or ``.xlsx``).

    The first non-empty row is the header.  Rows whose recognised columns are
    all blank are skipped; every other row becomes either a
    :class:`RosterRow` or one or more :class:`RowError` (all problems of a
    row are reported, not only the first).

    Raises:
        RosterFileError: unreadable file, unsupported extension, missing
            required columns, or no data rows.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        opener = _open_csv
    elif suffix == ".xlsx":
        opener = _open_xlsx
    else:
        shown = suffix or "(none)"
        raise RosterFileError(f"unsupported file type {shown}: use .csv or .xlsx")

    with opener(path) as (total, rows):
        bar = _progress_bar(progress, total, path.name)
        try:
            return _parse(_counted(rows, bar))
        finally:
            bar.close()


def _counted(rows: _Rows, bar: _Progress) -> _Rows:
    for item in rows:
        yield item
        bar.update()


def _parse(rows: _Rows) -> ParsedRoster:
    header: tuple[int, Sequence[object]] | None = None
    for row_number, values in rows:
        if any(_cell_text(v) is not None for v in values):
            header = (row_number, values)
            break
    if header is None:
        raise RosterFileError("the file is empty")

    columns, ignored = _map_header(*header)
    parser = _RowParser(columns)
    seen_data = False
    for row_number, values in rows:
        seen_data = parser.feed(row_number, values) or seen_data
    if not seen_data:
        raise RosterFileError(f"no member rows below the header (row {header[0]})")
    return ParsedRoster(
        rows=tuple(parser.rows), errors=tuple(parser.errors), ignored_columns=ignored
    )


def _map_header(
    row_number: int, values: Sequence[object]
) -> tuple[dict[str, int], tuple[str, ...]]:
    columns: dict[str, int] = {}
    titles: dict[str, str] = {}
    ignored: dict[str, None] = {}
    for index, value in enumerate(values):
        title = _cell_text(value)
        if title is None:
            continue
        field = _HEADER_LOOKUP.get(_header_key(title))
        if field is None:
            ignored[title] = None
        elif field in columns:
            raise RosterFileError(
                f"columns '{titles[field]}' and '{title}' are both read as {field}: "
                "remove or rename one of them"
            )
        else:
            columns[field] = index
            titles[field] = title
    missing = [field for field in _REQUIRED if field not in columns]
    if missing:
        found = ", ".join(_preview(t, 20) for t in [*titles.values(), *ignored][:12]) or "nothing"
        raise RosterFileError(
            f"missing required column(s): {', '.join(missing)} "
            f"(header row {row_number} has: {found})"
        )
    return columns, tuple(ignored)


_OPTIONAL = ("home_unit", "origin", "destination", "groups", "workplace", "trade", "channels")
assert _FIELDS[3:] == _OPTIONAL  # _RowParser.feed unpacks cells in this order


class _RowParser:
    def __init__(self, columns: dict[str, int]) -> None:
        # Cell positions in _FIELDS order; -1 for a column the file lacks.
        self._indexes = [columns.get(field, -1) for field in _FIELDS]
        self._phones: dict[str, int] = {}
        self.rows: list[RosterRow] = []
        self.errors: list[RowError] = []

    def feed(self, row_number: int, values: Sequence[object]) -> bool:
        """Parse one data row; return False when the row was blank and skipped."""
        width = len(values)
        raw = [values[i] if 0 <= i < width else None for i in self._indexes]
        text = [_cell_text(v) for v in raw]
        if not any(text):
            return False
        name, phone_text, status_text, *optional = text

        errors: list[RowError] = []
        if name is None:
            errors.append(RowError(row_number, "name", "missing name"))
        else:
            name = " ".join(name.split())
            if len(name) > NAME_MAX_CHARS:
                message = f"name too long ({len(name)} characters, max {NAME_MAX_CHARS})"
                errors.append(RowError(row_number, "name", message))

        phone: str | None = None
        if phone_text is None:
            errors.append(RowError(row_number, "phone", "missing phone"))
        elif len(phone_text) > FIELD_MAX_CHARS:
            errors.append(RowError(row_number, "phone", _too_long("phone", phone_text)))
        else:
            raw_phone = raw[1]
            try:
                phone = normalize_phone(phone_text if isinstance(raw_phone, str) else raw_phone)
            except InvalidPhone as exc:
                message = f"invalid phone '{_preview(phone_text)}': {exc}"
                errors.append(RowError(row_number, "phone", message))
            else:
                first = self._phones.setdefault(phone, row_number)
                if first != row_number:
                    message = f"duplicate phone '{_preview(phone_text)}': same as row {first}"
                    errors.append(RowError(row_number, "phone", message))

        status: str | None = None
        if status_text is None:
            errors.append(RowError(row_number, "status", "missing status"))
        else:
            status = _STATUS_LOOKUP.get(status_text) or _STATUS_LOOKUP.get(_status_key(status_text))
            if status is None:
                message = (
                    f"unknown status '{_preview(status_text)}' (expected inflow, outflow or local)"
                )
                errors.append(RowError(row_number, "status", message))

        for field, value in zip(_OPTIONAL, optional, strict=True):
            if value is not None and len(value) > FIELD_MAX_CHARS:
                errors.append(RowError(row_number, field, _too_long(field, value)))
        channels: str | None = None
        if optional[-1] is not None:
            try:
                channels = parse_channels(optional[-1])
            except ChannelOrderError as exc:
                errors.append(RowError(row_number, "channels", str(exc)))

        if errors:
            self.errors.extend(errors)
            return True
        assert name is not None
        assert phone is not None
        assert status is not None
        home_unit, origin, destination, groups, workplace, trade, _ = optional
        self.rows.append(
            RosterRow(
                row_number=row_number,
                name=name,
                phone=phone,
                status=status,
                home_unit=home_unit,
                origin=origin,
                destination=destination,
                groups=_split_groups(groups),
                workplace=workplace,
                trade=trade,
                channels=channels,
            )
        )
        return True


def _too_long(field: str, value: str) -> str:
    return f"{field} too long ({len(value)} characters, max {FIELD_MAX_CHARS})"


def _split_groups(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    parts = (part.strip(_STRIP_CHARS) for part in _GROUP_SEPARATORS.split(value))
    return tuple(dict.fromkeys(part for part in parts if part))
