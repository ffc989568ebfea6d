"""The check-in's draft and its questions: their keyboards and the values they show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.context import LiaisonContext
from bot.replies import REMOVE_KEYBOARD, Markup, inline_keyboard, label, reply_keyboard
from messages.callbacks import (
    CHECKIN_CONFIRM,
    CHECKIN_CONSENT,
    CHECKIN_NEEDS,
    CHECKIN_NOTE_SKIP,
    CHECKIN_RESTART,
    CHECKIN_WORK,
)
from storage.checkins import Whereabouts
from storage.models import Consent, LocationPrecision, WorkSituation

# Steps, one per question.
CONSENT = "consent"
PLACE = "place"
WORK = "work"
NOTE = "note"
NEEDS = "needs"
NEEDS_TEXT = "needs_text"
CONFIRM = "confirm"


@dataclass(slots=True)
class Draft:
    """The answers so far; stored only when the member confirms the summary."""

    period: str
    last_place: str | None
    place: Whereabouts | None = None
    work: WorkSituation | None = None
    note: str | None = None
    needs_help: bool = False
    needs_text: str | None = None


def precision(context: LiaisonContext) -> LocationPrecision | None:
    """What the member lets check-ins keep since withdrawing consent (None: as usual)."""
    identity = context.identity
    return identity.location_precision if identity is not None else None


def province_only(context: LiaisonContext) -> bool:
    return precision(context) is LocationPrecision.PROVINCE


def keeps_no_place(context: LiaisonContext) -> bool:
    return precision(context) is LocationPrecision.NONE


def can_share(context: LiaisonContext) -> bool:
    """A pin is taken with consent, or reduced at once to its province when the member
    keeps only that."""
    identity = context.identity
    return identity is not None and (identity.consent is Consent.GIVEN or province_only(context))


def work_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    # One per row: big targets for elderly members.
    return inline_keyboard(
        [[(label(context, f"checkin.work_{s.value}"), CHECKIN_WORK.pack(s))] for s in WorkSituation]
    )


def consent_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "checkin.consent_given"), CHECKIN_CONSENT.pack(Consent.GIVEN))],
            [(label(context, "checkin.consent_declined"), CHECKIN_CONSENT.pack(Consent.DECLINED))],
        ]
    )


def consent_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"store_coordinates": context.services.settings.store_coordinates}


def place_keyboard(context: LiaisonContext, draft: Draft) -> Markup | None:
    rows = [[draft.last_place]] if draft.last_place else []
    share = label(context, "checkin.share_location") if can_share(context) else None
    return reply_keyboard(rows, location_button=share) if rows or share else None


def place_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {
        "first": False,
        "can_share": can_share(context),
        "last_place": draft.last_place,
        "province_only": province_only(context),
    }


def note_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard([[(label(context, "checkin.skip"), CHECKIN_NOTE_SKIP.pack())]])


def needs_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "checkin.needs_no"), CHECKIN_NEEDS.pack(False))],
            [(label(context, "checkin.needs_yes"), CHECKIN_NEEDS.pack(True))],
        ]
    )


def no_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    # The place question's keyboard (one-time, but still there after a typed place) goes
    # with the first message that has no buttons of its own.
    return REMOVE_KEYBOARD


def confirm_keyboard(context: LiaisonContext, draft: Draft) -> Markup:
    return inline_keyboard(
        [
            [(label(context, "checkin.confirm"), CHECKIN_CONFIRM.pack())],
            [(label(context, "checkin.restart"), CHECKIN_RESTART.pack())],
        ]
    )


def confirm_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    assert draft.work is not None
    place = draft.place
    return {
        # None: the member keeps no place in check-ins.
        "place": place.label if place is not None else None,
        "recognised": place is None or place.region is not None or place.is_pin or place.from_pin,
        "work": label(context, f"checkin.work_{draft.work.value}"),
        "note": draft.note,
        "needs_help": draft.needs_help,
        "needs_text": draft.needs_text,
    }


def period_values(context: LiaisonContext, draft: Draft) -> Mapping[str, Any]:
    return {"period": draft.period}
