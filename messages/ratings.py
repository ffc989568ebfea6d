"""What the ratings' message looks like: the yearly commendation to a member, on each
channel (the citation is what an administrator wrote: escaped like everything shown)."""

from __future__ import annotations

from messages.render import Reader, Rendered
from storage.payloads import Commended


def commended(reader: Reader, payload: Commended) -> Rendered:
    """The member was commended for the year."""
    return reader.render("ratings/commended", year=payload.year, citation=payload.citation), ()


__all__ = ["commended"]
