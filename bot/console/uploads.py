"""Files sent to the console: a multipart/form-data body, read within a size limit.

Starlette reads such forms through python-multipart, which the service does not depend on.
The console's uploads are few and small (a police station's list of people), so the body
is read whole, up to the limit, and split on its boundary here (RFC 7578: browsers send
no transfer encodings; a file's name comes as UTF-8, quotes and line breaks in it
percent-encoded, as the HTML standard says).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import unquote

from starlette.requests import Request

__all__ = ["Upload", "parse_multipart", "read_body"]

# A header parameter: name=value or name="quoted value". Browsers escape no backslash in
# a quoted value (a quote is sent as %22), so a backslash is a character of the value.
_PARAM = re.compile(r';\s*([A-Za-z0-9_*.-]+)\s*=\s*("[^"]*"|[^;]*)')
_BOUNDARY_LONGEST = 200  # RFC 2046 allows 70; some clients send a little more


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


def _params(header: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, raw in _PARAM.findall(header):
        value = raw.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        found[name.lower()] = value
    return found


def _filename(params: dict[str, str]) -> str | None:
    extended = params.get("filename*")  # RFC 5987: UTF-8''%E6%B4%BE…
    if extended is not None and "''" in extended:
        charset, _, quoted = extended.partition("''")
        name = unquote(quoted, encoding=charset or "utf-8", errors="replace")
    elif "filename" in params:
        name = params["filename"]
        for encoded, char in (("%22", '"'), ("%0D", "\r"), ("%0A", "\n")):
            name = name.replace(encoded, char)
    else:
        return None
    # Some browsers send the whole path: only the file's own name is kept.
    return PureWindowsPath(PurePosixPath(name).name).name


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    """The fields (first value of each) and the files of a multipart/form-data body; a
    body that is not one gives nothing. A file input left empty is no file."""
    boundary = _params(content_type).get("boundary", "")
    if not boundary or len(boundary) > _BOUNDARY_LONGEST:
        return {}, {}
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break  # the closing boundary
        # The boundary line may end in spaces before its line break.
        _, newline, part = piece.partition(b"\r\n")
        head, blank, content = part.partition(b"\r\n\r\n")
        if not newline or not blank:
            continue
        disposition = ""
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                disposition = value
        params = _params(";" + disposition.partition(";")[2])
        name = params.get("name")
        if name is None:
            continue
        filename = _filename(params)
        if filename is None:
            fields.setdefault(name, content.decode("utf-8", errors="replace"))
        elif filename and name not in files:
            files[name] = Upload(filename, content)
    return fields, files
