"""The service catalogue: categories of need, departments and their service measures.

The catalogue ships as a data file (storage/data/service_catalogue.toml) and is edited by
administrators with `liaison service …`; /guide and /request read it from the database.
Every text has a Chinese and an English column; `localized` picks the reader's.

A file is checked as a whole before anything is written: every problem is reported with
where it is, and a file with one problem changes nothing. Loading is an upsert by code; an
entry the file leaves out becomes inactive rather than deleted, because requests refer to
it. Edits from the command line (set, add, activate, deactivate) go through the same
checks and the same writer: the database is read back as a catalogue, changed, checked and
loaded again, so an edit can never leave what a file could not hold.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage import audit
from storage.models import ServiceCategory, ServiceDepartment, ServiceMeasure

# When a request has no measure (or its measure has none): the target time to answer.
DEFAULT_TARGET_DAYS = 7

SHIPPED = Path(__file__).parent / "data" / "service_catalogue.toml"

Kind = Literal["category", "department", "measure"]
KINDS: tuple[Kind, ...] = ("category", "department", "measure")
Value = str | int | bool | tuple[str, ...] | None
Row = ServiceCategory | ServiceDepartment | ServiceMeasure

MAX_CODE_LENGTH = 40
MAX_DOCUMENTS = 12
MAX_TARGET_DAYS = 365
_CODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_HEADER = re.compile(r"^\s*\[\[\s*(\w+)\s*\]\]")


class CatalogueError(Exception):
    """The catalogue (a file, or an edit) cannot be taken; problems says each reason and where."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Field:
    """One key of an entry: its type, whether it must be there, and its longest length."""

    name: str
    type: Literal["code", "text", "long_text", "lines", "days", "ref", "flag"]
    required: bool = False
    limit: int = 0


def _pair(name: str, type_: Literal["text", "long_text", "lines"], limit: int) -> list[Field]:
    return [Field(f"{name}_zh", type_, limit=limit), Field(f"{name}_en", type_, limit=limit)]


# The keys of each kind, in the order a file (and an export) writes them. Lengths follow the
# columns; a summary and the documents are kept short enough that a measure's card always
# fits one Telegram message.
FIELDS: dict[Kind, tuple[Field, ...]] = {
    "category": (
        Field("code", "code", required=True),
        Field("name_zh", "text", required=True, limit=100),
        Field("name_en", "text", required=True, limit=100),
        Field("active", "flag"),
    ),
    "department": (
        Field("code", "code", required=True),
        Field("name_zh", "text", required=True, limit=100),
        Field("name_en", "text", required=True, limit=100),
        *_pair("address", "text", 300),
        Field("phone", "text", limit=50),
        *_pair("hours", "text", 200),
        Field("active", "flag"),
    ),
    "measure": (
        Field("code", "code", required=True),
        Field("department", "ref", required=True),
        Field("category", "ref", required=True),
        Field("title_zh", "text", required=True, limit=200),
        Field("title_en", "text", required=True, limit=200),
        *_pair("summary", "long_text", 600),
        *_pair("handler", "text", 200),
        *_pair("documents", "lines", 150),
        *_pair("where", "text", 300),
        Field("contact", "text", limit=100),
        Field("target_days", "days", required=True),
        Field("active", "flag"),
    ),
}
_FIELDS_BY_NAME = {kind: {f.name: f for f in fields} for kind, fields in FIELDS.items()}
_MODELS: dict[Kind, type[Row]] = {
    "category": ServiceCategory,
    "department": ServiceDepartment,
    "measure": ServiceMeasure,
}


@dataclass(slots=True)
class Entry:
    """A category, department or measure as a file holds it (references by code)."""

    kind: Kind
    values: dict[str, Value]
    # Where it came from, for messages: "line 57, measure 'legal-aid'" or "measure 'legal-aid'".
    place: str = ""

    @property
    def code(self) -> str:
        return str(self.values["code"])

    @property
    def active(self) -> bool:
        return self.values.get("active") is not False

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None


@dataclass(slots=True)
class Catalogue:
    """The whole catalogue, in menu order."""

    categories: list[Entry] = field(default_factory=list)
    departments: list[Entry] = field(default_factory=list)
    measures: list[Entry] = field(default_factory=list)

    def entries(self, kind: Kind) -> list[Entry]:
        return {"category": self.categories, "department": self.departments}.get(
            kind, self.measures
        )

    def __iter__(self) -> Iterator[Entry]:
        for kind in KINDS:
            yield from self.entries(kind)

    def find(self, code: str) -> Entry | None:
        return next((entry for entry in self if entry.code == code), None)


@dataclass(slots=True)
class LoadReport:
    """What a load (or an edit) changed, entry by entry; a dry run says what it would."""

    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    # Entries whose only change is their place in the menu (one inserted above them …).
    moved: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.deactivated or self.moved)

    def summary(self) -> str:
        moved = f"{len(self.moved)} moved, " if self.moved else ""
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.deactivated)} deactivated, {moved}{self.unchanged} unchanged"
        )


# --- reading and checking a file ---------------------------------------------------------------


def parse_catalogue(text: str) -> Catalogue:
    """The catalogue in a TOML text, checked as a whole; CatalogueError lists every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib's message ends with "(at line N, column M)".
        raise CatalogueError([f"not valid TOML: {error}"]) from None
    lines = _header_lines(text)
    problems: list[str] = []
    for key in data:
        if key not in KINDS:
            problems.append(
                f"unknown section {key!r}: a catalogue has [[category]], [[department]]"
                " and [[measure]] entries"
            )
    catalogue = Catalogue()
    for kind in KINDS:
        tables = data.get(kind, [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            problems.append(f"{kind!r} must be written as [[{kind}]] entries")
            continue
        for index, table in enumerate(tables):
            line = lines[kind][index] if index < len(lines[kind]) else None
            code = table.get("code")
            place = f"{kind} {index + 1}" + (f" {code!r}" if isinstance(code, str) else "")
            if line is not None:
                place = f"line {line}, {place}"
            entry = _entry(kind, table, place, problems)
            catalogue.entries(kind).append(entry)
    problems.extend(check_catalogue(catalogue))
    if problems:
        raise CatalogueError(problems)
    return catalogue


def read_catalogue(path: Path) -> Catalogue:
    """The catalogue in a UTF-8 file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise CatalogueError([f"cannot read {path}: {error.strerror or error}"]) from None
    except UnicodeDecodeError as error:
        raise CatalogueError([f"{path} is not UTF-8 text (byte {error.start})"]) from None
    return parse_catalogue(text)


def shipped_catalogue() -> Catalogue:
    """The catalogue shipped with Liaison (storage/data/service_catalogue.toml)."""
    return read_catalogue(SHIPPED)


def _header_lines(text: str) -> dict[str, list[int]]:
    """The line of each [[kind]] header, in order: where each entry starts."""
    found: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _HEADER.match(line)
        if match and match.group(1) in found:
            found[match.group(1)].append(number)
    return found


def _entry(kind: Kind, table: dict[str, Any], place: str, problems: list[str]) -> Entry:
    """One entry from its raw table; each problem is added to problems with its place."""
    known = _FIELDS_BY_NAME[kind]
    values: dict[str, Value] = {}
    for key in table:
        if key not in known:
            problems.append(f"{place}: unknown key {key!r} (a {kind} has {', '.join(known)})")
    bad: set[str] = set()
    for spec in FIELDS[kind]:
        raw = table.get(spec.name)
        value, problem = _value(spec, raw)
        if problem is not None:
            problems.append(f"{place}: {problem}")
            bad.add(spec.name)
        elif value is None and spec.required:
            problems.append(f"{place}: {spec.name} is missing")
        values[spec.name] = value
    values["active"] = values["active"] is not False
    # A text in one language needs the other: members read either.
    for spec in FIELDS[kind]:
        if spec.name.endswith("_zh"):
            base = spec.name.removesuffix("_zh")
            zh, en = values.get(f"{base}_zh"), values.get(f"{base}_en")
            if bad & {f"{base}_zh", f"{base}_en"} or spec.required:
                continue
            if (zh is None) != (en is None):
                missing = f"{base}_en" if en is None else f"{base}_zh"
                problems.append(f"{place}: {missing} is missing (every text needs both languages)")
    return Entry(kind, values, place)


def _value(spec: Field, raw: object) -> tuple[Value, str | None]:
    """The checked value of one key, or the reason it cannot be taken."""
    name = spec.name
    if raw is None:
        return None, None
    if spec.type == "flag":
        if not isinstance(raw, bool):
            return None, f"{name} must be true or false"
        return raw, None
    if spec.type == "days":
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_TARGET_DAYS:
            return None, f"{name} must be a whole number of days from 1 to {MAX_TARGET_DAYS}"
        return raw, None
    if spec.type == "lines":
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            return None, f"{name} must be a list of texts, one per document"
        items = tuple(item.strip() for item in raw)
        if any(not item or "\n" in item for item in items):
            return None, f"{name}: each document is one non-empty line"
        if len(items) > MAX_DOCUMENTS:
            return None, f"{name} lists {len(items)} documents; at most {MAX_DOCUMENTS}"
        too_long = [item for item in items if len(item) > spec.limit]
        if too_long:
            return None, f"{name}: {too_long[0][:20]!r}… is longer than {spec.limit} characters"
        return items or None, None
    if not isinstance(raw, str):
        return None, f"{name} must be a text in quotes"
    text = raw.strip()
    if spec.type in ("code", "ref"):
        if not _CODE.match(text) or len(text) > MAX_CODE_LENGTH:
            return None, (
                f"{name} {text[:50]!r} is not a code (lower-case letters, digits and hyphens,"
                f" at most {MAX_CODE_LENGTH})"
            )
        return text, None
    if not text:
        return None, None
    if spec.type == "text" and "\n" in text:
        return None, f"{name} must be one line"
    if len(text) > spec.limit:
        return None, f"{name} is {len(text)} characters long; at most {spec.limit}"
    return text, None


def check_catalogue(catalogue: Catalogue) -> list[str]:
    """What makes the catalogue as a whole unusable: duplicates, unknown references …"""
    problems: list[str] = []
    for kind in KINDS:
        if not catalogue.entries(kind):
            problems.append(f"the catalogue has no {kind}: it needs at least one [[{kind}]]")
    seen: dict[str, Entry] = {}
    for entry in catalogue:
        if entry.values.get("code") is None:
            continue
        first = seen.get(entry.code)
        if first is not None:
            problems.append(f"{entry.place}: code {entry.code!r} is already used ({first.place})")
        else:
            seen[entry.code] = entry
    parents: dict[str, dict[str, Entry]] = {
        kind: {e.code: e for e in catalogue.entries(kind) if e.values.get("code") is not None}
        for kind in ("department", "category")
    }
    for measure in catalogue.measures:
        for kind in ("department", "category"):
            code = measure.values.get(kind)
            if code is None:
                continue
            parent = parents[kind].get(str(code))
            if parent is None:
                problems.append(f"{measure.place}: unknown {kind} {code!r}")
            elif measure.active and not parent.active:
                problems.append(
                    f"{measure.place}: the measure is active but its {kind} {code!r} is not"
                )
    return problems


# --- writing a file ------------------------------------------------------------------------------


def _toml(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        if not value:
            return "[]"
        return "[\n" + "".join(f"    {_toml(item)},\n" for item in value) + "]"
    # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def dump_entry(entry: Entry) -> str:
    """One entry as a file writes it."""
    lines = [f"[[{entry.kind}]]"]
    for spec in FIELDS[entry.kind]:
        value = entry.values.get(spec.name)
        if spec.name == "active":
            if value is False:
                lines.append("active = false")
        elif value is not None:
            lines.append(f"{spec.name} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def dump_catalogue(catalogue: Catalogue, *, header: str = "") -> str:
    """The catalogue as a file that parse_catalogue reads back to the same catalogue."""
    parts = [f"# {line}".rstrip() + "\n" for line in header.splitlines()]
    for entry in catalogue:
        parts.append("\n" + dump_entry(entry))
    return "".join(parts).lstrip("\n")


# --- the database ---------------------------------------------------------------------------


def _entry_of(kind: Kind, row: Row, codes: dict[int, str], cat_codes: dict[int, str]) -> Entry:
    """A database row as a file entry."""
    values: dict[str, Value] = {}
    for spec in FIELDS[kind]:
        if spec.type == "ref":
            assert isinstance(row, ServiceMeasure)
            ids = codes if spec.name == "department" else cat_codes
            values[spec.name] = ids[getattr(row, f"{spec.name}_id")]
        elif spec.type == "lines":
            text: str | None = getattr(row, spec.name)
            values[spec.name] = tuple(text.split("\n")) if text else None
        else:
            values[spec.name] = getattr(row, spec.name)
    return Entry(kind, values, f"{kind} {row.code!r}")


async def _rows(session: AsyncSession) -> dict[Kind, list[Row]]:
    found: dict[Kind, list[Row]] = {}
    for kind in KINDS:
        model = _MODELS[kind]
        rows = await session.scalars(select(model).order_by(model.position, model.id))
        found[kind] = cast(list[Row], list(rows.all()))
    return found


async def current_catalogue(session: AsyncSession) -> Catalogue:
    """The catalogue in the database, inactive entries included, in menu order."""
    rows = await _rows(session)
    departments = {row.id: row.code for row in rows["department"]}
    categories = {row.id: row.code for row in rows["category"]}
    catalogue = Catalogue()
    for kind in KINDS:
        catalogue.entries(kind).extend(
            _entry_of(kind, row, departments, categories) for row in rows[kind]
        )
    return catalogue


async def is_empty(session: AsyncSession) -> bool:
    """True when no category, department or measure has been loaded yet."""
    for model in _MODELS.values():
        if await session.scalar(select(func.count()).select_from(model)):
            return False
    return True


async def _apply(
    session: AsyncSession, now: datetime, catalogue: Catalogue, *, dry_run: bool = False
) -> LoadReport:
    """Make the database hold catalogue: upsert by code, deactivate what it leaves out."""
    report = LoadReport()
    current = await _rows(session)
    department_codes = {row.id: row.code for row in current["department"]}
    category_codes = {row.id: row.code for row in current["category"]}
    by_code: dict[Kind, dict[str, Row]] = {kind: {} for kind in KINDS}
    for kind in KINDS:
        rows = {row.code: row for row in current[kind]}
        entries = catalogue.entries(kind)
        listed = {entry.code for entry in entries}
        # What the file leaves out keeps its order, after everything the file lists.
        leftovers = [row for row in current[kind] if row.code not in listed]
        wanted: list[tuple[Entry, int]] = list(zip(entries, range(len(entries)), strict=True))
        for index, row in enumerate(leftovers):
            entry = _entry_of(kind, row, department_codes, category_codes)
            if entry.active:
                report.deactivated.append(f"{kind} {row.code}")
            entry.values["active"] = False
            wanted.append((entry, len(entries) + index))
        for entry, position in wanted:
            existing = rows.get(entry.code)
            if existing is None:
                report.added.append(f"{kind} {entry.code}")
                if not dry_run:
                    existing = _MODELS[kind](code=entry.code, position=position, updated_at=now)
                    _write(kind, existing, entry, by_code)
                    session.add(existing)
            else:
                old = _entry_of(kind, existing, department_codes, category_codes)
                differ = [name for name, value in entry.values.items() if old.values[name] != value]
                moved = existing.position != position
                label = f"{kind} {entry.code}"
                # What the file leaves out was reported above, as deactivated if it was active.
                if entry.code in listed:
                    if differ:
                        report.changed.append((label, differ))
                    elif moved:
                        report.moved.append(label)
                    else:
                        report.unchanged += 1
                if (differ or moved) and not dry_run:
                    _write(kind, existing, entry, by_code)
                    existing.position = position
                    existing.updated_at = now
            if existing is not None:
                by_code[kind][entry.code] = existing
        if not dry_run:
            await session.flush()
    return report


def _write(kind: Kind, row: Row, entry: Entry, by_code: dict[Kind, dict[str, Row]]) -> None:
    for spec in FIELDS[kind]:
        value = entry.values[spec.name]
        if spec.type == "code":
            continue
        if spec.type == "ref":
            parent: Kind = "department" if spec.name == "department" else "category"
            setattr(row, f"{spec.name}_id", by_code[parent][str(value)].id)
        elif spec.type == "lines":
            setattr(row, spec.name, "\n".join(value) if isinstance(value, tuple) else None)
        else:
            setattr(row, spec.name, value)


async def load_catalogue(
    session: AsyncSession,
    now: datetime,
    catalogue: Catalogue,
    *,
    actor: str,
    source: str,
    dry_run: bool = False,
) -> LoadReport:
    """Load a checked catalogue (from source, a file name) as an upsert by code; audited.

    With dry_run nothing is written: the report says what the load would change.
    """
    report = await _apply(session, now, catalogue, dry_run=dry_run)
    if not dry_run:
        await audit.record(
            session,
            now,
            actor=actor,
            action="service.load",
            subject=source,
            result=report.summary(),
        )
    return report


async def seed_if_empty(session: AsyncSession, now: datetime) -> LoadReport | None:
    """Load the shipped catalogue into a database that has none; None when it has one."""
    if not await is_empty(session):
        return None
    report = await _apply(session, now, shipped_catalogue())
    await audit.record(
        session,
        now,
        actor="system",
        action="service.seed",
        subject=SHIPPED.name,
        result=report.summary(),
    )
    return report


async def export_catalogue(
    session: AsyncSession, now: datetime, *, actor: str, target: str
) -> Catalogue:
    """The catalogue in the database, for writing to target (a file name); audited."""
    catalogue = await current_catalogue(session)
    await audit.record(session, now, actor=actor, action="service.export", subject=target)
    return catalogue


# --- edits ---------------------------------------------------------------------------------------


def _raw_of(entry: Entry) -> dict[str, Any]:
    """An entry as the raw table a file would hold, to be checked again after a change."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in entry.values.items()
        if value is not None
    }


def _typed(kind: Kind, name: str, text: str) -> object:
    """A value typed on the command line as the file would hold it."""
    spec = _FIELDS_BY_NAME[kind].get(name)
    if spec is None:
        return text
    if spec.type == "days":
        stripped = text.strip()
        digits = stripped.isascii() and stripped.isdigit() and len(stripped) < 10
        return int(stripped) if digits else text
    if spec.type == "flag":
        lowered = text.strip().lower()
        return {"true": True, "yes": True, "false": False, "no": False}.get(lowered, text)
    if spec.type == "lines":
        # One document per line, or separated by "|" where a line break is awkward to type.
        return [item for item in re.split(r"\n|\|", text) if item.strip()]
    return text


async def _edit(
    session: AsyncSession,
    now: datetime,
    catalogue: Catalogue,
    *,
    actor: str,
    action: str,
    subject: str,
    problems: Sequence[str] = (),
) -> LoadReport:
    problems = [*problems, *check_catalogue(catalogue)]
    if problems:
        raise CatalogueError(problems)
    report = await _apply(session, now, catalogue)
    await audit.record(
        session, now, actor=actor, action=action, subject=subject, result=report.summary()
    )
    return report


def _changed_entry(
    kind: Kind, raw: dict[str, Any], pairs: Sequence[tuple[str, str]], place: str
) -> tuple[Entry, list[str]]:
    """The entry with the typed fields changed, and its problems (unknown fields raise)."""
    problems: list[str] = []
    known = _FIELDS_BY_NAME[kind]
    for name, text in pairs:
        if name == "code":
            problems.append(
                f"{place}: a code cannot be changed (files and requests refer to it);"
                " add a new entry and deactivate this one"
            )
        elif name == "active":
            problems.append(f"{place}: use activate or deactivate to change active")
        elif name not in known:
            problems.append(f"{place}: unknown field {name!r} (a {kind} has {', '.join(known)})")
        elif text.strip():
            raw[name] = _typed(kind, name, text)
        else:
            raw.pop(name, None)
    if problems:
        raise CatalogueError(problems)
    return _entry(kind, raw, place, problems), problems


async def _find(session: AsyncSession, code: str) -> tuple[Catalogue, Entry, int]:
    catalogue = await current_catalogue(session)
    entry = catalogue.find(code)
    if entry is None:
        raise CatalogueError([f"no category, department or measure has the code {code[:50]!r}"])
    return catalogue, entry, catalogue.entries(entry.kind).index(entry)


async def set_fields(
    session: AsyncSession,
    now: datetime,
    code: str,
    pairs: Sequence[tuple[str, str]],
    *,
    actor: str,
) -> LoadReport:
    """Change fields of one entry (an empty value clears an optional one); audited."""
    catalogue, entry, index = await _find(session, code)
    changed, problems = _changed_entry(entry.kind, _raw_of(entry), pairs, entry.place)
    catalogue.entries(entry.kind)[index] = changed
    return await _edit(
        session,
        now,
        catalogue,
        actor=actor,
        action="service.set",
        subject=f"{entry.kind} {code}",
        problems=problems,
    )


async def add_entry(
    session: AsyncSession,
    now: datetime,
    kind: Kind,
    code: str,
    pairs: Sequence[tuple[str, str]],
    *,
    actor: str,
) -> LoadReport:
    """Add a category, department or measure at the end of its menu; audited."""
    catalogue = await current_catalogue(session)
    entry, problems = _changed_entry(kind, {"code": code}, pairs, f"new {kind} {code[:50]!r}")
    catalogue.entries(kind).append(entry)
    return await _edit(
        session,
        now,
        catalogue,
        actor=actor,
        action="service.add",
        subject=f"{kind} {code[:50]}",
        problems=problems,
    )


async def set_active(
    session: AsyncSession, now: datetime, code: str, active: bool, *, actor: str
) -> LoadReport:
    """Offer an entry again, or stop offering it (a department's or category's measures with
    it); nothing is deleted. Audited."""
    catalogue, entry, _ = await _find(session, code)
    entry.values["active"] = active
    if not active and entry.kind != "measure":
        for measure in catalogue.measures:
            if measure.values[entry.kind] == code:
                measure.values["active"] = False
    report = await _edit(
        session,
        now,
        catalogue,
        actor=actor,
        action="service.activate" if active else "service.deactivate",
        subject=f"{entry.kind} {code}",
    )
    if not active:
        # _apply reports deactivation of what a file leaves out; an edit's shows as a change.
        report.deactivated = [label for label, fields in report.changed if "active" in fields]
        report.changed = [(label, f) for label, f in report.changed if "active" not in f]
    return report


# --- what /guide and /request read ------------------------------------------------------------


def localized(row: object, field: str, locale: str) -> str | None:
    """row.<field>_en for English readers, row.<field>_zh otherwise (falling back to it)."""
    chinese: str | None = getattr(row, f"{field}_zh")
    if locale.startswith("en"):
        english: str | None = getattr(row, f"{field}_en")
        return english or chinese
    return chinese


async def categories(
    session: AsyncSession, *, include_inactive: bool = False
) -> Sequence[ServiceCategory]:
    """Every category of need that is offered, in menu order."""
    query = select(ServiceCategory)
    if not include_inactive:
        query = query.where(ServiceCategory.active.is_(True))
    rows = await session.scalars(query.order_by(ServiceCategory.position, ServiceCategory.id))
    return rows.all()


async def departments(
    session: AsyncSession, *, include_inactive: bool = False
) -> Sequence[ServiceDepartment]:
    """Every department in the guide, in guide order."""
    query = select(ServiceDepartment)
    if not include_inactive:
        query = query.where(ServiceDepartment.active.is_(True))
    rows = await session.scalars(query.order_by(ServiceDepartment.position, ServiceDepartment.id))
    return rows.all()


async def measures(
    session: AsyncSession,
    *,
    category_id: int | None = None,
    department_id: int | None = None,
    include_inactive: bool = False,
) -> Sequence[ServiceMeasure]:
    """The measures of a category or a department (or all), with both loaded, in order."""
    query = select(ServiceMeasure).options(
        joinedload(ServiceMeasure.department), joinedload(ServiceMeasure.category)
    )
    if category_id is not None:
        query = query.where(ServiceMeasure.category_id == category_id)
    if department_id is not None:
        query = query.where(ServiceMeasure.department_id == department_id)
    if not include_inactive:
        query = query.where(ServiceMeasure.active.is_(True))
    rows = await session.scalars(query.order_by(ServiceMeasure.position, ServiceMeasure.id))
    return rows.all()


async def measure(session: AsyncSession, measure_id: int) -> ServiceMeasure | None:
    """One measure with its department and category, or None."""
    return await session.scalar(
        select(ServiceMeasure)
        .options(joinedload(ServiceMeasure.department), joinedload(ServiceMeasure.category))
        .where(ServiceMeasure.id == measure_id)
    )


async def department_with_measures(
    session: AsyncSession, department_id: int
) -> tuple[ServiceDepartment, Sequence[ServiceMeasure]] | None:
    """An offered department and its offered measures; None if it is gone or inactive."""
    row = await session.get(ServiceDepartment, department_id)
    if row is None or not row.active:
        return None
    return row, await measures(session, department_id=department_id)


async def category_with_measures(
    session: AsyncSession, category_id: int
) -> tuple[ServiceCategory, Sequence[ServiceMeasure]] | None:
    """An offered category and its offered measures; None if it is gone or inactive."""
    row = await session.get(ServiceCategory, category_id)
    if row is None or not row.active:
        return None
    return row, await measures(session, category_id=category_id)


async def offered_measure(session: AsyncSession, measure_id: int) -> ServiceMeasure | None:
    """A measure the guide may show: active, with its department and category loaded."""
    row = await measure(session, measure_id)
    return row if row is not None and row.active else None
