"""`liaison partner …` (the partner organisations of the two-way management agreements)
and `liaison report letters` (the half-yearly letter to each of them).

Registered in bot/cli/__init__.py (`letters` joins the `report` group of bot/cli/police.py
there). Bad input (a region the index cannot place, a half like 2026H3, a duplicate name,
a phone that is no phone) is refused before anything is written. The letters name members
and what they did: each one drawn is audited as an export and recorded with its PDF's
digest; marking one sent is recorded and audited too.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import (
    RECORD_ID,
    cli_actor,
    echo,
    fail,
    local_time,
    locale_option,
    run_with_db,
    settings_of,
)
from messages.letters import (
    LetterError,
    letter_pdf,
    partner_letter_filename,
    partner_letter_html,
    pdf_digest,
)
from messages.render import Renderer
from storage.clock import SystemClock
from storage.db import Database
from storage.models import LetterMeans, PartnerSide
from storage.partners import (
    LetterData,
    LetterState,
    PartnerError,
    PartnerList,
    PartnerView,
    Unmatched,
    add_partner,
    assign_member,
    check_half,
    edit_partner,
    get_partner,
    half_of,
    letter_data,
    letter_state,
    list_partners,
    mark_sent,
    memberships,
    record_letter,
    remove_partner,
)
from storage.phones import mask_phone
from storage.regions import default_index
from storage.settings import Settings

HALF_OPTION = click.option(
    "--half", default=None, help="The half year, like 2026H2 (default: the current one)."
)
SIDES = click.Choice([side.value for side in PartnerSide])


def _half(settings: Settings, half: str | None) -> str:
    try:
        return check_half(half or half_of(SystemClock().now(), settings.zone))
    except PartnerError as error:
        fail(f"--half: {error}")


def _state(letter: LetterState | None, settings: Settings) -> str:
    if letter is None:
        return "not drawn"
    if letter.sent_at is None:
        return f"drawn {local_time(letter.generated_at, settings)}, not sent"
    how = letter.sent_how.value if letter.sent_how else "-"
    redrawn = ", drawn again since" if letter.sent_digest != letter.digest else ""
    return f"sent {local_time(letter.sent_at, settings)} by {how}{redrawn}"


def _print_unmatched(unmatched: list[Unmatched]) -> None:
    if not unmatched:
        return
    echo(f"\n== {len(unmatched)} mobile member(s) with no partner (fix: partner add / assign)")
    for row in unmatched:
        placed = row.resolved or "not a place the region index knows"
        echo(
            f"member {row.member_id}\t{row.name}\t{row.status.value}\t{row.place or '-'}\t{placed}"
        )


def _card(view: PartnerView) -> list[str]:
    return [
        f"partner {view.id}: {view.name}",
        f"region: {view.region} ({view.adcode})",
        f"side: {view.side.value}",
        f"unit: {view.unit or '-'}",
        f"address: {view.address or '-'}",
        f"contact: {view.contact_person or '-'} {view.contact_phone or ''}".rstrip(),
        f"note: {view.note or '-'}",
    ]


@click.group()
def partner() -> None:
    """Partner organisations (双联双管) and the letters sent to them."""


@partner.command("add")
@click.argument("name")
@click.option("--region", required=True, help="The place it covers: 河南省周口市沈丘县 or adcode.")
@click.option("--side", type=SIDES, required=True, help="origin: inflow members come from it.")
@click.option("--address", default=None)
@click.option("--contact", "contact_person", default=None, help="The contact person.")
@click.option("--phone", "contact_phone", default=None, help="The contact's phone.")
@click.option("--unit", default=None, help="Our street that holds the agreement.")
@click.option("--note", default=None)
@click.pass_context
def partner_add(
    ctx: click.Context,
    name: str,
    region: str,
    side: str,
    address: str | None,
    contact_person: str | None,
    contact_phone: str | None,
    unit: str | None,
    note: str | None,
) -> None:
    """Add a partner organisation (audited)."""

    async def add(database: Database) -> PartnerView:
        try:
            async with database.session() as session:
                return await add_partner(
                    session,
                    SystemClock().now(),
                    index=default_index(),
                    name=name,
                    region=region,
                    side=side,
                    address=address,
                    contact_person=contact_person,
                    contact_phone=contact_phone,
                    unit=unit,
                    note=note,
                    actor=cli_actor(),
                )
        except PartnerError as error:
            fail(str(error))

    view = run_with_db(settings_of(ctx), add)
    echo(f"partner {view.id}: {view.name} ({view.side.value}, {view.region})")


@partner.command("list")
@HALF_OPTION
@click.option("--unit", default=None, help="Only the partners of this street.")
@click.pass_context
def partner_list(ctx: click.Context, half: str | None, unit: str | None) -> None:
    """The partners, their member counts and the half's letter; members with no partner."""
    settings = settings_of(ctx)
    chosen = _half(settings, half)

    async def gather(database: Database) -> PartnerList:
        try:
            async with database.session() as session:
                return await list_partners(
                    session,
                    SystemClock().now(),
                    chosen,
                    index=default_index(),
                    unit=unit,
                    actor=cli_actor(),
                )
        except PartnerError as error:
            fail(str(error))

    found = run_with_db(settings, gather)
    if not found.partners:
        echo("no partner organisations yet (liaison partner add)")
    for line in found.partners:
        view = line.partner
        phone = mask_phone(view.contact_phone) if view.contact_phone else "-"
        by_hand = f" ({line.assigned} by hand)" if line.assigned else ""
        echo(
            f"{view.id}\t{view.name}\t{view.side.value}\t{view.region}\t{view.unit or '-'}\t"
            f"{phone}\t{line.members} member(s){by_hand}\t"
            f"{found.half}: {_state(line.letter, settings)}"
        )
    _print_unmatched(found.unmatched)


@partner.command("show")
@click.argument("partner_id", type=RECORD_ID)
@HALF_OPTION
@click.pass_context
def partner_show(ctx: click.Context, partner_id: int, half: str | None) -> None:
    """One partner's record and the half's letter."""
    settings = settings_of(ctx)
    chosen = _half(settings, half)

    async def gather(database: Database) -> tuple[PartnerView, LetterState | None]:
        async with database.session() as session:
            view = await get_partner(session, partner_id, default_index())
            if view is None:
                fail(f"no partner {partner_id}")
            return view, await letter_state(session, partner_id, chosen)

    view, letter = run_with_db(settings, gather)
    for line in _card(view):
        echo(line)
    echo(f"{chosen}: {_state(letter, settings)}")
    if letter is not None and letter.note:
        echo(f"sending note: {letter.note}")


@partner.command("edit")
@click.argument("partner_id", type=RECORD_ID)
@click.option("--name", default=None)
@click.option("--region", default=None)
@click.option("--side", type=SIDES, default=None)
@click.option("--address", default=None, help="An empty value clears it.")
@click.option("--contact", "contact_person", default=None, help="An empty value clears it.")
@click.option("--phone", "contact_phone", default=None, help="An empty value clears it.")
@click.option("--unit", default=None, help="An empty value: the whole organisation's.")
@click.option("--note", default=None, help="An empty value clears it.")
@click.pass_context
def partner_edit(
    ctx: click.Context,
    partner_id: int,
    name: str | None,
    region: str | None,
    side: str | None,
    address: str | None,
    contact_person: str | None,
    contact_phone: str | None,
    unit: str | None,
    note: str | None,
) -> None:
    """Change a partner's fields (audited)."""
    given = {
        "name": name,
        "region": region,
        "side": side,
        "address": address,
        "contact_person": contact_person,
        "contact_phone": contact_phone,
        "unit": unit,
        "note": note,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if not changes:
        fail("nothing to change: give at least one option")

    async def edit(database: Database) -> PartnerView:
        try:
            async with database.session() as session:
                return await edit_partner(
                    session,
                    SystemClock().now(),
                    partner_id,
                    changes,
                    index=default_index(),
                    actor=cli_actor(),
                )
        except PartnerError as error:
            fail(str(error))

    view = run_with_db(settings_of(ctx), edit)
    for line in _card(view):
        echo(line)


@partner.command("remove")
@click.argument("partner_id", type=RECORD_ID)
@click.pass_context
def partner_remove(ctx: click.Context, partner_id: int) -> None:
    """Remove a partner, its assignments and its letter records (audited)."""

    async def remove(database: Database) -> str:
        try:
            async with database.session() as session:
                return await remove_partner(
                    session, SystemClock().now(), partner_id, actor=cli_actor()
                )
        except PartnerError as error:
            fail(str(error))

    echo(f"removed partner {partner_id}: {run_with_db(settings_of(ctx), remove)}")


@partner.command("assign")
@click.argument("member_id", type=RECORD_ID)
@click.argument("partner_id", type=RECORD_ID, required=False)
@click.option("--clear", is_flag=True, help="Back to matching the member by their place.")
@click.pass_context
def partner_assign(ctx: click.Context, member_id: int, partner_id: int | None, clear: bool) -> None:
    """Put a member with a partner whatever their place says (or --clear it)."""
    if (partner_id is None) != clear:
        fail("give a PARTNER_ID, or --clear")

    async def assign(database: Database) -> tuple[str, str | None]:
        try:
            async with database.session() as session:
                return await assign_member(
                    session, SystemClock().now(), member_id, partner_id, actor=cli_actor()
                )
        except PartnerError as error:
            fail(str(error))

    name, partner_name = run_with_db(settings_of(ctx), assign)
    if partner_name is None:
        echo(f"{name}: matched by place again")
    else:
        echo(f"{name}: with {partner_name} (by hand)")


@partner.command("sent")
@click.argument("partner_id", type=RECORD_ID)
@click.option("--half", required=True, help="The letter's half year, like 2026H2.")
@click.option("--by", "how", type=click.Choice([m.value for m in LetterMeans]), required=True)
@click.option("--note", default=None, help="Registered post number, who received it …")
@click.pass_context
def partner_sent(
    ctx: click.Context, partner_id: int, half: str, how: str, note: str | None
) -> None:
    """Record that the half's letter went to the partner (audited)."""
    settings = settings_of(ctx)
    chosen = _half(settings, half)

    async def record(database: Database) -> LetterState:
        try:
            async with database.session() as session:
                return await mark_sent(
                    session,
                    SystemClock().now(),
                    partner_id,
                    chosen,
                    how=how,
                    note=note,
                    actor=cli_actor(),
                    index=default_index(),
                )
        except PartnerError as error:
            fail(str(error))

    state = run_with_db(settings, record)
    echo(f"partner {partner_id}, {chosen}: {_state(state, settings)}")


@click.command("letters")
@HALF_OPTION
@click.option("--partner", "partner_id", type=RECORD_ID, default=None, help="Only this one.")
@click.option("--unit", default=None, help="Only the partners of this street.")
@locale_option("The letters'")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(),
    show_default=True,
    help="The directory to write into.",
)
@click.pass_context
def report_letters(
    ctx: click.Context,
    half: str | None,
    partner_id: int | None,
    unit: str | None,
    locale: str | None,
    out: Path,
) -> None:
    """Write the half-yearly letter to each partner (partner-ID-HALF.html and .pdf), record
    each (audited: they name members) and list the members no partner has."""
    settings = settings_of(ctx)
    chosen = _half(settings, half)
    index = default_index()

    async def gather(database: Database) -> tuple[list[LetterData], list[Unmatched]]:
        now = SystemClock().now()
        try:
            async with database.session() as session:
                listed = await list_partners(
                    session, now, chosen, index=index, unit=unit, actor=cli_actor()
                )
                ids = [line.partner.id for line in listed.partners]
                if partner_id is not None:
                    if partner_id not in ids:
                        fail(f"no partner {partner_id}" + (f" of unit {unit!r}" if unit else ""))
                    ids = [partner_id]
                # Every mobile member placed once for all the letters.
                placed = await memberships(session, index)
                letters = []
                for each in ids:
                    found = await letter_data(
                        session,
                        now,
                        each,
                        chosen,
                        index=index,
                        zone=settings.zone,
                        issuer=settings.certificate_issuer or settings.organisation_name,
                        actor=cli_actor(),
                        membership=placed,
                    )
                    assert found is not None  # listed a moment ago, in this transaction
                    letters.append(found)
                return letters, listed.unmatched
        except PartnerError as error:
            fail(str(error))

    letters, unmatched = run_with_db(settings, gather)
    if not letters:
        echo("no partner organisations to write to (liaison partner add)")
    out.mkdir(parents=True, exist_ok=True)
    renderer = Renderer()
    drawn: list[tuple[int, str]] = []
    for letter in letters:
        html = partner_letter_html(renderer, locale or settings.locale, letter)
        try:
            pdf = letter_pdf(html)
        except LetterError as error:
            fail(f"partner {letter.partner.id}: {error}")
        html_path = out / partner_letter_filename(letter, "html")
        pdf_path = out / partner_letter_filename(letter, "pdf")
        try:
            html_path.write_text(html, encoding="utf-8")
            pdf_path.write_bytes(pdf)
        except OSError as error:
            fail(f"cannot write into {out}: {error.strerror or error}")
        drawn.append((letter.partner.id, pdf_digest(pdf)))
        echo(f"{pdf_path}\t{letter.partner.name}\t{len(letter.members)} member(s)")

    async def record(database: Database) -> None:
        now = SystemClock().now()
        async with database.session() as session:
            for each, digest in drawn:
                await record_letter(session, now, each, chosen, digest=digest, actor=cli_actor())

    if drawn:
        run_with_db(settings, record)
    _print_unmatched(unmatched)
