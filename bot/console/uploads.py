"""Files sent to the console: a multipart/form-data body, read within a size limit.

The body is read whole, up to the limit (a police station's list of people is small), so
an oversized upload is refused before anything of it is parsed; the parsing itself is
Starlette's, on python-multipart.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

__all__ = ["Upload", "parse_multipart", "read_body"]

# A form of the console holds a CSRF token, a few fields and one file.
_MAX_FIELDS = 50
_MAX_FILES = 4


@dataclass(frozen=True, slots=True)
class Upload:
    """A file of the form: its name as the sender's computer had it (no folders), its bytes."""

    filename: str
    data: bytes


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None once it is longer than limit (the rest is not read)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _own_name(name: str) -> str:
    # Browsers percent-encode a quote and line breaks in a file's name (the HTML standard's
    # multipart/form-data encoding), and some send the whole path: only the file's own name.
    for encoded, char in (("%22", '"'), ("%0D", "\r"), ("%0A", "\n")):
        name = name.replace(encoded, char)
    return PureWindowsPath(PurePosixPath(name).name).name


async def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, Upload]]:
    """The fields (first value of each) and the files of a multipart/form-data body; a
    body that is not one gives nothing. A file input left empty is no file."""

    async def whole() -> AsyncGenerator[bytes]:
        yield body

    parser = MultiPartParser(
        Headers({"content-type": content_type}),
        whole(),
        max_files=_MAX_FILES,
        max_fields=_MAX_FIELDS,
    )
    try:
        form = await parser.parse()
    except MultiPartException:
        return {}, {}
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                filename = _own_name(value.filename or "")
                if filename and name not in files:
                    files[name] = Upload(filename, await value.read())
            else:
                fields.setdefault(name, value)
    finally:
        await form.close()
    return fields, files
