"""Settings, read from environment variables prefixed with CAMPUSID_."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the platform; see README.md for the list."""

    model_config = SettingsConfigDict(env_prefix="CAMPUSID_", env_file=".env", extra="ignore")

    environment: str = Field(default="development", description="development, demo or production")
    database_url: str = "sqlite:///var/campusid.db"
    redis_url: str | None = None
    # A random key per process is safe but logs everyone out on restart; set it in production.
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))

    session_idle_minutes: int = 120
    session_absolute_hours: int = 12
    cookie_secure: bool | None = None  # None: Secure when the request came over HTTPS

    login_account_limit: int = 5
    login_account_window_seconds: int = 900
    # Schools put hundreds of pupils behind one address: the per-address limit is generous.
    login_address_limit: int = 300
    login_address_window_seconds: int = 900

    hotline_number: str = "0571-87880806"
    hotline_hours: str = "工作日 8:30-17:00"

    school_year_boundary_month: int = 9
    school_year_boundary_day: int = 1

    default_language: str = "zh_CN"

    # recovery (找回密码): messages per phone/email and lookups per ID card number per window;
    # per client address generous, since a classroom of pupils shares one address.
    recovery_target_limit: int = 5
    recovery_target_window_seconds: int = 3600
    recovery_id_number_limit: int = 10
    recovery_id_number_window_seconds: int = 3600
    recovery_address_limit: int = 300
    recovery_address_window_seconds: int = 3600

    # Messaging: SMS through an HTTP gateway when configured, else the development outbox.
    sms_gateway_url: str | None = None
    sms_gateway_key: str | None = None
    # Mail over SMTP when a host is configured, else the development outbox.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "campusid <no-reply@campusid.local>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False

    @property
    def is_development(self) -> bool:
        """Development and demo modes show the message outbox."""
        return self.environment in {"development", "demo"}

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite."""
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The SQLite file, if the database is a SQLite file."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[-1]
        return None if path in {"", ":memory:"} else Path(path)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings."""
    return Settings()
