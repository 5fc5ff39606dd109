"""config.yml -> frozen, validated settings; environment overrides; secrets from the environment."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from infoline.store.db import POOL_SIZE

ENV_PREFIX = "INFOLINE_"
# Secrets never live in config.yml; they are read from these variables only.
SECRET_VARIABLES = frozenset(
    {
        "INFOLINE_TELEGRAM_TOKEN",
        "INFOLINE_CONSOLE_SESSION_KEY",
        "INFOLINE_MAILBOX_IMAP_PASSWORD",
        "INFOLINE_MAILBOX_SMTP_PASSWORD",
    }
)
# Variables read by the command line itself rather than by a section.
CLI_VARIABLES = frozenset({"INFOLINE_CONFIG"})

Language = Literal["pl", "uk", "ru", "en"]


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one sentence for a person."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Section):
    default_language: Language = "uk"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    var_dir: Path = Path("var")


class NluSettings(_Section):
    url: str = "http://127.0.0.1:5005"
    manage: bool = True
    venv: Path = Path(".venv-nlu")
    project: Path = Path("nlu")
    data: Path = Path("data/nlu")
    models: Path = Path("models")
    timeout: float = Field(default=5.0, gt=0)
    startup_timeout: float = Field(default=180.0, gt=0)
    max_chars: int = Field(default=2000, ge=100)
    urgent_threshold: float = Field(default=0.2, ge=0, le=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _http(value)


class KnowledgeBaseSettings(_Section):
    path: Path = Path("data/kb")
    max_age_days: int = Field(default=180, ge=1)


class ContactSettings(_Section):
    phone: str = ""
    email: str = "infoline@example.org"


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///var/infoline.db"
    pool_size: int = Field(default=POOL_SIZE, ge=1, le=200)

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("a URL starting with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class EngineSettings(_Section):
    low_confidence: float = Field(default=0.35, ge=0, le=1)
    language_confidence: float = Field(default=0.7, ge=0, le=1)
    max_text_chars: int = Field(default=100_000, ge=1000)


class OfficeHoursSettings(_Section):
    timezone: str = "Europe/Warsaw"
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = (
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    )
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(17, 0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError("an IANA time zone such as Europe/Warsaw") from err
        return value


class OutboxSettings(_Section):
    max_attempts: int = Field(default=8, ge=1)
    backoff_seconds: float = Field(default=2.0, gt=0)
    max_backoff_seconds: float = Field(default=600.0, gt=0)
    # How long a row being sent is reserved for its dispatcher: longer than any send.
    lease_seconds: float = Field(default=60.0, gt=0)
    # Addresses sent to at once; a crash can repeat one message to each of them.
    concurrent_sends: int = Field(default=8, ge=1, le=100)


class TelegramSettings(_Section):
    base_url: str = "https://api.telegram.org/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""  # the public HTTPS address Telegram posts to (webhook mode)
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    poll_timeout: int = Field(default=30, ge=0, le=50)  # seconds getUpdates waits for news

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _http(value)

    @field_validator("webhook_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        parts = urlsplit(value)
        local = parts.hostname == "127.0.0.1"  # a self-hosted Bot API server on this machine
        if value and parts.scheme != "https" and not (local and parts.scheme == "http"):
            raise ValueError("an https:// URL, which Telegram requires for webhooks")
        return value

    @model_validator(mode="after")
    def _webhook_has_an_address(self) -> TelegramSettings:
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("webhook_url as well, in webhook mode")
        return self


Security = Literal["ssl", "starttls", "none"]


class MailboxSettings(_Section):
    address: str = ""  # the mailbox's own e-mail address
    imap_host: str = ""  # empty: the mailbox channel is off
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_user: str = ""
    imap_security: Security = "ssl"
    imap_folder: str = "INBOX"
    processed_folder: str = ""  # empty: handled mail is only flagged \Seen
    smtp_host: str = ""
    smtp_port: int = Field(default=465, ge=1, le=65535)
    smtp_user: str = ""
    smtp_security: Security = "ssl"
    poll_seconds: float = Field(default=60.0, gt=0)  # when the server cannot IDLE
    max_message_bytes: int = Field(default=25_000_000, ge=100_000)
    max_attachment_bytes: int = Field(default=5_000_000, ge=0)

    @model_validator(mode="after")
    def _plain_only_locally(self) -> MailboxSettings:
        for protocol in ("imap", "smtp"):
            host = getattr(self, f"{protocol}_host")
            if getattr(self, f"{protocol}_security") == "none" and host not in ("", "127.0.0.1"):
                raise ValueError(
                    f"{protocol}_security 'none' (no encryption) only for 127.0.0.1, not {host}"
                )
        if self.imap_host and not (self.address and self.smtp_host):
            raise ValueError("address and smtp_host as well, once imap_host is set")
        if self.processed_folder and self.processed_folder == self.imap_folder:
            raise ValueError("a processed_folder other than imap_folder, or none")
        return self


class ConsoleSettings(_Section):
    enabled: bool = True
    listen: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    session_max_age: int = Field(default=12 * 3600, ge=60)  # seconds from login
    secure_cookie: bool = False  # true once a reverse proxy serves the console over HTTPS
    login_max_failures: int = Field(default=5, ge=1)  # per user name and per address
    login_window_seconds: int = Field(default=900, ge=1)
    poll_seconds: float = Field(default=1.0, gt=0)  # how often live pages look for changes


class PrivacySettings(_Section):
    retention_days: int = Field(default=365, ge=1)


class HandoffSettings(_Section):
    reopen_hours: float = Field(default=72.0, ge=0)
    duty_address: str = ""  # "email:duty@example.org" or "telegram:123456"; empty: none
    duty_language: Language = "pl"

    @field_validator("duty_address")
    @classmethod
    def _channel_and_address(cls, value: str) -> str:
        channel, _, address = value.partition(":")
        if value and (channel not in ("email", "telegram") or not address.strip()):
            raise ValueError("email:ADDRESS or telegram:CHAT_ID, such as email:duty@example.org")
        return value

    @property
    def duty(self) -> tuple[str, str] | None:
        """The duty address as (channel, address), or None when none is set."""
        if not self.duty_address:
            return None
        channel, _, address = self.duty_address.partition(":")
        return channel, address.strip()


class Settings(_Section):
    app: AppSettings = AppSettings()
    nlu: NluSettings = NluSettings()
    kb: KnowledgeBaseSettings = KnowledgeBaseSettings()
    contact: ContactSettings = ContactSettings()
    database: DatabaseSettings = DatabaseSettings()
    engine: EngineSettings = EngineSettings()
    office_hours: OfficeHoursSettings = OfficeHoursSettings()
    outbox: OutboxSettings = OutboxSettings()
    telegram: TelegramSettings = TelegramSettings()
    mailbox: MailboxSettings = MailboxSettings()
    console: ConsoleSettings = ConsoleSettings()
    privacy: PrivacySettings = PrivacySettings()
    handoff: HandoffSettings = HandoffSettings()
    base_dir: Path = Path(".")

    def path(self, relative: Path) -> Path:
        """Resolve a path setting against the directory of the config file."""
        return relative if relative.is_absolute() else self.base_dir / relative


def _http(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// URL such as http://127.0.0.1:5005")
    return value.rstrip("/")


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read config.yml, apply INFOLINE_<SECTION>_<KEY> overrides and validate."""
    environ = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(f"Cannot read the configuration file {path}: {err.strerror}.") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "a syntax error"
        raise ConfigError(
            f"The configuration file {path} is not valid YAML{where}: {problem}."
        ) from err
    if not isinstance(raw, dict):
        raise ConfigError(f"The configuration file {path} must hold sections, such as 'nlu:'.")
    origins: dict[tuple[str, str], str] = {}
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in SECRET_VARIABLES | CLI_VARIABLES:
            continue
        section, key = _split_variable(name)
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"Setting '{section}' in {path} must be a section of settings.")
        target[key] = yaml.safe_load(value) if value.strip() else value
        origins[(section, key)] = name
    try:
        return Settings(base_dir=path.resolve().parent, **raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, path, origins)) from err


def _split_variable(name: str) -> tuple[str, str]:
    rest = name[len(ENV_PREFIX) :].lower()
    for section in Settings.model_fields:
        if rest.startswith(section + "_") and len(rest) > len(section) + 1:
            return section, rest[len(section) + 1 :]
    sections = ", ".join(s.upper() for s in Settings.model_fields if s != "base_dir")
    raise ConfigError(
        f"Environment variable {name} names no setting; expected INFOLINE_<SECTION>_<KEY> "
        f"with a section among {sections}."
    )


def _describe(err: ValidationError, path: Path, origins: dict[tuple[str, str], str]) -> str:
    first: Any = err.errors()[0]
    location = [str(part) for part in first["loc"]]
    setting = ".".join(location)
    source = origins.get((location[0], location[1])) if len(location) > 1 else None
    where = f"environment variable {source}" if source else str(path)
    if first["type"] == "extra_forbidden":
        return f"Setting {setting} (in {where}) is not a known setting."
    message = first["msg"]
    if message.startswith("Value error, "):
        message = "expected " + message.removeprefix("Value error, ")
    else:
        message = message[0].lower() + message[1:]
    if len(location) == 1:  # a rule across the section's settings
        return f"Section {setting} (in {where}) is wrong: {message}."
    return f"Setting {setting} (in {where}) is wrong: {message}; got {first['input']!r}."
