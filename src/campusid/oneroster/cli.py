"""`campusid oneroster export`: the OneRoster 1.2 CSV bulk export of a school or the region."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from campusid.config import get_settings

oneroster_app = typer.Typer(help="OneRoster 1.2 rostering (issue 22).", no_args_is_help=True)
console = Console()


@oneroster_app.command("export")
def export_command(
    out: Path = typer.Argument(..., dir_okay=False, help="The .zip to write."),
    school: int | None = typer.Option(None, "--school", help="The school's id (else the region)."),
    demographics: bool = typer.Option(
        False, "--demographics", help="Include phone numbers and email addresses."
    ),
) -> None:
    """Write the OneRoster 1.2 CSV bulk export (manifest.csv, orgs.csv, users.csv, …) of one
    school, or of every school of the region."""
    from sqlalchemy import select

    from campusid.audit import service as audit
    from campusid.audit.actions import AuditAction
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.oneroster import export, service
    from campusid.org.models import School
    from campusid.org.schoolyear import calendar_for

    services = build_services(get_settings())
    with transaction(services.session_factory) as db:
        if school is not None and db.scalar(select(School.id).where(School.id == school)) is None:
            console.print(f"[red]没有编号为 {school} 的学校[/red]")
            raise typer.Exit(1)
        school_ids = frozenset({school}) if school is not None else service.all_school_ids(db)
        roster = service.Roster(
            db,
            school_ids,
            calendar_for(services.settings, services.clock),
            base=(services.settings.oidc_issuer or "").rstrip("/"),
            demographics=demographics,
        )
        size = 0
        with out.open("wb") as handle:
            for chunk in export.stream_zip(roster):
                handle.write(chunk)
                size += len(chunk)
        audit.record(
            db,
            now=services.clock.now(),
            action=AuditAction.ONEROSTER_EXPORTED,
            school_id=school,
            detail={"export_of": "school" if school is not None else "region", "via": "cli"},
        )
    console.print(f"[green]已导出[/green] {out} ({size} bytes, {len(school_ids)} school(s))")
