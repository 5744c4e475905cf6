"""The long-lived parts of the app, built once and handed to services explicitly."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from campusid import outbox
from campusid.clock import Clock, FileClock, SystemClock
from campusid.config import Settings
from campusid.counts import CountCache, NoCountCache, make_count_cache
from campusid.db import make_engine, make_session_factory
from campusid.security import crypto
from campusid.security.passwords import Hasher
from campusid.security.progress import MemoryProgressBoard, ProgressBoard, RedisProgressBoard
from campusid.security.ratelimit import RateLimits
from campusid.security.sessions import (
    DatabaseSessionStore,
    Lifetimes,
    RedisSessionStore,
    SessionStore,
)
from campusid.security.throttle import (
    DeviceCookies,
    FailureStore,
    MemoryFailureStore,
    RedisFailureStore,
    Throttle,
    ThrottlePolicy,
)
from campusid.senders import (
    HttpSmsGateway,
    MailSender,
    OutboxMailSender,
    OutboxSmsSender,
    SmsSender,
    SmtpMailSender,
    Transport,
)

log = logging.getLogger("campusid.outbox")

# issue 21: outbox channels beyond SMS and mail, each with the factory of its transport,
# registered by the domain that queues them (campusid.domains: `logout`, the Back-Channel
# Logout tokens of campusid.oidc.logout). The base imports no domain, hence the registry.
_TRANSPORTS: dict[str, Callable[[Services], Transport]] = {}


def register_transport(channel: str, factory: Callable[[Services], Transport]) -> None:
    """Deliver the outbox's `channel` rows with the transport `factory(services)` makes."""
    _TRANSPORTS[channel] = factory


@dataclass
class Services:
    """Settings, clock, database, hasher, rate limits and the session store of one app."""

    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]
    hasher: Hasher
    limits: RateLimits
    sessions: SessionStore
    sms: SmsSender
    mail: MailSender
    throttle: Throttle
    redis: Any = None
    progress: ProgressBoard = field(default_factory=MemoryProgressBoard)  # issue 17
    roster_counts: CountCache = field(default_factory=NoCountCache)  # issue 22
    # issue 20: small per-app caches of database-kept settings (the service calendar)
    caches: dict[str, Any] = field(default_factory=dict)
    # issue 20: the transactional outbox's policy and, when it runs in this process, its thread.
    outbox_policy: outbox.Policy = field(default_factory=outbox.Policy)
    outbox_thread: outbox.DispatcherThread | None = None

    def transports(self) -> dict[str, Transport | None]:
        """How each channel's outbox rows are delivered (None: kept, the development outbox)."""
        found: dict[str, Transport | None] = {
            "sms": self.sms.transport,
            "email": self.mail.transport,
        }
        found.update({channel: make(self) for channel, make in _TRANSPORTS.items()})
        return found

    def has_transports(self) -> bool:
        """Whether any channel delivers through a provider (else no row ever waits)."""
        return any(t is not None for t in self.transports().values())

    def deliver_outbox(self, keys: list[str] | None = None) -> outbox.Report:
        """Deliver one batch of due outbox messages (only these, if given)."""
        return outbox.dispatch(
            self.session_factory, self.clock, self.transports(), self.outbox_policy, keys=keys
        )

    def drain_outbox(self) -> outbox.Report:
        """Deliver every due outbox message (tests; `campusid outbox work --once`)."""
        return outbox.drain(self.deliver_outbox)

    def after_commit(self, session: Session) -> None:
        """The session's transaction committed: deliver what it wrote to the outbox, as the
        dispatch setting says. Never raises: the change is committed, a message that fails
        here waits for its retry."""
        keys, deferred = outbox.take_keys(session), outbox.take_deferred(session)
        if not keys:
            return
        mode = self.settings.outbox_dispatch
        thread = self.outbox_thread
        try:
            if mode == "inline":
                # Deferred messages (back-channel logout tokens) go to the thread, so the
                # request answers at once, however slow an application is; without a thread
                # (CAMPUSID_OUTBOX_THREAD=false: tests) the request offers them once too.
                if thread is None:
                    deferred = set()
                now = [key for key in keys if key not in deferred]
                if now:
                    self.deliver_outbox(now)
                if deferred and thread is not None:
                    thread.wake()
            elif mode == "thread" and thread is not None:
                thread.wake()
        except Exception:
            log.exception("outbox delivery after commit failed; the dispatcher will retry")


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    hasher: Hasher | None = None,
) -> Services:
    """Wire the app's parts from settings; tests pass their own clock, engine or hasher."""
    if settings.environment == "production" and not settings.data_key:
        raise RuntimeError("CAMPUSID_DATA_KEY must be set in production")
    if settings.environment == "production" and "secret_key" not in settings.model_fields_set:
        # issue 21: a random key per process would sign people out at every restart and differ
        # between workers.
        raise RuntimeError("CAMPUSID_SECRET_KEY must be set in production")
    crypto.configure(settings.data_key)
    if settings.clock_file and clock is None:
        if settings.environment == "production":
            raise RuntimeError("CAMPUSID_CLOCK_FILE is for test servers only")
        clock = FileClock(settings.clock_file)
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    lifetimes = Lifetimes(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )
    redis_client = None
    sessions: SessionStore
    failures: FailureStore
    if settings.redis_url:
        import redis

        redis_client = redis.Redis.from_url(settings.redis_url)
        sessions = RedisSessionStore(redis_client, lifetimes, prefix=settings.redis_prefix)
        limits = RateLimits(
            settings.redis_url,
            clock,
            prefix=settings.redis_prefix,
            secret=settings.secret_key,
        )
        failures = RedisFailureStore(
            redis_client,
            secret=settings.secret_key,
            prefix=settings.redis_prefix,
            memory_seconds=settings.login_pair_memory_seconds,
        )
    else:
        sessions = DatabaseSessionStore(lifetimes)
        limits = RateLimits("memory://", clock, secret=settings.secret_key)
        failures = MemoryFailureStore(
            secret=settings.secret_key, memory_seconds=settings.login_pair_memory_seconds
        )
    limits.define(
        "login.account", settings.login_account_limit, settings.login_account_window_seconds
    )
    limits.define(
        "login.address", settings.login_address_limit, settings.login_address_window_seconds
    )
    # issue 18: codes and passwords readable in the outbox only in development, and not for long.
    outbox_options: dict[str, Any] = {
        "keep_secrets": settings.environment == "development",
        "secret_minutes": settings.outbox_secret_minutes,
    }
    # issue 20: every message is an outbox row; a configured provider is its transport.
    sms: SmsSender = OutboxSmsSender(
        clock,
        **outbox_options,
        transport=(
            HttpSmsGateway(
                settings.sms_gateway_url,
                settings.sms_gateway_key or "",
                timeout=settings.sms_gateway_timeout_seconds,
            )
            if settings.sms_gateway_url
            else None
        ),
    )
    mail: MailSender = OutboxMailSender(
        clock,
        **outbox_options,
        transport=(
            SmtpMailSender(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_sender,
                username=settings.smtp_username,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
            )
            if settings.smtp_host
            else None
        ),
    )
    return Services(
        settings=settings,
        clock=clock,
        sms=sms,
        mail=mail,
        engine=engine,
        session_factory=make_session_factory(engine, clock),
        hasher=hasher or Hasher(max_concurrent=settings.password_hash_concurrency),
        limits=limits,
        sessions=sessions,
        redis=redis_client,
        outbox_policy=outbox.Policy(
            max_attempts=settings.outbox_max_attempts,
            backoff_seconds=settings.outbox_backoff_seconds,
            backoff_max_seconds=settings.outbox_backoff_max_seconds,
            lease_seconds=settings.outbox_lease_seconds,
            batch=settings.outbox_batch,
        ),
        roster_counts=make_count_cache(
            clock, settings.oneroster_count_seconds, redis_client, settings.redis_prefix
        ),
        progress=(
            RedisProgressBoard(redis_client, prefix=settings.redis_prefix)
            if redis_client is not None
            else MemoryProgressBoard()
        ),
        throttle=Throttle(
            store=failures,
            policy=ThrottlePolicy(
                captcha_after=settings.login_captcha_after_failures,
                delay_after=settings.login_delay_after_failures,
                delay_base_seconds=settings.login_delay_base_seconds,
                delay_max_seconds=settings.login_delay_max_seconds,
                memory_seconds=settings.login_pair_memory_seconds,
            ),
            devices=DeviceCookies(settings.secret_key),
            device_distrust_after=settings.login_device_distrust_after_failures,
            device_cookie_days=settings.login_device_cookie_days,
            password_change_tries=settings.password_change_max_failures,
        ),
    )
