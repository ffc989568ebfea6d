"""Invite codes and consent at the storage level: what is stored, how codes are read."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import audit
from storage.clock import FakeClock
from storage.consent import ConsentError, consent_status, set_consent
from storage.db import Database
from storage.invite_key import KEY_FILE, load_invite_key
from storage.invites import (
    ALPHABET,
    InviteError,
    Outcome,
    Redemption,
    UnknownMember,
    create_invite,
    format_code,
    generate_code,
    locked_until,
    normalize_code,
    redeem,
)
from storage.models import CodeScheme, Consent, Invite, InviteGuard, Member, Platform
from storage.settings import ConfigError, Settings, load_settings
from tests.conftest import INVITE_KEY
from tests.factories import make_member

KEY = INVITE_KEY
MAX_FAILURES = 5
LOCKOUT = timedelta(hours=1)
ACCOUNT = 7001
# Telegram's rule for a deep-link start parameter.
DEEP_LINK_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")


async def _invite(
    db: Database, clock: FakeClock, member: Member, days: int = 14, key: bytes = INVITE_KEY
) -> str:
    async with db.session() as session:
        code, _ = await create_invite(
            session,
            clock.now(),
            member_id=member.id,
            created_by="cli:test",
            valid_days=days,
            key=key,
        )
    return code


async def _redeem(
    db: Database, clock: FakeClock, code: str, account: int = ACCOUNT, key: bytes = INVITE_KEY
) -> Redemption:
    async with db.session() as session:
        return await redeem(
            session,
            clock.now(),
            user_id=account,
            code=code,
            max_failures=MAX_FAILURES,
            lockout=LOCKOUT,
            key=key,
        )


def test_codes_are_short_unambiguous_and_work_as_deep_links() -> None:
    codes = {generate_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == 8
        assert set(code) <= set(ALPHABET)
        assert DEEP_LINK_PARAMETER.fullmatch(code)
    assert not set("0O1IL") & set(ALPHABET)
    assert format_code("ABCDEFGH") == "ABCD-EFGH"


@pytest.mark.parametrize(
    "typed",
    [
        "ABCDEFGH",
        "abcdefgh",
        "abcd-efgh",
        "  AbCd EfGh ",
        "ABCD–EFGH",  # en dash from an input method
        "ABCDEFGH\n",  # pasted with the line end
        "ＡＢＣＤ－ＥＦＧＨ",  # full-width, as a Chinese keyboard types it
        "AB CD-EF GH",
    ],
)
def test_a_typed_code_is_read_whatever_its_case_spaces_and_dashes(typed: str) -> None:
    assert normalize_code(typed) == "ABCDEFGH"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "ABCDEFG",
        "ABCDEFGHJ",
        "ABCDEFG0",
        "ABCDEFGO",
        "ABCDEFGI",
        "ABCDEFGL",
        "ABCDEFG1",
        "<b>ABCDEFGH</b>",
        "ABCD " * 20,
        "长" * 5000,
        "邀请码ABCDEFGH",
    ],
)
def test_anything_else_is_not_a_code(typed: str) -> None:
    assert normalize_code(typed) is None


async def test_only_the_hash_of_a_code_is_stored_and_creating_is_audited(
    db: Database, clock: FakeClock
) -> None:
    member = await make_member(db, clock.now())
    async with db.session() as session:
        code, invite = await create_invite(
            session,
            clock.now(),
            phone="138 0013 8000",
            created_by="cli:alice",
            valid_days=14,
            key=INVITE_KEY,
        )
    assert invite.member_id == member.id
    # Not the plain SHA-256 a copy of the database could be searched for by trying all codes.
    assert invite.code_hash != hashlib.sha256(code.encode()).hexdigest()
    assert invite.code_hash == hmac.new(INVITE_KEY, code.encode(), hashlib.sha256).hexdigest()
    assert invite.code_scheme is CodeScheme.HMAC_SHA256
    assert invite.expires_at == clock.now() + timedelta(days=14)
    async with db.session() as session:
        row = await session.scalar(select(Invite))
        events = await audit.recent(session)
    assert row is not None
    stored = [str(getattr(row, column.key)) for column in Invite.__table__.columns]
    assert not any(code in value for value in stored)
    assert [(e.action, e.actor, e.subject) for e in events] == [
        ("invite.create", "cli:alice", f"member:{member.id}")
    ]
    assert code not in str(events[0].detail)


async def test_creating_an_invite_needs_a_known_member(db: Database, clock: FakeClock) -> None:
    async with db.session() as session:
        with pytest.raises(UnknownMember, match=r"no member with phone \+8613900139000"):
            await create_invite(
                session,
                clock.now(),
                phone="13900139000",
                created_by="cli:a",
                valid_days=14,
                key=KEY,
            )
        with pytest.raises(InviteError, match="invalid phone"):
            await create_invite(
                session, clock.now(), phone="12345", created_by="cli:a", valid_days=14, key=KEY
            )
        with pytest.raises(UnknownMember):
            await create_invite(
                session, clock.now(), member_id=999, created_by="cli:a", valid_days=14, key=KEY
            )
        with pytest.raises(InviteError, match="either"):
            await create_invite(session, clock.now(), created_by="cli:a", valid_days=14, key=KEY)


async def test_a_typed_code_binds_the_account(db: Database, clock: FakeClock) -> None:
    member = await make_member(db, clock.now())
    code = await _invite(db, clock, member)
    clock.advance(timedelta(days=2))

    result = await _redeem(db, clock, f" {code[:4].lower()}-{code[4:].lower()} ")

    assert result.outcome is Outcome.BOUND
    assert (result.member_id, result.member_name) == (member.id, "张伟")
    assert result.consent is Consent.PENDING
    async with db.session() as session:
        bound = await session.get(Member, member.id)
        invite = await session.scalar(select(Invite))
        actions = [e.action for e in await audit.recent(session)]
    assert bound is not None and invite is not None
    assert (bound.telegram_user_id, bound.bound_at) == (ACCOUNT, clock.now())
    assert (invite.used_at, invite.used_by_telegram_id) == (clock.now(), ACCOUNT)
    assert actions[0] == "invite.redeem"


async def test_a_code_works_only_with_the_key_it_was_made_with(
    db: Database, clock: FakeClock
) -> None:
    member = await make_member(db, clock.now())
    code = await _invite(db, clock, member)

    # A service with another key (a lost key file, another LIAISON_INVITE_SECRET) does not
    # know the code: to it, it is a wrong code, counted towards the lock like any other.
    other = await _redeem(db, clock, code, key=b"another service's key")
    assert (other.outcome, other.attempts_left) == (Outcome.WRONG_CODE, MAX_FAILURES - 1)
    assert (await _redeem(db, clock, code)).outcome is Outcome.BOUND


async def test_an_invite_made_before_the_hmac_binds_once(db: Database, clock: FakeClock) -> None:
    """Codes handed out before the upgrade stored a plain SHA-256: they keep working."""
    member = await make_member(db, clock.now())
    code = "ABCDEFGH"
    async with db.session() as session:
        session.add(
            Invite(
                member_id=member.id,
                code_hash=hashlib.sha256(code.encode()).hexdigest(),
                code_scheme=CodeScheme.SHA256,
                created_at=clock.now(),
                expires_at=clock.now() + timedelta(days=14),
                created_by="cli:before",
            )
        )

    assert (await _redeem(db, clock, "abcd-efgh")).outcome is Outcome.BOUND
    assert (await _redeem(db, clock, code, account=ACCOUNT + 1)).outcome is Outcome.USED
    async with db.session() as session:
        bound = await session.get(Member, member.id)
    assert bound is not None and bound.telegram_user_id == ACCOUNT


async def test_a_plain_sha256_is_no_code_under_the_hmac(db: Database, clock: FakeClock) -> None:
    """An HMAC row is matched by its HMAC only: knowing a stored value is not knowing a code."""
    member = await make_member(db, clock.now())
    code = "ABCDEFGH"
    async with db.session() as session:
        session.add(
            Invite(
                member_id=member.id,
                code_hash=hashlib.sha256(code.encode()).hexdigest(),
                code_scheme=CodeScheme.HMAC_SHA256,
                created_at=clock.now(),
                expires_at=clock.now() + timedelta(days=14),
                created_by="cli:test",
            )
        )
    assert (await _redeem(db, clock, code)).outcome is Outcome.WRONG_CODE


async def test_a_new_invite_replaces_the_members_unused_one(db: Database, clock: FakeClock) -> None:
    member = await make_member(db, clock.now())
    first = await _invite(db, clock, member)
    second = await _invite(db, clock, member)

    assert (await _redeem(db, clock, first)).outcome is Outcome.EXPIRED
    assert (await _redeem(db, clock, second)).outcome is Outcome.BOUND


async def test_wrong_codes_lock_the_account_and_a_success_clears_the_count(
    db: Database, clock: FakeClock
) -> None:
    member = await make_member(db, clock.now())
    code = await _invite(db, clock, member)
    wrong = "ABCDEFGH" if code != "ABCDEFGH" else "HGFEDCBA"

    # Typos that cannot be codes are not held against anyone.
    assert (await _redeem(db, clock, "hello")).outcome is Outcome.NOT_A_CODE
    lefts = [(await _redeem(db, clock, wrong)).attempts_left for _ in range(4)]
    assert lefts == [4, 3, 2, 1]
    fifth = await _redeem(db, clock, wrong)
    assert fifth.outcome is Outcome.LOCKED
    assert fifth.locked_until == clock.now() + timedelta(hours=1)
    # While locked the code is not even looked at.
    assert (await _redeem(db, clock, code)).outcome is Outcome.LOCKED
    async with db.session() as session:
        assert await locked_until(session, clock.now(), ACCOUNT) == fifth.locked_until
        assert "invite.lockout" in [e.action for e in await audit.recent(session)]

    clock.advance(timedelta(hours=1))
    async with db.session() as session:
        assert await locked_until(session, clock.now(), ACCOUNT) is None
    assert (await _redeem(db, clock, wrong)).attempts_left == 4
    assert (await _redeem(db, clock, code)).outcome is Outcome.BOUND
    async with db.session() as session:
        guard = await session.get(InviteGuard, (Platform.TELEGRAM, ACCOUNT))
    assert guard is not None and (guard.failures, guard.locked_until) == (0, None)


async def test_other_accounts_have_their_own_count(db: Database, clock: FakeClock) -> None:
    member = await make_member(db, clock.now())
    code = await _invite(db, clock, member)
    for _ in range(5):
        await _redeem(db, clock, "ABCDEFGH" if code != "ABCDEFGH" else "HGFEDCBA")
    assert (await _redeem(db, clock, code, account=ACCOUNT + 1)).outcome is Outcome.BOUND


async def test_a_code_is_used_once_and_expires(db: Database, clock: FakeClock) -> None:
    first = await make_member(db, clock.now())
    second = await make_member(db, clock.now(), name="王芳", phone="+8613900139000")
    code = await _invite(db, clock, first)
    late = await _invite(db, clock, second)

    assert (await _redeem(db, clock, code)).outcome is Outcome.BOUND
    # The same person following the same link again is simply still bound.
    assert (await _redeem(db, clock, code)).outcome is Outcome.BOUND
    assert (await _redeem(db, clock, code, account=ACCOUNT + 1)).outcome is Outcome.USED
    clock.advance(timedelta(days=14))
    assert (await _redeem(db, clock, late, account=ACCOUNT + 2)).outcome is Outcome.EXPIRED


async def test_one_account_binds_one_member(db: Database, clock: FakeClock) -> None:
    await make_member(db, clock.now(), telegram_user_id=ACCOUNT)
    other = await make_member(db, clock.now(), name="王芳", phone="+8613900139000")
    code = await _invite(db, clock, other)

    result = await _redeem(db, clock, code)

    assert (result.outcome, result.member_name) == (Outcome.ALREADY_BOUND, "张伟")
    async with db.session() as session:
        still = await session.get(Member, other.id)
        invite = await session.scalar(select(Invite))
    assert still is not None and still.telegram_user_id is None
    assert invite is not None and invite.used_at is None


async def test_a_new_account_takes_over_the_member(db: Database, clock: FakeClock) -> None:
    member = await make_member(
        db, clock.now(), telegram_user_id=ACCOUNT, consent=Consent.GIVEN, locale="en"
    )
    code = await _invite(db, clock, member)

    result = await _redeem(db, clock, code, account=ACCOUNT + 1)

    assert (result.outcome, result.took_over, result.consent) == (
        Outcome.BOUND,
        True,
        Consent.GIVEN,
    )
    async with db.session() as session:
        moved = await session.get(Member, member.id)
        events = await audit.recent(session)
    assert moved is not None and moved.telegram_user_id == ACCOUNT + 1
    assert moved.locale == "en"
    rebind = next(e for e in events if e.action == "member.rebind")
    assert rebind.detail == {
        "platform": "telegram",
        "previous_user_id": ACCOUNT,
        "user_id": ACCOUNT + 1,
    }


async def test_the_language_chosen_before_binding_is_kept(db: Database, clock: FakeClock) -> None:
    member = await make_member(db, clock.now())
    code = await _invite(db, clock, member)
    async with db.session() as session:
        await redeem(
            session,
            clock.now(),
            user_id=ACCOUNT,
            code=code,
            locale="en",
            max_failures=MAX_FAILURES,
            lockout=LOCKOUT,
            key=INVITE_KEY,
        )
        bound = await session.get(Member, member.id)
    assert bound is not None and bound.locale == "en"


async def test_consent_changes_are_recorded_and_audited(db: Database, clock: FakeClock) -> None:
    member = await make_member(db, clock.now())
    async with db.session() as session:
        given = await set_consent(session, clock.now(), member.id, Consent.GIVEN)
    clock.advance(timedelta(days=30))
    async with db.session() as session:
        await set_consent(session, clock.now(), member.id, Consent.DECLINED)
        # Saying the same again changes nothing and is not logged twice.
        await set_consent(session, clock.now(), member.id, Consent.DECLINED)
        status = await consent_status(session, member.id)
        events = await audit.recent(session)
        with pytest.raises(ConsentError):
            await set_consent(session, clock.now(), member.id, Consent.PENDING)
    assert given.consent is Consent.GIVEN
    assert (status.consent, status.since) == (Consent.DECLINED, clock.now())
    assert [(e.action, e.actor, e.detail) for e in events] == [
        ("consent.declined", f"member:{member.id}", {"previous": "given"}),
        ("consent.given", f"member:{member.id}", {"previous": "pending"}),
    ]


def _key_settings(tmp_path: Path, **values: str) -> Settings:
    return load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}", **values)


def test_the_key_file_is_made_owner_only_beside_the_database_and_read_again(
    tmp_path: Path,
) -> None:
    settings = _key_settings(tmp_path)
    # Even under a umask that would let everyone read what is created.
    umask = os.umask(0)
    try:
        key = load_invite_key(settings)
    finally:
        os.umask(umask)

    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32
    assert path.read_text() == key.hex() + "\n"
    assert load_invite_key(settings) == key  # the next start reads the same key
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]


def test_the_key_file_may_live_in_a_directory_of_its_own(tmp_path: Path) -> None:
    settings = _key_settings(tmp_path, invite_key_dir=str(tmp_path / "keys"))
    key = load_invite_key(settings)
    assert (tmp_path / "keys" / KEY_FILE).read_text() == key.hex() + "\n"
    assert not (tmp_path / KEY_FILE).exists()


def test_a_configured_secret_is_the_key_and_no_file_is_made(tmp_path: Path) -> None:
    secret = "s" * 40
    assert load_invite_key(_key_settings(tmp_path, invite_secret=secret)) == secret.encode()
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(ConfigError, match="LIAISON_INVITE_SECRET: needs at least 32") as short:
        _key_settings(tmp_path, invite_secret="short secret")
    assert "short secret" not in str(short.value)


def test_a_damaged_key_file_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text("not a key\n")
    with pytest.raises(ConfigError, match="restore it from the backup"):
        load_invite_key(_key_settings(tmp_path))
    assert path.read_text() == "not a key\n"


def test_postgresql_needs_the_secret_or_a_key_directory(tmp_path: Path) -> None:
    settings = load_settings(database_url="postgresql+asyncpg://liaison@db/liaison")
    with pytest.raises(ConfigError, match="LIAISON_INVITE_SECRET or LIAISON_INVITE_KEY_DIR"):
        load_invite_key(settings)
    elsewhere = load_settings(
        database_url="postgresql+asyncpg://liaison@db/liaison", invite_key_dir=str(tmp_path)
    )
    assert len(load_invite_key(elsewhere)) == 32


def test_a_key_file_others_can_read_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _key_settings(tmp_path)
    key = load_invite_key(settings)
    (tmp_path / KEY_FILE).chmod(0o644)
    assert load_invite_key(settings) == key
    assert "can be read by others than its owner: chmod 600 it" in caplog.text
    assert key.hex() not in caplog.text
