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

import importlib
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from storage.channels import ChannelOrderError, parse_channels
from storage.phones import InvalidPhone, normalize_phone
from storage.sheets import (
    STRIP_CHARS,
    RowError,
    Rows,
    SheetFileError,
    cell_text,
    header_lookup,
    open_sheet,
    pick,
    preview,
    read_rows,
)
from storage.zones import ZoneError, parse_zone

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
    # An IANA name ("Asia/Dubai"); None: the cell was empty, the member's zone is left as it is.
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedRoster:
    rows: tuple[RosterRow, ...]
    errors: tuple[RowError, ...]
    # Non-empty header cells that matched no known column, as written in the file.
    ignored_columns: tuple[str, ...] = ()


class RosterFileError(SheetFileError):
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
    "timezone",
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
    "timezone": ("timezone", "time_zone", "time zone", "tz", "时区"),
}

_STATUS_VALUES: dict[str, tuple[str, ...]] = {
    "inflow": ("inflow", "流入", "流入党员"),
    "outflow": ("outflow", "流出", "流出党员"),
    "local": ("local", "本地", "本地党员", "在册", "在册党员"),
}

_GROUP_SEPARATORS = re.compile("[;；、]")


def _status_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


_HEADER_LOOKUP = header_lookup(_ALIASES)
_STATUS_LOOKUP = {_status_key(v): status for status, names in _STATUS_VALUES.items() for v in names}
assert tuple(_ALIASES) == _FIELDS
assert tuple(_STATUS_VALUES) == STATUSES


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
    with open_sheet(path, error=RosterFileError) as (total, rows):
        bar = _progress_bar(progress, total, path.name)
        try:
            return _parse(_counted(rows, bar))
        finally:
            bar.close()


def _counted(rows: Rows, bar: _Progress) -> Rows:
    for item in rows:
        yield item
        bar.update()


def _parse(rows: Rows) -> ParsedRoster:
    parser, ignored = read_rows(
        rows,
        _RowParser,
        lookup=_HEADER_LOOKUP,
        required=_REQUIRED,
        error=RosterFileError,
        what="member",
    )
    return ParsedRoster(
        rows=tuple(parser.rows), errors=tuple(parser.errors), ignored_columns=ignored
    )


# _RowParser.feed unpacks the cells after the required ones in this order.
_OPTIONAL = _FIELDS[len(_REQUIRED) :]
assert _FIELDS[: len(_REQUIRED)] == _REQUIRED


class _RowParser:
    def __init__(self, columns: dict[str, int]) -> None:
        # Cell positions in _FIELDS order; -1 for a column the file lacks.
        self._indexes = [columns.get(field, -1) for field in _FIELDS]
        self._phones: dict[str, int] = {}
        self.rows: list[RosterRow] = []
        self.errors: list[RowError] = []

    def feed(self, row_number: int, values: Sequence[object]) -> bool:
        """Parse one data row; return False when the row was blank and skipped."""
        raw = pick(values, self._indexes)
        text = [cell_text(v) for v in raw]
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
                message = f"invalid phone '{preview(phone_text)}': {exc}"
                errors.append(RowError(row_number, "phone", message))
            else:
                first = self._phones.setdefault(phone, row_number)
                if first != row_number:
                    message = f"duplicate phone '{preview(phone_text)}': same as row {first}"
                    errors.append(RowError(row_number, "phone", message))

        status: str | None = None
        if status_text is None:
            errors.append(RowError(row_number, "status", "missing status"))
        else:
            status = _STATUS_LOOKUP.get(status_text) or _STATUS_LOOKUP.get(_status_key(status_text))
            if status is None:
                message = (
                    f"unknown status '{preview(status_text)}' (expected inflow, outflow or local)"
                )
                errors.append(RowError(row_number, "status", message))

        for field, value in zip(_OPTIONAL, optional, strict=True):
            if value is not None and len(value) > FIELD_MAX_CHARS:
                errors.append(RowError(row_number, field, _too_long(field, value)))
        channels_text, timezone_text = optional[-2:]
        channels: str | None = None
        if channels_text is not None:
            try:
                channels = parse_channels(channels_text)
            except ChannelOrderError as exc:
                errors.append(RowError(row_number, "channels", str(exc)))
        timezone: str | None = None
        if timezone_text is not None and len(timezone_text) <= FIELD_MAX_CHARS:
            try:
                timezone = parse_zone(timezone_text)
            except ZoneError as exc:
                errors.append(RowError(row_number, "timezone", str(exc)))

        if errors:
            self.errors.extend(errors)
            return True
        assert name is not None
        assert phone is not None
        assert status is not None
        home_unit, origin, destination, groups, workplace, trade, _, _ = optional
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
                timezone=timezone,
            )
        )
        return True


def _too_long(field: str, value: str) -> str:
    return f"{field} too long ({len(value)} characters, max {FIELD_MAX_CHARS})"


def _split_groups(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    parts = (part.strip(STRIP_CHARS) for part in _GROUP_SEPARATORS.split(value))
    return tuple(dict.fromkeys(part for part in parts if part))
