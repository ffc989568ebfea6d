"""Invite codes: a liaison hands a member a one-time code that binds their Telegram account.

Codes are 8 characters from an alphabet without look-alikes (no 0/O/1/I/L), so an elderly
member can read one off a slip of paper and type it; typed codes are accepted in any case,
with spaces and dashes, in full-width characters. A code is also a valid Telegram deep-link
start parameter as it is. Only an HMAC-SHA256 of a code is stored, keyed with a secret kept
outside the database (storage/invite_key.py): a copy of the database is not enough to find
the codes by trying them all. Invites made before that store a plain SHA-256
(CodeScheme.SHA256) and work until used or expired. Wrong codes are counted per Telegram
account (InviteGuard): too many lock the account out for a while, so codes cannot be
guessed.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.identity import account_actor, member_account
from storage.models import CodeScheme, Consent, Invite, InviteGuard, Member, Platform
from storage.phones import InvalidPhone, normalize_phone

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "InviteError",
    "Outcome",
    "Redemption",
    "UnknownMember",
    "code_hash",
    "create_invite",
    "format_code",
    "generate_code",
    "locked_until",
    "normalize_code",
    "redeem",
]

# Upper-case letters and digits without 0/O, 1/I/L: 31 symbols, 8 of them ≈ 39.6 bits.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_ALPHABET_SET = frozenset(ALPHABET)
# Nothing longer can be a code with separators; longer input is not even normalised.
_MAX_TYPED_CHARS = 64
# Spaces and every dash a phone keyboard or an input method may produce.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−_.·]+")
# A hash collision with an existing code is astronomically unlikely; retry a few times anyway.
_CREATE_ATTEMPTS = 5


class InviteError(ValueError):
    """An invite that cannot be created; the message says why."""


class UnknownMember(InviteError):
    """No member has the given phone number or id."""


class Outcome(enum.StrEnum):
    """What became of a code a Telegram account sent."""

    BOUND = "bound"
    NOT_A_CODE = "not_a_code"  # not 8 characters of the alphabet: a typo, not counted
    WRONG_CODE = "wrong_code"
    EXPIRED = "expired"
    USED = "used"
    LOCKED = "locked"
    ALREADY_BOUND = "already_bound"  # this account belongs to another member


@dataclass(frozen=True, slots=True)
class Redemption:
    """The result of redeem(): the outcome and what the reply needs to say."""

    outcome: Outcome
    # BOUND: the member now bound; ALREADY_BOUND: the member the account belongs to.
    member_id: int | None = None
    member_name: str | None = None
    consent: Consent | None = None
    # LOCKED: when the account may try again.
    locked_until: datetime | None = None
    # WRONG_CODE: wrong codes left before the lock.
    attempts_left: int | None = None
    # BOUND: the member had another Telegram account before, which no longer reaches them.
    took_over: bool = False
    # took_over: that account, on the same platform (to be told), and the member's language
    # before this binding.
    previous_user_id: int | None = None
    previous_locale: str | None = None


def generate_code() -> str:
    """A fresh random code (secrets), CODE_LENGTH characters from ALPHABET."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(typed: str) -> str | None:
    """The code in what a member typed ("abcd-efgh", "ＡＢＣＤ ＥＦＧＨ" …), or None."""
    typed = typed.strip()
    if len(typed) > _MAX_TYPED_CHARS:
        return None
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", typed)).upper()
    if len(text) != CODE_LENGTH or not _ALPHABET_SET.issuperset(text):
        return None
    return text


def format_code(code: str) -> str:
    """A code as printed for a member: two groups of four ("ABCD-EFGH")."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def code_hash(code: str, key: bytes) -> str:
    """What is stored for a normalised code: its HMAC-SHA256 under key, hex."""
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def _legacy_code_hash(code: str) -> str:
    """What invites made before the HMAC store (CodeScheme.SHA256): a plain SHA-256, hex."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


async def _member_for(session: AsyncSession, member_id: int | None, phone: str | None) -> Member:
    if (member_id is None) == (phone is None):
        raise InviteError("give either a member id or a phone number")
    if member_id is not None:
        member = await session.get(Member, member_id)
        if member is None:
            raise UnknownMember(f"no member with id {member_id}")
        return member
    assert phone is not None
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone as error:
        raise InviteError(f"invalid phone {phone!r}: {error}") from None
    member = await session.scalar(select(Member).where(Member.phone == e164))
    if member is None:
        raise UnknownMember(f"no member with phone {e164}; import the roster first")
    return member


async def create_invite(
    session: AsyncSession,
    now: datetime,
    *,
    member_id: int | None = None,
    phone: str | None = None,
    created_by: str,
    valid_days: int,
    key: bytes,
) -> tuple[str, Invite]:
    """A new one-time code for the member (by id or phone), valid valid_days; audited.

    key is the invite key (storage/invite_key.py) the service redeems codes with. Returns
    the code itself (shown once, never stored) and the Invite row. Earlier unused codes of
    the same member stop working: the newest slip of paper is the only valid one.
    """
    if valid_days < 1:
        raise InviteError("an invite must be valid for at least one day")
    member = await _member_for(session, member_id, phone)
    for _ in range(_CREATE_ATTEMPTS):
        code = generate_code()
        digest = code_hash(code, key)
        taken = await session.scalar(select(Invite.id).where(Invite.code_hash == digest))
        if taken is None:
            break
    else:  # pragma: no cover - 31**8 codes
        raise InviteError("could not find a free invite code; try again")
    earlier = await session.scalars(
        select(Invite).where(
            Invite.member_id == member.id, Invite.used_at.is_(None), Invite.expires_at > now
        )
    )
    revoked_ids = []
    for old in earlier:
        old.expires_at = now
        revoked_ids.append(old.id)
    invite = Invite(
        member_id=member.id,
        code_hash=digest,
        code_scheme=CodeScheme.HMAC_SHA256,
        created_at=now,
        expires_at=now + timedelta(days=valid_days),
        created_by=created_by,
    )
    session.add(invite)
    await session.flush()
    await audit.record(
        session,
        now,
        actor=created_by,
        action="invite.create",
        subject=f"member:{member.id}",
        invite_id=invite.id,
        expires_at=invite.expires_at.isoformat(),
        revoked_invite_ids=revoked_ids,
    )
    return code, invite


async def locked_until(
    session: AsyncSession, now: datetime, user_id: int, platform: Platform = Platform.TELEGRAM
) -> datetime | None:
    """Until when this account may not try codes, or None if it may."""
    guard = await session.get(InviteGuard, (platform, user_id))
    if guard is None or guard.locked_until is None or guard.locked_until <= now:
        return None
    return guard.locked_until


async def _count_failure(
    session: AsyncSession,
    now: datetime,
    guard: InviteGuard | None,
    user_id: int,
    platform: Platform,
    *,
    max_failures: int,
    lockout: timedelta,
) -> Redemption:
    if guard is None:
        guard = InviteGuard(platform=platform, user_id=user_id, failures=0)
        session.add(guard)
    guard.failures += 1
    guard.last_failure_at = now
    if guard.failures < max_failures:
        return Redemption(Outcome.WRONG_CODE, attempts_left=max_failures - guard.failures)
    guard.locked_until = now + lockout
    await audit.record(
        session,
        now,
        actor=account_actor(platform, user_id),
        action="invite.lockout",
        failures=guard.failures,
        locked_until=guard.locked_until.isoformat(),
    )
    return Redemption(Outcome.LOCKED, locked_until=guard.locked_until)


async def redeem(
    session: AsyncSession,
    now: datetime,
    *,
    user_id: int,
    code: str,
    max_failures: int,
    lockout: timedelta,
    key: bytes,
    locale: str | None = None,
    platform: Platform = Platform.TELEGRAM,
) -> Redemption:
    """Bind the account user_id on platform to the member of code (as typed); audited.

    While the account is locked the code is not even looked at. max_failures wrong codes
    lock it for lockout; a success clears the count. If the member was bound to another
    account, this one takes over (how a member with a new phone gets back in). locale,
    the language the account chose before binding, becomes the member's. key is the invite
    key the codes were made with (storage/invite_key.py).
    """
    guard = await session.get(InviteGuard, (platform, user_id))
    if guard is not None and guard.locked_until is not None:
        if guard.locked_until > now:
            return Redemption(Outcome.LOCKED, locked_until=guard.locked_until)
        # The lock has run out: a fresh start.
        guard.failures = 0
        guard.locked_until = None

    normalized = normalize_code(code)
    if normalized is None:
        return Redemption(Outcome.NOT_A_CODE)
    invite = await session.scalar(
        select(Invite)
        .where(
            or_(
                and_(
                    Invite.code_scheme == CodeScheme.HMAC_SHA256,
                    Invite.code_hash == code_hash(normalized, key),
                ),
                # Made before the HMAC: still good until used or expired.
                and_(
                    Invite.code_scheme == CodeScheme.SHA256,
                    Invite.code_hash == _legacy_code_hash(normalized),
                ),
            )
        )
        .with_for_update()
    )
    if invite is None:
        return await _count_failure(
            session, now, guard, user_id, platform, max_failures=max_failures, lockout=lockout
        )

    member = await session.get(Member, invite.member_id, with_for_update=True)
    assert member is not None  # invites are deleted with their member
    if invite.used_at is not None:
        used_by = invite.used_by_qq_id if platform is Platform.QQ else invite.used_by_telegram_id
        bound_now = member.qq_user_id if platform is Platform.QQ else member.telegram_user_id
        if used_by == user_id == bound_now:
            # The same person following the same link again: nothing to do.
            return Redemption(Outcome.BOUND, member.id, member.name, member.consent)
        return Redemption(Outcome.USED)
    if invite.expires_at <= now:
        return Redemption(Outcome.EXPIRED)

    bound = await session.scalar(select(Member).where(member_account(platform) == user_id))
    if bound is not None and bound.id != member.id:
        return Redemption(Outcome.ALREADY_BOUND, bound.id, bound.name, bound.consent)

    previous = member.qq_user_id if platform is Platform.QQ else member.telegram_user_id
    previous_locale = member.locale
    took_over = previous is not None and previous != user_id
    if platform is Platform.QQ:
        member.qq_user_id = user_id
        invite.used_by_qq_id = user_id
    else:
        member.telegram_user_id = user_id
        invite.used_by_telegram_id = user_id
    member.bound_at = now
    member.updated_at = now
    if locale is not None:
        member.locale = locale
    invite.used_at = now
    if guard is not None:
        guard.failures = 0
        guard.locked_until = None
    actor = account_actor(platform, user_id)
    subject = f"member:{member.id}"
    await audit.record(
        session, now, actor=actor, action="invite.redeem", subject=subject, invite_id=invite.id
    )
    if took_over:
        await audit.record(
            session,
            now,
            actor=actor,
            action="member.rebind",
            subject=subject,
            platform=platform.value,
            previous_user_id=previous,
            user_id=user_id,
        )
    return Redemption(
        Outcome.BOUND,
        member.id,
        member.name,
        member.consent,
        took_over=took_over,
        previous_user_id=previous if took_over else None,
        previous_locale=previous_locale,
    )
