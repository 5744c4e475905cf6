"""Settings, read from environment variables prefixed with CAMPUSID_."""

from __future__ import annotations

import secrets
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the platform; see README.md for the list."""

    model_config = SettingsConfigDict(env_prefix="CAMPUSID_", env_file=".env", extra="ignore")

    environment: str = Field(default="development", description="development, demo or production")
    database_url: str = "sqlite:///var/campusid.db"
    redis_url: str | None = None
    redis_prefix: str = "campusid"  # keys are "<prefix>:..."; several platforms may share Redis
    # A random key per process is safe but logs everyone out on restart; set it in production.
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))

    # Key of the personal identifiers encrypted at rest (`campusid new-data-key` makes one).
    # Required in production; development and tests use a fixed development key.
    data_key: str | None = None

    session_idle_minutes: int = 120
    session_absolute_hours: int = 12
    cookie_secure: bool | None = None  # None: Secure when the request came over HTTPS

    # The hard per-account limit (NIST 800-63B: at most 100 failures): beyond it an account
    # refuses sign-ins from browsers it never signed in from, until the window ends or a known
    # browser signs in; see the login_* throttle settings at the end.
    login_account_limit: int = 100
    login_account_window_seconds: int = 86400
    # Schools put hundreds of pupils behind one address: beyond this many failures from one
    # address, browsers unknown to the account must solve a captcha (nobody is refused).
    login_address_limit: int = 300
    login_address_window_seconds: int = 900

    hotline_number: str = "0571-87880806"

    # servicedesk (route 4, the hotline): service hours on working days, the one hours setting
    # (the text 工作日 8:30-17:00 is made from it). Which days are working days is kept in the
    # database (平台管理 → 服务日历, issue 20).
    servicedesk_opens_at: time = time(8, 30)
    servicedesk_closes_at: time = time(17, 0)
    # The verification checklist: at least this many facts matched (never fewer than two), one
    # of them always a fact a classmate cannot know (the phone code read back, the ID tail 4).
    servicedesk_min_matched_facts: int = Field(default=2, ge=2, le=5)

    school_year_boundary_month: int = 9
    school_year_boundary_day: int = 1

    default_language: str = "zh_CN"

    # End-to-end tests set the server's clock through this file; refused in production.
    clock_file: str | None = None

    # Largest request body accepted (imports and avatars included); a proxy should cap it too.
    max_request_bytes: int = 12 * 1024 * 1024

    log_json: bool = True  # JSON lines on stdout; tests turn it off and capture records
    log_level: str = "INFO"
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

    # families: linking children (关联孩子), guessing-resistant.
    families_max_parents_per_child: int = 4
    families_link_parent_limit: int = 5  # failed attempts per parent account per window
    families_link_parent_window_seconds: int = 3600
    families_link_target_limit: int = 5  # failed attempts per target ID card number per window
    families_link_target_window_seconds: int = 3600
    families_avatar_max_bytes: int = 2 * 1024 * 1024
    # members: attaching an existing account (添加学生/家长/老师), limited like 关联孩子: refused
    # attempts (a name that does not match, an account that may not join) per administrator and
    # per identifier named.
    members_attach_actor_limit: int = 10
    members_attach_actor_window_seconds: int = 3600
    members_attach_target_limit: int = 5
    members_attach_target_window_seconds: int = 3600
    # transfers: where the region allows it, a linked parent may approve a 转学申请 too.
    transfers_parent_may_approve: bool = False
    # messaging: SMS sending limits (per phone number and per client address).
    sms_phone_limit: int = 5
    sms_phone_window_seconds: int = 3600
    sms_address_limit: int = 30
    sms_address_window_seconds: int = 3600
    # OpenID Connect provider (oidc/). The issuer defaults to the URL the request came to;
    # set it in production so it never depends on a Host header.
    oidc_issuer: str | None = None
    oidc_code_seconds: int = 300
    oidc_access_token_seconds: int = 900
    oidc_id_token_seconds: int = 3600
    oidc_refresh_token_days: int = 30
    # How long a retired signing key stays in the JWKS: longer than any ID token lives.
    oidc_key_grace_hours: int = 48

    # performance (issue 10): argon2 checks at once per process (each holds 19 MiB for ~30 ms of
    # a core). Unset: one per core. With N app processes on a machine, cores / N keeps the total
    # at one per core, so a flood of sign-ins queues instead of growing memory.
    password_hash_concurrency: int | None = Field(default=None, ge=1)

    # image captcha (issue 18): per client address and window, the images drawn and the wrong
    # answers (past the first, images are refused; past the second, every answer is wrong).
    # Generous: a school's pupils may share one address.
    captcha_image_limit: int = 600
    captcha_failure_limit: int = 120
    captcha_window_seconds: int = 3600

    # issue 18: a password the holder chooses may not be the current one, a default password of
    # their schools, or one of this many earlier ones (0: only the current one and the defaults).
    password_history: int = Field(default=5, ge=0, le=24)
    # The development outbox keeps a code or temporary password readable this long (the codes'
    # lifetime), then only the masked text; outside development it never keeps them at all.
    outbox_secret_minutes: int = Field(default=15, ge=1)

    # Sign-in throttling without lockout-DoS (issue 18, SECURITY.md): failures are counted per
    # account + client pair (the login typed and the address; or the account and a browser it
    # signed in from before). After a few, a captcha; after more, a doubling wait between tries
    # (refused before it ends, never slept); a pair is forgotten a day after its last failure.
    login_captcha_after_failures: int = Field(default=3, ge=1)
    login_delay_after_failures: int = Field(default=5, ge=1)
    login_delay_base_seconds: int = Field(default=15, ge=1)
    login_delay_max_seconds: int = Field(default=120, ge=1)
    login_pair_memory_seconds: int = Field(default=86400, ge=60)
    # A browser the account signed in from before (a signed device cookie) is not throttled by
    # other clients' failures; its own failures beyond this make it a stranger again.
    login_device_distrust_after_failures: int = Field(default=10, ge=1)
    login_device_cookie_days: int = Field(default=365, ge=1)
    # 修改密码: wrong current passwords one session may type before it is signed out (they also
    # count towards the account's sign-in limit).
    password_change_max_failures: int = Field(default=3, ge=1)

    # Operations (issue 20). /metrics answers loopback clients, and others only with this bearer
    # token (`Authorization: Bearer <token>`); unset: loopback only.
    metrics_token: str | None = None
    # Retention (`campusid db purge`, and the in-process timer when serving): audit rows older
    # than this many days are deleted. Never shorter than 183 days: the Cybersecurity Law
    # (网络安全法 art. 21) asks for network logs to be kept six months. Default three years.
    retention_audit_days: int = Field(default=3 * 365, ge=183)
    # Finished or expired recovery flows, codes, captchas and sessions are kept this long past
    # their end (a day: long enough to read a fresh incident in the tables).
    retention_expired_hours: int = Field(default=24, ge=0)
    # The in-process purge while serving: every this many minutes (0: off; run the command
    # from a timer instead, see docs/deployment.md).
    purge_interval_minutes: int = Field(default=60, ge=0)
    # OneRoster (issue 22): how long an `X-Total-Count` is reused for the same client, schools,
    # collection and filter (a sync walking the pages counts once; 0: count on every call).
    oneroster_count_seconds: int = Field(default=60, ge=0, le=3600)
    # The transactional outbox (issue 20, docs/deployment.md). Every SMS and mail is a row
    # written with the change; where a gateway or SMTP host is configured it is delivered after
    # the commit: `inline` in the committing process right after the commit, retries by a
    # thread in the same process; `thread` by that thread alone (woken by the commit, the
    # request never waits); `worker` only by `campusid outbox work` processes.
    outbox_dispatch: Literal["inline", "thread", "worker"] = "inline"
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_backoff_seconds: int = Field(default=30, ge=1)  # doubles after each failed attempt
    outbox_backoff_max_seconds: int = Field(default=3600, ge=1)
    # How long a dispatcher's claim on a batch lasts; past it, another dispatcher may take the
    # rows (a dispatcher that died mid-batch): longer than a batch takes.
    outbox_lease_seconds: int = Field(default=300, ge=1)
    outbox_batch: int = Field(default=50, ge=1)
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    # With `inline` or `thread` dispatch, each app process runs a dispatcher thread (retries,
    # back-channel logout tokens). false: none, the committing request offers every message
    # once and retries wait for `campusid outbox work` (the functional tests, which drive the
    # outbox themselves).
    outbox_thread: bool = True
    sms_gateway_timeout_seconds: float = Field(default=10.0, gt=0)
    # Two-step verification (issue 19, SECURITY.md). The roles that must hold a second factor
    # and those that may; a role in neither (pupils) is not offered one. These settings are the
    # defaults of 平台管理 → 两步验证策略 until the platform administrator saves it (then the
    # database's policy applies); the one rule that reads both: security.authz.second_factor_policy.
    # Platform administrators, agents and school administrators are always required.
    mfa_required_roles: list[str] = ["platform_admin", "agent", "school_admin"]
    mfa_optional_roles: list[str] = ["teacher", "homeroom_teacher", "grade_leader", "parent"]
    # Days a required role may still use the pages (with a banner) before it must enrol; 0:
    # it enrols at its next sign-in, before it reaches any page.
    mfa_grace_days: int = Field(default=0, ge=0, le=90)
    # Sensitive acts ask for a second-factor check no older than this (step-up).
    mfa_step_up_minutes: int = Field(default=15, ge=1, le=720)
    # A bulk password reset of more than this many pupils at once is a step-up act.
    mfa_step_up_bulk_reset_over: int = Field(default=5, ge=0)
    # The sign-in's second step: how long the pending sign-in lives, how many wrong codes it
    # takes before the password must be typed again.
    mfa_pending_minutes: int = Field(default=5, ge=1, le=30)
    mfa_pending_max_failures: int = Field(default=5, ge=1, le=20)
    # 记住此设备: days a browser may skip the second step after one (0: not offered). Never for
    # platform administrators (security.authz.second_factor_policy).
    mfa_remember_device_days: int = Field(default=0, ge=0, le=90)
    # The roles offered a code by SMS to their bound phone as a fallback at the second step
    # (never platform administrators), and how many such codes a person may be sent per hour.
    mfa_sms_roles: list[str] = []
    mfa_sms_hourly_limit: int = Field(default=5, ge=1, le=50)
    # Passkeys and security keys (WebAuthn, issue 19). A passkey is bound to the relying party
    # id, the site's domain ("campusid.example.cn"), and answers only pages served from the
    # origins listed ("https://campusid.example.cn"). Unset, both come from oidc_issuer; unset
    # too, outside production, from the address the request came to (development, tests; the
    # browser only offers passkeys on https or localhost). Set them in production.
    webauthn_rp_id: str | None = None
    webauthn_rp_name: str = "campusid"
    webauthn_origins: list[str] = Field(default_factory=list)
    # How long a ceremony's challenge stays good (the browser's prompt times out before).
    webauthn_challenge_seconds: int = Field(default=300, ge=30, le=900)
    # issue 21: a third-party application's consent lasts this many days, then the consent
    # page is shown again (CAMPUSID_OIDC_CONSENT_DAYS; 0: consents do not expire).
    oidc_consent_days: int = Field(default=365, ge=0, le=3650)
    # issue 21: Back-Channel Logout delivery (campusid.oidc.logout, through the outbox).
    # Each logout token is an outbox row (retried like an SMS: CAMPUSID_OUTBOX_*); one attempt
    # waits at most this long for the application's answer.
    oidc_backchannel_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # issue 20: `db purge` deletes outbox messages: sent ones this many days after they were
    # sent; dead letters (never retried) this many days after they were written, long enough
    # for a platform administrator to see and resend them.
    retention_outbox_sent_days: int = Field(default=30, ge=1)
    retention_outbox_dead_days: int = Field(default=180, ge=1)

    @property
    def is_development(self) -> bool:
        """Development and demo modes show the API docs (the outbox: development only)."""
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
