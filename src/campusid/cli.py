"""The `campusid` command: serve, migrate, demo data, the first platform administrator."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from campusid import domains, migrate
from campusid.config import get_settings

app = typer.Typer(
    help="campusid: the account platform of a regional K-12 education cloud.", no_args_is_help=True
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
oidc_app = typer.Typer(help="OpenID Connect provider commands.", no_args_is_help=True)
app.add_typer(oidc_app, name="oidc")
# school administration (issue 3): campusid roster import|export
from campusid.roster.cli import roster_app  # noqa: E402

app.add_typer(roster_app, name="roster")
# OneRoster 1.2 (issue 22): campusid oneroster export
from campusid.oneroster.cli import oneroster_app  # noqa: E402

app.add_typer(oneroster_app, name="oneroster")
console = Console()
# What the domains register in the base, as create_app() does (campusid.domains).
domains.install()


def _ensure_var_dir() -> None:
    path = get_settings().sqlite_path()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    _ensure_var_dir()
    migrate.upgrade(get_settings().database_url)
    console.print("[green]数据库已是最新结构[/green] (database migrated)")


@app.command()
def demo(force: bool = typer.Option(False, help="Load even if accounts exist.")) -> None:
    """Load the demo data (the guide's school) when the database is empty."""
    from campusid import demo as demo_data
    from campusid.context import build_services
    from campusid.db import transaction

    services = build_services(get_settings())
    with transaction(services.session_factory) as db:
        if not force and not demo_data.is_empty(db):
            console.print(
                "数据库中已有账号,未重新加载演示数据 (database not empty; demo not loaded)"
            )
            if not demo_data.is_loaded(db):
                return
            accounts = demo_data.DEMO_ACCOUNTS
        else:
            accounts = demo_data.load(db, services)
    table = Table(title="演示账号 (demo accounts)")
    for column in ("账号", "姓名", "角色", "密码", "说明"):
        table.add_column(column)
    for account in accounts:
        table.add_row(
            account.username, account.real_name, account.role, account.password, account.note
        )
    console.print(table)
    # The secrets on lines of their own, never wrapped by a narrow terminal (copy and paste).
    console.print("两步验证密钥 (TOTP secrets):")
    for account in accounts:
        if account.username in demo_data.DEMO_STAFF:
            secret = demo_data.demo_totp_secret(account.username)
            console.print(f"  {account.username:<12} {secret}", soft_wrap=True, highlight=False)
    console.print(
        "员工账号已启用两步验证：将密钥添加到身份验证器应用，或运行 `campusid totp-code 账号` "
        "读取当前动态验证码 (staff accounts have TOTP enrolled: add the secret to an "
        "authenticator app, or run `campusid totp-code LOGIN`)"
    )


@app.command("create-platform-admin")
def create_platform_admin(
    username: str = typer.Option(..., help="Login name, e.g. pt_admin."),
    real_name: str = typer.Option(..., help="The person's real name."),
) -> None:
    """Create a platform administrator; the password is asked for, never taken as an argument."""
    from campusid.accounts import service as accounts
    from campusid.accounts.models import User
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.identifiers import InvalidIdentifier, validate_username

    try:
        username = validate_username(username)
    except InvalidIdentifier as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    password = getpass.getpass("密码 (password): ") if sys.stdin.isatty() else sys.stdin.readline()
    password = password.strip()
    services = build_services(get_settings())
    with transaction(services.session_factory) as db:
        probe = User(username=username, real_name=real_name)
        problems = accounts.password_problems(probe, password)
        if problems:
            for problem in problems:
                console.print(f"[red]{problem}[/red]")
            raise typer.Exit(2)
        if accounts.find_by_login(db, username) is not None:
            console.print("[red]该用户名已被使用[/red]")
            raise typer.Exit(2)
        accounts.new_user(
            db,
            username=username,
            real_name=real_name,
            now=services.clock.now(),
            password_hash=services.hasher.hash(password),
            is_platform_admin=True,
        )
    console.print(f"[green]已创建平台管理员 {username}[/green]")


# --- onboarding (issue 16): districts and schools from the command line ---------------------
district_app = typer.Typer(help="District commands.", no_args_is_help=True)
app.add_typer(district_app, name="district")
school_app = typer.Typer(help="School commands.", no_args_is_help=True)
app.add_typer(school_app, name="school")


@district_app.command("create")
def district_create(
    name: str = typer.Option(..., help="The district's name, e.g. 柯桥区."),
) -> None:
    """Create a district; an existing name is reported and nothing is created (exit 1)."""
    from campusid.audit.service import ClientInfo
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.platform import schools

    services = build_services(get_settings())
    with transaction(services.session_factory) as db:
        try:
            district = schools.create_district(
                db,
                name=name,
                actor=schools.Actor(user_id=None, client=ClientInfo(), role=None),
                now=services.clock.now(),
            )
        except schools.OnboardingError as exc:
            for problem in exc.messages:
                console.print(f"[red]{problem}[/red]")
            raise typer.Exit(1) from exc
        district_id = district.id
    console.print(f"[green]已创建区县 {name}[/green] (id={district_id})")


@school_app.command("create")
def school_create(
    name: str = typer.Option(..., help="The school's name."),
    district: str = typer.Option(..., help="The district's name (see `campusid district create`)."),
    code: str = typer.Option(..., help="学校编码: 2-16 letters, digits or dashes, unique."),
    system: str = typer.Option("6-3", help="Default school system: 6-3 (六三制) or 5-4 (五四制)."),
    admin_name: str = typer.Option(..., help="The first administrator's real name."),
    admin_username: str = typer.Option("", help="Their username (generated when left out)."),
    admin_phone: str = typer.Option("", help="Their mobile number (optional)."),
) -> None:
    """Create a school and its first administrator; the one-time password is printed once.

    Running it again with the same code creates nothing: it says the school exists (exit 1).
    """
    from campusid.audit.service import ClientInfo
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.org.schoolyear import SchoolSystem
    from campusid.platform import schools

    try:
        school_system = SchoolSystem(system)
    except ValueError as exc:
        console.print("[red]学制须为 6-3(六三制)或 5-4(五四制)[/red]")
        raise typer.Exit(2) from exc
    services = build_services(get_settings())
    with transaction(services.session_factory) as db:
        found = schools.find_school_by_code(db, code)
        if found is not None:
            console.print(f"[yellow]学校编码 {found.code} 已存在:{found.name}(未创建)[/yellow]")
            raise typer.Exit(1)
        in_district = schools.find_district(db, district)
        if in_district is None:
            console.print(f"[red]区县「{district}」不存在,请先运行 campusid district create[/red]")
            raise typer.Exit(1)
        try:
            school, appointed = schools.create_school(
                db,
                name=name,
                district_id=in_district.id,
                code=code,
                system=school_system,
                new_admin=schools.NewAdmin(admin_name, admin_username, admin_phone),
                hasher=services.hasher,
                actor=schools.Actor(user_id=None, client=ClientInfo(), role=None),
                now=services.clock.now(),
            )
        except schools.OnboardingError as exc:
            for problem in exc.messages:
                console.print(f"[red]{problem}[/red]")
            raise typer.Exit(1) from exc
        school_name, school_code = school.name, school.code
        username, password = appointed.user.username, appointed.password
    console.print(f"[green]已创建学校 {school_name}[/green] (code={school_code})")
    console.print(f"管理员用户名 (username): {username}")
    console.print(f"一次性密码 (one-time password): {password}  (只显示这一次 / shown once)")
    console.print("首次登录须修改密码 (must be changed at the first sign-in)")


@oidc_app.command("rotate-key")
@oidc_app.command("rotate-keys")
def oidc_rotate_keys() -> None:
    """Start signing ID tokens with a new key; the old ones still verify for the grace period."""
    from datetime import timedelta

    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.oidc import keys

    settings = get_settings()
    services = build_services(settings)
    with transaction(services.session_factory) as db:
        key = keys.rotate_keys(
            db,
            secret_key=keys.sealing_secret(settings),
            now=services.clock.now(),
            grace=timedelta(hours=settings.oidc_key_grace_hours),
        )
        kid = key.kid
    console.print(f"[green]已启用新的签名密钥[/green] kid={kid}")


@oidc_app.command("register-client")
def oidc_register_client(
    name: str = typer.Option(..., help="The application's name, e.g. 班级圈."),
    redirect_uri: list[str] = typer.Option(..., help="Redirect URI (exact match); repeatable."),
    post_logout_uri: list[str] = typer.Option([], help="Post-logout redirect URI; repeatable."),
    scope: str = typer.Option("openid profile school family", help="Allowed scopes."),
    public: bool = typer.Option(False, help="A public client (no secret, PKCE required)."),
    first_party: bool = typer.Option(False, help="The platform's own app: no consent page."),
    admin: str = typer.Option("pt_admin", help="The platform administrator registering it."),
    write: Path | None = typer.Option(None, help="Also write client_id/secret to this JSON file."),
    reuse: bool = typer.Option(
        False, help="If a client of that name exists, give it a new secret."
    ),
    service_scope: list[str] = typer.Option(
        [], help="A service scope for client_credentials calls (issue 21); repeatable."
    ),
    backchannel_logout_uri: str = typer.Option(
        "", help="Where logout tokens are POSTed (Back-Channel Logout 1.0)."
    ),
    frontchannel_logout_uri: str = typer.Option(
        "", help="Loaded in an iframe when a person signs out (Front-Channel Logout 1.0)."
    ),
    frontchannel_logout_session_required: bool = typer.Option(
        False, help="The front-channel logout URI gets iss and sid query parameters."
    ),
) -> None:
    """Register an application (as the registry page does); the secret is printed once."""
    import json

    from campusid.accounts import service as accounts
    from campusid.audit.service import ClientInfo
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.oidc import service as oidc

    services = build_services(get_settings())
    form = oidc.ClientForm(
        name=name,
        redirect_uris=redirect_uri,
        post_logout_redirect_uris=post_logout_uri,
        scopes=scope.split(),
        is_confidential=not public,
        is_first_party=first_party,
        service_scopes=[
            s if s.startswith("https://") else oidc.ONEROSTER_SCOPE_BASE + s for s in service_scope
        ],
        backchannel_logout_uri=backchannel_logout_uri,
        frontchannel_logout_uri=frontchannel_logout_uri,
        frontchannel_logout_session_required=frontchannel_logout_session_required,
    )
    with transaction(services.session_factory) as db:
        actor = accounts.find_by_login(db, admin)
        if actor is None or not actor.is_platform_admin:
            console.print(f"[red]{admin} 不是平台管理员[/red]")
            raise typer.Exit(2)
        now = services.clock.now()
        existing = oidc.find_client_by_name(db, name) if reuse else None
        try:
            if existing is not None:
                oidc.update_client(
                    db, row=existing, form=form, actor=actor, now=now, client=ClientInfo()
                )
                secret = (
                    oidc.reset_secret(db, row=existing, actor=actor, now=now, client=ClientInfo())
                    if existing.is_confidential
                    else None
                )
                row = existing
            else:
                row, secret = oidc.create_client(
                    db, form=form, actor=actor, now=now, client=ClientInfo()
                )
        except oidc.ClientFormError as exc:
            for problem in exc.problems:
                console.print(f"[red]{problem}[/red]")
            raise typer.Exit(2) from exc
        client_id = row.client_id
    console.print(f"client_id: {client_id}")
    if secret:
        console.print(f"client_secret: {secret}  (只显示这一次 / shown once)")
    if write is not None:
        write.write_text(json.dumps({"client_id": client_id, "client_secret": secret}))
        write.chmod(0o600)


# --- performance (issue 10): the organisation counts kept by triggers ----------------------
@db_app.command("compact-counts")
def db_compact_counts() -> None:
    """Fold the member-count delta rows (run every minute or so, e.g. from a timer)."""
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.org import counts

    services = build_services(get_settings())
    with transaction(services.session_factory) as db:
        removed = counts.compact(db)
    console.print(f"已合并计数 (folded {removed} rows)")


@db_app.command("rebuild-counts")
def db_rebuild_counts() -> None:
    """Recount the organisation's members from scratch (after a bulk load without triggers)."""
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.org import counts

    services = build_services(get_settings())
    with transaction(services.session_factory) as db:
        counts.rebuild(db)
    console.print("[green]已重新统计成员数[/green] (member counts rebuilt)")


# --- operations (issue 20): retention and the database check ---------------------------------
@db_app.command("purge")
def db_purge() -> None:
    """Delete expired recovery flows, codes, captchas, sessions and audit rows past retention."""
    from campusid.context import build_services
    from campusid.ops.purge import purge_now

    services = build_services(get_settings())
    counts = purge_now(services)
    table = Table(title="已清理过期数据 (purged)")
    table.add_column("表 (table)")
    table.add_column("删除行数 (rows deleted)", justify="right")
    for name, count in counts.items():
        table.add_row(name, str(count))
    console.print(table)


@db_app.command("check")
def db_check(
    write_counts: Path | None = typer.Option(
        None, "--write-counts", help="Write the row counts as JSON to this file."
    ),
    expect_counts: Path | None = typer.Option(
        None, "--expect-counts", help="JSON row counts (another database's) that must match."
    ),
) -> None:
    """Check the database: migrations at head, tables match the models, row counts."""
    import json

    from campusid.db import make_engine
    from campusid.ops.check import check, compare_counts

    engine = make_engine(get_settings().database_url)
    try:
        report = check(engine)
    finally:
        engine.dispose()
    if expect_counts is not None and report.ok:
        compare_counts(report, json.loads(expect_counts.read_text()))
    table = Table(title="数据库检查 (database check)")
    table.add_column("表 (table)")
    table.add_column("行数 (rows)", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, str(count))
    console.print(table)
    if write_counts is not None:
        write_counts.write_text(json.dumps(report.counts, indent=1, sort_keys=True))
    for problem in report.problems:
        console.print(f"[red]{problem}[/red]")
    if not report.ok:
        raise typer.Exit(1)
    console.print("[green]数据库检查通过[/green] (database check passed)")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1),
    reload: bool = typer.Option(False),
) -> None:
    """Serve the web application (Uvicorn; with --workers, one socket per worker)."""
    from campusid import serving

    _ensure_var_dir()
    serving.serve(host, port, workers=workers, reload=reload)


# --- the transactional outbox (issue 20) -----------------------------------------------------
outbox_app = typer.Typer(help="The outbox of SMS and mail (issue 20).", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("work")
def outbox_work(
    once: bool = typer.Option(False, help="Deliver what is due, then exit."),
    poll: float = typer.Option(0, help="Seconds between polls (0: CAMPUSID_OUTBOX_POLL_SECONDS)."),
) -> None:
    """Run the dispatcher: deliver the outbox's due messages, with retries (a process of its own,
    for CAMPUSID_OUTBOX_DISPATCH=worker; any number may run side by side)."""
    import signal
    import threading

    from campusid import outbox
    from campusid.context import build_services

    settings = get_settings()
    services = build_services(settings)
    if once:
        report = services.drain_outbox()
        console.print(
            f"已投递 {report.sent},待重试 {report.retrying},失败 {report.dead} "
            f"(sent {report.sent}, retrying {report.retrying}, dead {report.dead})"
        )
        return
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    interval = poll or settings.outbox_poll_seconds
    console.print(f"outbox worker started (poll {interval}s)")
    while not stopping.is_set():
        try:
            outbox.drain(services.deliver_outbox)
        except Exception as exc:
            console.print(f"[red]outbox dispatch failed[/red]: {type(exc).__name__}")
        stopping.wait(interval)


@outbox_app.command("list")
def outbox_list(
    status: str = typer.Option("", help="Only this status: pending, sent or dead."),
    limit: int = typer.Option(50),
) -> None:
    """The newest outbox messages (recipients masked; never a code)."""
    from campusid import outbox
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.identifiers import mask_email, mask_phone

    services = build_services(get_settings())
    table = Table("id", "status", "channel", "to", "template", "attempts", "next", "error")
    with transaction(services.session_factory) as db:
        for m in outbox.listing(db, status=status or None, limit=limit):
            masked = (
                mask_phone(m.recipient)
                if m.channel == "sms"
                else mask_email(m.recipient)
                if m.channel == "email"
                else m.recipient  # a back-channel logout token: the application's client id
            )
            table.add_row(
                str(m.id),
                m.status,
                m.channel,
                masked,
                m.template,
                str(m.attempts),
                m.next_attempt_at.isoformat(timespec="seconds") if m.next_attempt_at else "",
                m.last_error or "",
            )
        totals = outbox.counts(db)
    console.print(table)
    console.print(", ".join(f"{k} {v}" for k, v in sorted(totals.items())) or "empty")


@outbox_app.command("retry")
def outbox_retry(
    message_id: int = typer.Argument(..., help="The message's id (outbox list)."),
) -> None:
    """Send a dead letter again (a fresh count of attempts, the same idempotency key)."""
    from campusid import outbox
    from campusid.context import build_services
    from campusid.db import transaction

    services = build_services(get_settings())
    with transaction(services.session_factory) as db:
        done = outbox.retry(db, message_id, now=services.clock.now())
    if not done:
        console.print(f"[red]没有可重试的消息 {message_id}[/red] (no such message to retry)")
        raise typer.Exit(1)
    report = services.drain_outbox() if services.settings.outbox_dispatch != "worker" else None
    console.print(
        f"已重新排队 (queued again){f'; sent {report.sent}' if report is not None else ''}"
    )


@app.command("totp-code")
def totp_code(login: str = typer.Argument(..., help="The account's username.")) -> None:
    """Print the current two-step code of an account (development and demo only; issue 19)."""
    from sqlalchemy import select

    from campusid.accounts import factors
    from campusid.accounts.models import FactorKind, SecondFactor, User
    from campusid.context import build_services
    from campusid.db import transaction

    settings = get_settings()
    if not settings.is_development:
        console.print("[red]仅限开发和演示环境[/red] (development and demo environments only)")
        raise typer.Exit(1)
    services = build_services(settings)
    with transaction(services.session_factory) as db:
        secret = db.scalar(
            select(SecondFactor.secret)
            .join(User, User.id == SecondFactor.user_id)
            .where(
                User.username == login,
                SecondFactor.kind == FactorKind.TOTP.value,
                SecondFactor.confirmed_at.is_not(None),
            )
            .order_by(SecondFactor.id)
            .limit(1)
        )
    if not secret:
        console.print("[red]该账号未设置身份验证器[/red] (no authenticator enrolled)")
        raise typer.Exit(1)
    now = services.clock.now()
    step = factors.time_step(now)
    left = factors.STEP_SECONDS - int(now.timestamp()) % factors.STEP_SECONDS
    typer.echo(factors.code_at(secret, step))
    console.print(f"({left} 秒内有效 / valid for {left}s)", style="dim")


if __name__ == "__main__":
    app()
