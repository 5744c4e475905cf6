"""The `campusid` command: serve, migrate, demo data, the first platform administrator."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from campusid import migrate
from campusid.config import get_settings

app = typer.Typer(
    help="campusid: the account platform of a regional K-12 education cloud.", no_args_is_help=True
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
# school administration (issue 3): campusid roster import|export
from campusid.roster.cli import roster_app  # noqa: E402

app.add_typer(roster_app, name="roster")
console = Console()


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
    for db in transaction(services.session_factory):
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


@app.command("create-platform-admin")
def create_platform_admin(
    username: str = typer.Option(..., help="Login name, e.g. pt_admin."),
    real_name: str = typer.Option(..., help="The person's real name."),
) -> None:
    """Create a platform administrator; the password is asked for, never taken as an argument."""
    from campusid.accounts import service as accounts
    from campusid.accounts.identifiers import InvalidIdentifier, validate_username
    from campusid.accounts.models import User
    from campusid.context import build_services
    from campusid.db import transaction

    try:
        username = validate_username(username)
    except InvalidIdentifier as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    password = getpass.getpass("密码 (password): ") if sys.stdin.isatty() else sys.stdin.readline()
    password = password.strip()
    services = build_services(get_settings())
    for db in transaction(services.session_factory):
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


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1),
    reload: bool = typer.Option(False),
) -> None:
    """Serve the web application with Uvicorn."""
    import uvicorn

    _ensure_var_dir()
    uvicorn.run(
        "campusid.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        server_header=False,
    )


if __name__ == "__main__":
    app()
