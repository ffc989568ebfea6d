"""`liaison certificate …`: activity certificate applications, their steps and letters.

Registered in bot/cli/__init__.py; the shared helpers come from bot/cli/common.py.
Lists and cards show phone numbers masked; every view, step and letter is audited.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import RECORD_ID, cli_actor, echo, fail, local_time, run_with_db, settings_of
from messages.letters import LetterError, letter_filename, letter_html, letter_pdf
from messages.render import Renderer
from storage import audit
from storage.certificates import (
    STAFF_STEPS,
    CertificateError,
    CertificateLine,
    CertificateView,
    LetterData,
    advance,
    letter_data,
    list_certificates,
    view_certificate,
)
from storage.clock import SystemClock
from storage.db import Database
from storage.models import CertificateStatus
from storage.settings import LOCALES, Settings


def _line(*fields: object) -> str:
    """One tab-separated row; fields that could hold a tab or newline are flattened."""
    return "\t".join(" ".join(str(f).split()) if f not in (None, "") else "-" for f in fields)


@click.group()
def certificate() -> None:
    """Activity certificates: applications, their workflow and the letter to the origin."""


@certificate.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in CertificateStatus]),
    help="Only these statuses (repeatable).",
)
@click.pass_context
def certificate_list(ctx: click.Context, statuses: tuple[str, ...]) -> None:
    """Applications, oldest first: id, applied, status, member, phone, kind, origin,
    destination, number, review due."""
    settings = settings_of(ctx)

    async def listing(database: Database) -> list[CertificateLine]:
        async with database.session() as session:
            rows = await list_certificates(
                session,
                staff_id=None,
                statuses=[CertificateStatus(s) for s in statuses] or None,
                limit=10_000,
            )
            await audit.record(
                session,
                SystemClock().now(),
                actor=cli_actor(),
                action="certificate.list.view",
                statuses=list(statuses),
                shown=len(rows),
            )
            return rows

    for row in run_with_db(settings, listing):
        echo(
            _line(
                row.id,
                local_time(row.created_at, settings),
                row.status.value,
                row.member_name,
                row.phone_masked,
                "reverse" if row.reverse else "normal",
                row.origin_organisation,
                row.destination,
                row.number,
                row.review_due_on,
            )
        )


def _card(view: CertificateView, settings: Settings) -> list[str]:
    lines = [
        f"certificate {view.id}: {view.status.value}"
        + (" (reverse issuance)" if view.reverse else ""),
        f"member: {view.member_name} ({view.member_status.value}), {view.phone_masked or '-'}",
        f"home unit: {view.home_unit or '-'}",
        f"origin organisation: {view.origin_organisation}",
        f"destination: {view.destination}",
        f"reason: {' '.join(view.reason.split())}",
        f"expected months: {view.expected_months}",
        f"number: {view.number or '-'}",
        f"review due: {view.review_due_on or '-'}",
        f"next step: {view.next_step or '-'}",
        "history:",
    ]
    lines += [_line(local_time(e.at, settings), e.step, e.actor_name, e.note) for e in view.events]
    return lines


@certificate.command("show")
@click.argument("certificate_id", type=RECORD_ID)
@click.pass_context
def certificate_show(ctx: click.Context, certificate_id: int) -> None:
    """One application with its member and history."""
    settings = settings_of(ctx)

    async def show(database: Database) -> CertificateView:
        async with database.session() as session:
            view = await view_certificate(
                session, SystemClock().now(), certificate_id, staff_id=None, actor=cli_actor()
            )
            if view is None:
                fail(f"no certificate {certificate_id}")
            return view

    for line in _card(run_with_db(settings, show), settings):
        echo(line)


@certificate.command("advance")
@click.argument("certificate_id", type=RECORD_ID)
@click.argument("step", type=click.Choice(STAFF_STEPS))
@click.option(
    "--note", default=None, help="A note; the reason when rejecting (told to the member)."
)
@click.pass_context
def certificate_advance(
    ctx: click.Context, certificate_id: int, step: str, note: str | None
) -> None:
    """Take the next step: checked, sent, verified, issued; or rejected, reviewed."""
    settings = settings_of(ctx)

    async def take(database: Database) -> CertificateView:
        try:
            async with database.session() as session:
                return await advance(
                    session,
                    SystemClock().now(),
                    certificate_id,
                    step,
                    actor=cli_actor(),
                    actor_name=None,
                    staff_id=None,
                    zone=settings.zone,
                    review_months=settings.certificate_review_months,
                    note=note,
                )
        except CertificateError as error:
            fail(str(error))

    view = run_with_db(settings, take)
    extra = ""
    if view.number:
        extra = f", number {view.number}, review due {view.review_due_on}"
    echo(f"certificate {view.id}: {view.status.value}{extra}")


@certificate.command("letter")
@click.argument("certificate_id", type=RECORD_ID)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(),
    show_default=True,
    help="The directory to write into.",
)
@click.option(
    "--format",
    "form",
    type=click.Choice(["html", "pdf", "both"]),
    default="both",
    show_default=True,
)
@click.option(
    "--locale",
    type=click.Choice(list(LOCALES)),
    default=None,
    help="The letter's language (default LIAISON_LOCALE).",
)
@click.pass_context
def certificate_letter(
    ctx: click.Context, certificate_id: int, out: Path, form: str, locale: str | None
) -> None:
    """Write the letter (函) to the member's origin organisation; prints each file's path."""
    settings = settings_of(ctx)

    async def gather(database: Database) -> LetterData:
        try:
            async with database.session() as session:
                return await letter_data(
                    session,
                    SystemClock().now(),
                    certificate_id,
                    staff_id=None,
                    actor=cli_actor(),
                    issuer=settings.certificate_issuer,
                    organisation=settings.organisation_name,
                    zone=settings.zone,
                    form=form,
                )
        except CertificateError as error:
            fail(str(error))

    letter = run_with_db(settings, gather)
    html = letter_html(Renderer(), locale or settings.locale, letter)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if form in ("html", "both"):
        path = out / letter_filename(letter, "html")
        path.write_text(html, encoding="utf-8")
        written.append(path)
    if form in ("pdf", "both"):
        try:
            pdf = letter_pdf(html)
        except LetterError as error:
            fail(str(error))
        path = out / letter_filename(letter, "pdf")
        path.write_bytes(pdf)
        written.append(path)
    for path in written:
        echo(str(path))
