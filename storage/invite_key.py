"""The key of the invite codes' HMAC, kept outside the database.

A code has about 40 bits: with only a hash of it stored, a copy of the database would be
enough to find every code by trying them all. With an HMAC whose key is not in the
database, the copy alone is useless.

LIAISON_INVITE_SECRET, when set, is the key. Otherwise the key is 32 random bytes in a file
(KEY_FILE) in LIAISON_INVITE_KEY_DIR, by default beside the SQLite database: made on first
start, readable by its owner only, and read on every later start, by `serve` and by the
commands that create invites alike. Without the key every unused invite is a wrong code,
so it is backed up with the database.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from storage.settings import ConfigError, Settings, sqlite_path

__all__ = ["KEY_FILE", "key_file_path", "load_invite_key"]

KEY_FILE = "liaison-invite.key"
_KEY_BYTES = 32
_OWNER_ONLY = 0o600

log = logging.getLogger(__name__)


def key_file_path(settings: Settings) -> Path:
    """Where the key file is (or will be) when LIAISON_INVITE_SECRET is not set."""
    if settings.invite_key_dir is not None:
        return Path(settings.invite_key_dir).expanduser() / KEY_FILE
    database = sqlite_path(settings.database_url)
    if database is None:
        # No file to put it beside, and the working directory may differ from one start
        # to the next: a key made there could be lost, and every invite with it.
        raise ConfigError(
            "set LIAISON_INVITE_SECRET or LIAISON_INVITE_KEY_DIR: the invite codes' key is "
            "kept outside the database, and this database is not a SQLite file to keep it "
            "beside"
        )
    return database.parent / KEY_FILE


def load_invite_key(settings: Settings) -> bytes:
    """The invite codes' HMAC key: the setting, else the key file, made if there is none."""
    if settings.invite_secret is not None:
        return settings.invite_secret.get_secret_value().encode("utf-8")
    path = key_file_path(settings)
    try:
        try:
            return _read(path)
        except FileNotFoundError:
            return _create(path)
    except OSError as error:
        raise ConfigError(f"invite key file {path}: {error.strerror or error}") from None


def _read(path: Path) -> bytes:
    text = path.read_text("ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != _KEY_BYTES:
        # Never replace it: a new key would silently turn every unused invite into a wrong
        # code. The operator restores it from the backup, or removes it knowingly.
        raise ConfigError(
            f"invite key file {path} does not hold a key ({2 * _KEY_BYTES} hexadecimal "
            "digits): restore it from the backup of the database, or remove it to make a "
            "new one (unused invites then stop working)"
        )
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("invite key file %s can be read by others than its owner: chmod 600 it", path)
    return key


def _create(path: Path) -> bytes:
    """A new key, written to a file of its own first and linked into place, so that two
    processes starting at once (serve, a command) end up with the one same key."""
    key = secrets.token_bytes(_KEY_BYTES)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _OWNER_ONLY)
    try:
        try:
            # The umask may only take permissions away; this says exactly which remain.
            os.fchmod(descriptor, _OWNER_ONLY)
            os.write(descriptor, (key.hex() + "\n").encode("ascii"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(draft, path)
        except FileExistsError:
            # Another process made one a moment ago: that one is the key.
            return _read(path)
    finally:
        draft.unlink(missing_ok=True)
    log.warning(
        "made the invite key file %s: back it up with the database (without it, unused "
        "invite codes stop working)",
        path,
    )
    return key
