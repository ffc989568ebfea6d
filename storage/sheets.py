"""Spreadsheets people use: reading theirs (CSV in any common encoding and delimiter, or
XLSX), and writing ours (exports) so that what members typed never runs as a formula."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar, cast

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

__all__ = [
    "MAX_CELLS",
    "MAX_UNPACKED_BYTES",
    "STRIP_CHARS",
    "RowError",
    "RowParser",
    "Rows",
    "SheetFileError",
    "add_sheet",
    "cell_text",
    "header_key",
    "header_lookup",
    "map_header",
    "open_sheet",
    "pick",
    "preview",
    "read_rows",
    "spreadsheet_safe",
    "write_table",
]


@dataclass(frozen=True, slots=True)
class RowError:
    row_number: int
    column: str | None  # canonical field name ("phone", "kind", ...) or None
    message: str  # short English sentence


class SheetFileError(Exception):
    """The file as a whole cannot be imported; ``str(exc)`` says why."""


# Each import raises its own subclass: its callers catch only their own file's problems.
ErrorType = type[SheetFileError]

# --------------------------------------------------------------------------
# Cells and headers

# Everything str.isspace() knows (ASCII whitespace, NBSP, U+3000 ideographic
# space, ...) plus the invisible characters that copy-paste drags along.
STRIP_CHARS = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + (
    "\u200b\u200c\u200d\u2060\ufeff"
)

_HEADER_PUNCT = re.compile(r"[\s\-]+")


def header_key(text: str) -> str:
    """Canonical form of a header cell: "Home Unit *" -> "home_unit"."""
    text = unicodedata.normalize("NFKC", text).strip(STRIP_CHARS + "*").casefold()
    return _HEADER_PUNCT.sub("_", text)


def header_lookup(aliases: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Field name by the header key of each of its aliases."""
    return {header_key(alias): field for field, names in aliases.items() for alias in names}


def cell_text(value: object) -> str | None:
    """Cell value as stripped text, ``None`` when blank."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))  # Excel stores typed-in integers as floats
    else:
        text = str(value)
    return text.strip(STRIP_CHARS) or None


def pick(values: Sequence[object], indexes: Sequence[int]) -> list[object]:
    """The cells at indexes; None for a column the file lacks (-1) or past a short row's end."""
    width = len(values)
    return [values[i] if 0 <= i < width else None for i in indexes]


def preview(text: str, limit: int = 40) -> str:
    """Quote a cell value in an error message without pasting a whole essay."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------
# Readers: each yields (row_number, cell values) for every row of the sheet.

Rows = Iterator[tuple[int, Sequence[object]]]

# A roster of 10,000 members is about 5 MB of worksheet XML and 100,000 cells, so these
# leave room for ten times that while an XLSX "zip bomb" (a megabyte that unpacks to
# gigabytes of repeated rows) is refused before it is read, instead of taking the
# machine's memory. A CSV is read whole into memory, so its size is held to the same mark.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_CELLS = 1_000_000


def _too_big(what: str, size: int) -> str:
    return (
        f"{what} {size / 2**20:,.0f} MB, more than the limit of "
        f"{MAX_UNPACKED_BYTES / 2**20:,.0f} MB: split it into smaller files"
    )


def _too_many_cells(row_number: int) -> str:
    return (
        f"row {row_number}: the sheet has more than {MAX_CELLS:,} cells, the limit: "
        "split it into smaller files"
    )


def _limited(rows: Rows, error: ErrorType) -> Rows:
    """rows, refused once they add up to more than MAX_CELLS cells."""
    cells = 0
    for row_number, values in rows:
        cells += len(values)
        if cells > MAX_CELLS:
            raise error(_too_many_cells(row_number))
        yield row_number, values


@contextmanager
def open_sheet(path: Path, *, error: ErrorType) -> Iterator[tuple[int | None, Rows]]:
    """Open a ``.csv`` or ``.xlsx`` file: yields (row count if known, rows)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        opener = _open_csv
    elif suffix == ".xlsx":
        opener = _open_xlsx
    else:
        shown = suffix or "(none)"
        raise error(f"unsupported file type {shown}: use .csv or .xlsx")
    with opener(path, error) as (total, rows):
        yield total, _limited(rows, error)


@contextmanager
def _open_csv(path: Path, error: ErrorType) -> Iterator[tuple[int | None, Rows]]:
    try:
        size = path.stat().st_size
        if size > MAX_UNPACKED_BYTES:
            raise error(_too_big("the file is", size))
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    text = _decode_csv(data, error)
    delimiter = _sniff_delimiter(text)
    total = text.count("\n") + (0 if text.endswith("\n") else 1)

    def rows() -> Rows:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        row_number = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise error(f"row {row_number + 1}: malformed CSV ({exc})") from exc
            row_number += 1
            yield row_number, values

    yield total, rows()


def _decode_csv(data: bytes, error: ErrorType) -> str:
    if data.startswith(b"PK\x03\x04"):
        raise error("this is an Excel workbook, not CSV: save it with the .xlsx extension")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise error("this is an old Excel .xls workbook: save it as .xlsx or CSV")
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
            raise error("the file contains NUL bytes: is it really a CSV file?")
        if encoding == "gb18030":
            _check_chinese(text, error)
        return text
    raise error("cannot decode the file: save it as UTF-8 or GBK CSV")


def _check_chinese(text: str, error: ErrorType) -> None:
    """Refuse a GB18030 reading that is mostly rare characters: the file is in another encoding."""
    # Nearly any byte string decodes as GB18030, so decoding is no proof. What Chinese Excel
    # writes is overwhelmingly GB2312, the 6,763 common characters (a name's rare character
    # is one in several); text in another double-byte encoding read as GBK is instead
    # nearly all rare or traditional characters and private-use codes: Japanese Shift-JIS
    # entirely, since its lead bytes fall outside GB2312's. More than half rare is not Chinese.
    wide = [c for c in text if not c.isascii()]
    rare = [c for c in wide if not _in_gb2312(c)]
    if len(rare) * 2 > len(wide):
        sample = "".join(dict.fromkeys(rare))[:8]
        raise error(
            "cannot tell the file's encoding: it is not UTF-8, and read as Chinese GBK it is "
            f"mostly unusual characters ({sample}…): save the file as UTF-8 "
            "(in Excel: Save As, CSV UTF-8) and import that"
        )


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _sniff_delimiter(text: str) -> str:
    """Pick ',', ';' or TAB by counting them in the first non-blank line."""
    # Not csv.Sniffer: it is easily fooled by ';' inside a cell (a roster's
    # groups column), while a header line never contains separators of its own.
    for line in text.splitlines():
        if line.strip(STRIP_CHARS + ",;\t\"'"):
            counts = {d: line.count(d) for d in (",", "\t", ";")}
            best = max(counts, key=lambda d: counts[d])  # ties: first in order
            return best if counts[best] else ","
    return ","


_EXCEL_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _check_unpacked_size(path: Path, error: ErrorType) -> None:
    """Refuse a workbook whose parts unpack to more than MAX_UNPACKED_BYTES."""
    # The sizes are the ones the archive declares: zipfile never unpacks a part past its
    # declared size (a part that lies fails its checksum), so openpyxl reads no more.
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise error(f"cannot open {path.name} as an Excel workbook: {exc}") from exc
    # Only deflate stops at the declared size while unpacking; Excel uses nothing else.
    if any(part.compress_type not in _EXCEL_COMPRESSION for part in parts):
        raise error(f"cannot open {path.name} as an Excel workbook: unusual compression")
    size = sum(part.file_size for part in parts)
    if size > MAX_UNPACKED_BYTES:
        raise error(_too_big("the workbook unpacks to", size))


@contextmanager
def _open_xlsx(path: Path, error: ErrorType) -> Iterator[tuple[int | None, Rows]]:
    _check_unpacked_size(path, error)
    with warnings.catch_warnings():
        # openpyxl warns about every extension it does not support (data
        # validation, conditional formatting, ...): noise for a data import.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\b")
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (OSError, zipfile.BadZipFile, InvalidFileException) as exc:
            raise error(f"cannot open {path.name} as an Excel workbook: {exc}") from exc
        except Exception as exc:  # corrupt parts inside the zip: KeyError, XML errors, ...
            raise error(f"cannot read {path.name}: the workbook is damaged") from exc
        try:
            if not workbook.worksheets:
                raise error("the workbook has no worksheet")
            sheet = workbook.worksheets[0]
            if not isinstance(sheet, ReadOnlyWorksheet):  # pragma: no cover - read_only=True
                raise error("the first sheet is not a worksheet")
            total = sheet.max_row
            # Some programs write a wrong "dimension" record, and read-only
            # mode would silently stop there: read up to the real last row.
            sheet.reset_dimensions()
            yield total, _xlsx_rows(sheet, error)
        finally:
            workbook.close()


class _ValueRows(Protocol):
    def iter_rows(self, *, values_only: bool) -> Iterator[tuple[object, ...]]: ...


def _xlsx_rows(sheet: ReadOnlyWorksheet, error: ErrorType) -> Rows:
    # types-openpyxl types ReadOnlyWorksheet.iter_rows with a Worksheet self.
    rows = cast(_ValueRows, sheet).iter_rows(values_only=True)
    row_number = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # damaged sheet XML
            raise error(f"row {row_number + 1}: cannot read the worksheet") from exc
        row_number += 1
        yield row_number, values


# --------------------------------------------------------------------------
# The header and the rows below it


class RowParser(Protocol):
    def feed(self, row_number: int, values: Sequence[object]) -> bool: ...


_Parser = TypeVar("_Parser", bound=RowParser)


def read_rows(
    rows: Rows,
    make_parser: Callable[[dict[str, int]], _Parser],
    *,
    lookup: Mapping[str, str],
    required: Sequence[str],
    error: ErrorType,
    what: str,
) -> tuple[_Parser, tuple[str, ...]]:
    """Map the header, feed each row below it to a parser for those columns; the ignored titles."""
    header_row, values = _find_header(rows, error)
    columns, ignored = map_header(header_row, values, lookup=lookup, required=required, error=error)
    parser = make_parser(columns)
    seen_data = False
    for row_number, values in rows:
        seen_data = parser.feed(row_number, values) or seen_data
    if not seen_data:
        raise error(f"no {what} rows below the header (row {header_row})")
    return parser, ignored


def _find_header(rows: Rows, error: ErrorType) -> tuple[int, Sequence[object]]:
    """The first non-empty row, taken from rows: the rows after it are the data."""
    for row_number, values in rows:
        if any(cell_text(v) is not None for v in values):
            return row_number, values
    raise error("the file is empty")


def map_header(
    row_number: int,
    values: Sequence[object],
    *,
    lookup: Mapping[str, str],
    required: Sequence[str],
    error: ErrorType,
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Column index by field name, and the header cells no alias matched."""
    columns: dict[str, int] = {}
    titles: dict[str, str] = {}
    ignored: dict[str, None] = {}
    for index, value in enumerate(values):
        title = cell_text(value)
        if title is None:
            continue
        field = lookup.get(header_key(title))
        if field is None:
            ignored[title] = None
        elif field in columns:
            raise error(
                f"columns '{titles[field]}' and '{title}' are both read as {field}: "
                "remove or rename one of them"
            )
        else:
            columns[field] = index
            titles[field] = title
    missing = [field for field in required if field not in columns]
    if missing:
        found = ", ".join(preview(t, 20) for t in [*titles.values(), *ignored][:12]) or "nothing"
        raise error(
            f"missing required column(s): {', '.join(missing)} "
            f"(header row {row_number} has: {found})"
        )
    return columns, tuple(ignored)


# --- writing ------------------------------------------------------------------------------


def spreadsheet_safe(value: str) -> str:
    """Text people typed, made inert for spreadsheets: a leading = + - @ starts no formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_table(
    path: Path, title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """rows under columns: .xlsx (one sheet, title) or else CSV (UTF-8 with a BOM, for Excel)."""
    if path.suffix.lower() == ".xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = title
        sheet.append(list(columns))
        for row in rows:
            sheet.append(list(row))
        for cells in sheet.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula, whatever the text
        book.save(path)
        return
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def add_sheet(
    book: openpyxl.Workbook,
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> None:
    """A sheet people read on paper: bold frozen header, columns as wide as their text.

    Text cells are made inert as write_table makes them (spreadsheet_safe for what people
    typed is still the caller's part, so a CSV of the same rows is safe too).
    """
    sheet = book.create_sheet(title)
    sheet.append(list(columns))
    widths = [_width(str(c)) for c in columns]
    for row in rows:
        sheet.append(list(row))
        for index, value in enumerate(row):
            if index < len(widths) and value is not None:
                widths[index] = max(widths[index], _width(str(value)))
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text
    sheet.freeze_panes = "A2"
    for index, width in enumerate(widths, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = min(width + 2, 60)


def _width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a Chinese character is about two Latin ones."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
