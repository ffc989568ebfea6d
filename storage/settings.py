"""Service configuration: environment variables (LIAISON_*) and an optional liaison.toml."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from storage.calendar import CycleRule, QuietHours, parse_clock, parse_days

Locale = Literal["zh_CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh_CN", "en")

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"
MIN_INVITE_SECRET_LENGTH = 32


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message says which and why."""


class Settings(BaseSettings):
    """Everything the service reads from its environment, validated at start."""

    model_config = SettingsConfigDict(
        env_prefix="LIAISON_",
        toml_file="liaison.toml",
        extra="ignore",
        frozen=True,
    )

    database_url: str = "sqlite+aiosqlite:///liaison.db"
    # SecretStr keeps the token out of logs and reprs.
    telegram_token: SecretStr | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    telegram_bot_username: str | None = None
    locale: Locale = "zh_CN"
    timezone: str = "Asia/Shanghai"
    # National rules are settings, not constants (DESIGN.md).
    invite_valid_days: int = Field(default=14, ge=1, le=365)
    invite_max_failures: int = Field(default=5, ge=1, le=100)
    invite_lockout_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # The key of the invite codes' HMAC (storage/invite_key.py), kept out of the database so
    # a copy of it is not enough to guess codes. Unset: a key file in invite_key_dir, by
    # default the SQLite database's directory, made on first start.
    invite_secret: SecretStr | None = None
    invite_key_dir: str | None = None
    # Exact coordinates are stored only when the district needs them; off by default.
    store_coordinates: bool = False
    max_text_length: int = Field(default=1000, ge=50, le=4000)
    # SMS over SMPP 3.4; without a host, SMS are written to sms_log_path instead (demo).
    smpp_host: str | None = None
    smpp_port: int = Field(default=2775, ge=1, le=65535)
    smpp_system_id: str = Field(default="", max_length=15)
    smpp_password: SecretStr | None = None
    smpp_source_addr: str = Field(default="Liaison", min_length=1, max_length=20)
    smpp_rate: float = Field(default=10.0, gt=0, le=1000)  # submit_sm per second
    sms_log_path: str = "sms-outbox.log"
    # QQ over OneBot v11: Liaison listens ("host:port") for the QQ host's reverse WebSocket
    # (NapCat, Lagrange.OneBot). Unset: no QQ. The token is required unless on loopback.
    onebot_listen: str | None = None
    onebot_access_token: SecretStr | None = None
    # The staff web console (bot/console): "host:port" to listen on, empty: no console. Its
    # sessions end after this many idle minutes; links in /console use console_url (default
    # http://<listen>), the address staff open it at (https behind a proxy: Secure cookies).
    console_listen: str | None = "127.0.0.1:8080"
    console_session_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_url: str | None = None
    # One QQ account sends at most one message this often (private and group together):
    # accounts that send faster get restricted by QQ's risk control.
    qq_send_interval: float = Field(default=3.0, ge=0.5, le=600)
    # Risk control answered (retcode 100, 1200): QQ rests this long; members fall back.
    qq_suspend_hours: float = Field(default=6.0, gt=0, le=24 * 14)
    # A QQ host away longer than this: members' messages fall back to their next channel.
    qq_offline_fallback_minutes: float = Field(default=15.0, ge=0, le=24 * 60)
    # Telegram's published limits; the dispatcher keeps under them without waiting for a 429.
    telegram_rate: float = Field(default=30.0, gt=0, le=100_000)
    telegram_chat_interval: float = Field(default=1.0, ge=0, le=60)
    telegram_group_per_minute: float = Field(default=20.0, gt=0, le=100_000)
    # An account sending more than this many updates in this many seconds is flooding: one
    # "please slow down" answer, and its further updates are dropped until it slows down.
    flood_max_updates: int = Field(default=20, ge=1, le=10_000)
    flood_window_seconds: float = Field(default=10.0, gt=0, le=3600)
    delivery_max_attempts: int = Field(default=6, ge=1, le=50)
    # How long a dead dispatcher's claimed deliveries wait before another takes them over
    # (a live one renews its leases): a restarted service resumes within this.
    delivery_lease_seconds: float = Field(default=20.0, ge=1, le=86_400)

    # The monthly cycle's defaults (DESIGN.md: national rules are settings); an admin can
    # change each per group with /schedule or `liaison schedule set`.
    checkin_prompt_day: int = Field(default=1, ge=1, le=28)
    checkin_prompt_time: str = "09:00"
    checkin_reminder_days: str = "3,7"
    checkin_escalation_day: int = Field(default=10, ge=1, le=28)
    lost_contact_months: int = Field(default=6, ge=1, le=60)
    # Nothing scheduled reaches a member between these (their own time zone); equal: none.
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "08:00"
    # How often the service looks for schedule changes made by another process (the CLI).
    schedule_poll_seconds: float = Field(default=30.0, ge=1, le=3600)
    # Service requests: remind the assignee this long before a request's target time; the
    # deadline check runs every request_check_minutes while requests are open.
    request_remind_hours: int = Field(default=24, ge=1, le=24 * 30)
    request_check_minutes: int = Field(default=15, ge=1, le=60)
    # Activity certificates are reviewed yearly (a national rule): months from issue, and
    # between reviews. The issuing organisation named on letters; None: the member's home unit.
    certificate_review_months: int = Field(default=12, ge=1, le=60)
    certificate_issuer: str | None = Field(default=None, max_length=200)
    # Who signs what the organisation itself sends: a notice from the command line without
    # --from (rather than the operating system's user, "root" on a server).
    organisation_name: str = Field(default="党组织", min_length=1, max_length=64)
    # /places: a nearest place farther than this is "none near you" (it is still shown).
    places_near_km: float = Field(default=50.0, gt=0, le=20_000)
    # Retention (PIPL Art. 19): how long each kind of record is kept; the daily purge and
    # `liaison privacy purge` delete (or anonymise) what is older (storage/retention.py).
    retention_checkins_months: int = Field(default=36, ge=1, le=1200)
    retention_deliveries_months: int = Field(default=12, ge=1, le=1200)
    retention_requests_months: int = Field(default=36, ge=1, le=1200)
    retention_audit_months: int = Field(default=60, ge=1, le=1200)
    retention_sms_log_days: int = Field(default=30, ge=1, le=36_500)
    # Notice and study receipts; ideas after their reply (unanswered: after they came);
    # certificates after they ended; invites after use or expiry; wrong-code counters after
    # their last attempt; decided data requests after the decision.
    retention_receipts_months: int = Field(default=12, ge=1, le=1200)
    retention_ideas_months: int = Field(default=36, ge=1, le=1200)
    retention_certificates_months: int = Field(default=36, ge=1, le=1200)
    retention_invites_months: int = Field(default=3, ge=1, le=1200)
    retention_invite_guards_months: int = Field(default=1, ge=1, le=1200)
    retention_data_requests_months: int = Field(default=12, ge=1, le=1200)
    retention_sms_inbox_months: int = Field(default=12, ge=1, le=1200)

    @field_validator("checkin_prompt_time", "quiet_hours_start", "quiet_hours_end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        return parse_clock(value).strftime("%H:%M")

    @field_validator("checkin_reminder_days")
    @classmethod
    def _reminder_days(cls, value: str) -> str:
        return ",".join(str(day) for day in parse_days(value))

    @model_validator(mode="after")
    def _cycle_fits_a_month(self) -> Settings:
        self.default_cycle.check()
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)"
            ) from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                f"(got {value.split(':', 1)[0]!r})"
            )
        return value

    @field_validator("telegram_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            bot_id, _, secret = value.get_secret_value().partition(":")
            if not bot_id.isdigit() or len(secret) < 20:
                # Never echo the token itself.
                raise ValueError("does not look like a bot token from @BotFather (ID:SECRET)")
        return value

    @field_validator("invite_secret", "invite_key_dir", mode="before")
    @classmethod
    def _blank_invite_key_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("invite_secret")
    @classmethod
    def _invite_secret_strength(cls, value: SecretStr | None) -> SecretStr | None:
        # A short passphrase could be guessed along with the codes; never echo it.
        if value is not None and len(value.get_secret_value()) < MIN_INVITE_SECRET_LENGTH:
            raise ValueError(
                f"needs at least {MIN_INVITE_SECRET_LENGTH} characters "
                "(e.g. the output of `openssl rand -hex 32`)"
            )
        return value

    @field_validator("onebot_listen", "onebot_access_token", mode="before")
    @classmethod
    def _blank_onebot_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("console_listen", "console_url", mode="before")
    @classmethod
    def _blank_console_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("console_listen")
    @classmethod
    def _console_address(cls, value: str | None) -> str | None:
        if value is not None:
            onebot_address(value)
        return value

    @field_validator("console_url")
    @classmethod
    def _console_url_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/") if value is not None else None

    @property
    def console_base_url(self) -> str | None:
        """Where staff open the console (links in /console), None when it is off."""
        if self.console_listen is None:
            return None
        if self.console_url is not None:
            return self.console_url
        host, port = onebot_address(self.console_listen)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    @field_validator("onebot_listen")
    @classmethod
    def _onebot_address(cls, value: str | None) -> str | None:
        if value is not None:
            onebot_address(value)
        return value

    @model_validator(mode="after")
    def _onebot_token_off_loopback(self) -> Settings:
        # Anyone who can reach the port could otherwise post as members and read replies.
        if self.onebot_listen and self.onebot_access_token is None:
            host, _ = onebot_address(self.onebot_listen)
            if not _loopback(host):
                raise ValueError(
                    "LIAISON_ONEBOT_ACCESS_TOKEN is required when LIAISON_ONEBOT_LISTEN is "
                    "not on loopback (127.0.0.1, ::1, localhost)"
                )
        return self

    @field_validator("smpp_host", "smpp_password", mode="before")
    @classmethod
    def _blank_smpp_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("smpp_password")
    @classmethod
    def _smpp_password_length(cls, value: SecretStr | None) -> SecretStr | None:
        # SMPP 3.4 allows 8 characters; never echo the password itself.
        if value is not None and len(value.get_secret_value()) > 8:
            raise ValueError("SMPP passwords have at most 8 characters")
        return value

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours(parse_clock(self.quiet_hours_start), parse_clock(self.quiet_hours_end))

    @property
    def default_cycle(self) -> CycleRule:
        """The cycle of members whose groups have none of their own."""
        return CycleRule(
            prompt_day=self.checkin_prompt_day,
            prompt_time=parse_clock(self.checkin_prompt_time),
            reminder_days=parse_days(self.checkin_reminder_days),
            escalation_day=self.checkin_escalation_day,
            lost_contact_months=self.lost_contact_months,
        )

    @property
    def zone(self) -> ZoneInfo:
        """The default time zone for members without their own."""
        return ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over liaison.toml, so one machine can override a shared file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def onebot_address(value: str) -> tuple[str, int]:
    """LIAISON_ONEBOT_LISTEN as (host, port): "127.0.0.1:6700", "[::1]:6700", ":6700"."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:6700)")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 (":PORT" means every interface)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Read and validate the configuration, turning pydantic's errors into one clear message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            # A rule across several settings (the cycle) has no single field to name.
            where = f"LIAISON_{field.upper()}" if field else "LIAISON_CHECKIN_*"
            message = str(error["msg"]).removeprefix("Value error, ")
            # A rule that names its settings itself needs no prefix.
            problems.append(message if message.startswith("LIAISON_") else f"{where}: {message}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    prefix = "sqlite+aiosqlite:///"
    if not database_url.startswith(prefix):
        return None
    rest = database_url[len(prefix) :]
    return Path(rest) if rest and rest != ":memory:" else None
