"""What the three desk areas (requests, certificates, ideas) share.

A record's number comes from the address; a record that is not there and one the visitor
may not see get the same refusal page (404), so nothing about another liaison's members
is revealed. A change that worked sends the browser back to the card by GET (303), so a
reload never sends the form again; the card then says what was done (?done=…, one of the
area's known words, nothing else shown).
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from bot.console.core import SECURITY_HEADERS, Console
from bot.updates import parse_id
from storage.console import Visitor

# Form fields the console reads are short words or numbers; a longer one is not ours.
MAX_CHOICE = 40


def record_id(request: Request, name: str) -> int | None:
    """The record's number in the address (None: not a number we could hold)."""
    return parse_id(str(request.path_params[name]))


def form_id(form: dict[str, str], name: str) -> int | None:
    """A number a form sends back (a colleague, the version it was drawn from)."""
    value = form.get(name, "")
    return parse_id(value) if len(value) <= MAX_CHOICE else None


def choice(value: str | None, known: Collection[str], default: str | None = None) -> str | None:
    """One of the known words (a filter, a status), else default."""
    return value if value is not None and value in known else default


def refused(console: Console, visitor: Visitor, area: str) -> HTMLResponse:
    """Not there, or not the visitor's to see: the same page either way."""
    return console.message(f"{area}.not_found", visitor, status=404)


def back_to(path: str, done: str) -> RedirectResponse:
    """After a change, the card again by GET, saying what was done."""
    return RedirectResponse(
        f"{path}?{urlencode({'done': done})}", status_code=303, headers=SECURITY_HEADERS
    )
