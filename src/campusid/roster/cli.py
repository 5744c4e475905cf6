"""`campusid roster import|export`: the same all-or-nothing import, from the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from campusid.config import get_settings

roster_app = typer.Typer(
    help="批量导入/导出学生 (Excel roster import and export).", no_args_is_help=True
)
console = Console()

CLI_MAX_BYTES = 64 * 1024 * 1024
CLI_MAX_ROWS = 500_000


@roster_app.command("import")
def import_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The .xlsx to import."),
    school: int = typer.Option(..., "--school", help="The school's id."),
    errors: Path | None = typer.Option(None, help="Where to write the error file if refused."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check the file and say what it would do; write nothing."
    ),
) -> None:
    """Import students from an .xlsx: every row, or none and an error file with the reasons."""
    from campusid.audit.service import Actor
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.org.schoolyear import calendar_for
    from campusid.org.tree import load_school
    from campusid.roster import excel, service
    from campusid.roster.excel import Limits

    services = build_services(get_settings())
    data = file.read_bytes()
    limits = Limits(max_bytes=CLI_MAX_BYTES, max_uncompressed=CLI_MAX_BYTES * 40)
    result = None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        reading = bar.add_task("读取文件 (reading)", total=None)
        try:
            table = service.read_upload(data, limits=limits, max_rows=CLI_MAX_ROWS)
        except excel.UnsafeFile as exc:
            console.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(2) from exc
        bar.update(reading, total=1, completed=1)
        size = max(len(table.rows), 1)
        tasks = {
            "check": bar.add_task("检查 (checking)", total=size),
            "plan": bar.add_task("核对 (planning)", total=size),
        }
        if not dry_run:
            tasks["write"] = bar.add_task("写入 (writing)", total=size)

        def progress(phase: str, count: int) -> None:
            if phase in tasks:
                bar.advance(tasks[phase], count)

        with transaction(services.session_factory) as db:
            found = load_school(db, school)
            if found is None:
                console.print(f"[red]学校 {school} 不存在[/red]")
                raise typer.Exit(2)
            result = service.import_rows(
                db,
                school=found,
                calendar=calendar_for(services.settings, services.clock),
                header=table.header,
                rows=table.rows,
                numbers=table.numbers,
                now=services.clock.now(),
                actor=Actor(user_id=None),
                progress=progress,
                dry_run=dry_run,
            )
    assert result is not None
    if result.file_error:
        console.print(f"[red]{result.file_error}[/red]")
        raise typer.Exit(2)
    if result.errors:
        target = errors or file.with_name(file.stem + "-错误原因.xlsx")
        target.write_bytes(service.error_workbook(result))
        console.print(f"[red]{len(result.errors)} 行有误,全部未导入[/red];错误原因已写入 {target}")
        counts = result.counts
        console.print(
            "  "
            + ", ".join(f"{kind} {counts[kind]}" for kind in (*service.KINDS, service.KIND_ERROR))
        )
        for index, reason in sorted(result.errors.items())[:10]:
            console.print(f"  第{result.number(index)}行: {reason}")
        raise typer.Exit(1)
    summary = result.summary
    counts = result.counts
    kinds = ", ".join(f"{kind} {counts[kind]}" for kind in (*service.KINDS, service.KIND_ERROR))
    if dry_run:
        console.print(
            f"[yellow]预览（未写入）[/yellow] {result.total} 行：{kinds}；"
            f"{result.change_count} 处变更"
        )
        return
    console.print(
        f"[green]导入成功[/green] {result.total} 行, {result.change_count} 处变更 ({kinds}): "
        f"新建 {summary['created']}, "
        f"已有账号加入 {summary['attached']}, 换班 {summary['moved']}, "
        f"绑身份证 {summary['id_cards_bound']}, 关联家长 {summary['parents_linked']}"
    )


@roster_app.command("export")
def export_command(
    school: int = typer.Option(..., "--school", help="The school's id."),
    output: Path = typer.Option(Path("students.xlsx"), "--output", "-o"),
    teachers: bool = typer.Option(False, help="Export the teachers instead of the students."),
) -> None:
    """Export the school's students (or teachers) to an .xlsx, identifiers masked."""
    from campusid.context import build_services
    from campusid.db import transaction
    from campusid.org.schoolyear import calendar_for
    from campusid.org.tree import load_school
    from campusid.roster import service

    services = build_services(get_settings())
    with transaction(services.session_factory) as db:
        found = load_school(db, school)
        if found is None:
            console.print(f"[red]学校 {school} 不存在[/red]")
            raise typer.Exit(2)
        export = service.export_teachers if teachers else service.export_students
        output.write_bytes(
            export(db, school=found, calendar=calendar_for(services.settings, services.clock))
        )
    console.print(f"[green]已导出[/green] {output}")
