"""`liaison member data PHONE --out FILE.json`: a member's data for a written request (PIPL
Art. 45), the same whole that /mydata sends the member, audited as the operator's copy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from bot.cli.common import cli_actor, echo, fail, run_with_db, settings_of
from storage import members
from storage.clock import SystemClock
from storage.db import Database
from storage.mydata import MemberData, as_json, member_data
from storage.phones import InvalidPhone, mask_phone, normalize_phone


@click.command("data")
@click.argument("phone")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The JSON file to write (readable by its owner only).",
)
@click.pass_context
def member_data_command(ctx: click.Context, phone: str, out: Path) -> None:
    """Write everything stored about a member to a JSON file (audited)."""
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone as error:
        fail(f"invalid phone {phone!r}: {error}")
    if not out.parent.is_dir():
        fail(f"no such directory: {out.parent}")

    async def gather(database: Database) -> MemberData:
        async with database.session() as session:
            row = await members.member_by_phone(session, e164)
            if row is None:
                fail(f"no member with phone {mask_phone(e164)}")
            data = await member_data(
                session, SystemClock().now(), row.id, actor=cli_actor(), form="json"
            )
            assert data is not None
            return data

    data = run_with_db(settings_of(ctx), gather)
    text = json.dumps(as_json(data), ensure_ascii=False, indent=2)
    # Personal data: the file is its owner's alone from the moment it exists.
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    echo(
        f"wrote the data of {data.registration.name} ({mask_phone(e164)}) to {out}: "
        f"{len(data.checkins)} check-ins, {len(data.requests)} requests, "
        f"{len(data.certificates)} certificates, {len(data.ideas)} ideas, "
        f"{len(data.staff_views)} staff views in the last 12 months"
    )
