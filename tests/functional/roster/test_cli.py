"""`campusid roster import|export` against its own SQLite database, as an operator runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from campusid.cli import app
from campusid.config import get_settings
from campusid.roster.service import COLUMNS
from tests.support.schools import id_card, read_xlsx, xlsx


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CAMPUSID_DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo"]).exit_code == 0
    yield url
    get_settings.cache_clear()


def _row(**cells: str) -> list[str]:
    return [cells.get(c, "") for c in COLUMNS]


def test_cli_import_all_or_nothing_and_export(database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "good.xlsx"
    new_id = id_card(birth="20160404", seq="404")
    good.write_bytes(xlsx([_row(姓名="命令行生", 班级="五年级2班", 身份证号=new_id)]))
    result = runner.invoke(app, ["roster", "import", str(good), "--school", "1", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "预览（未写入）" in result.output and "新建 1" in result.output
    assert "1 处变更" in result.output
    engine = create_engine(database)
    with engine.connect() as conn:
        from campusid.accounts.models import User

        assert conn.scalar(select(User.id).where(User.real_name == "命令行生")) is None
    engine.dispose()
    result = runner.invoke(app, ["roster", "import", str(good), "--school", "1"])
    assert result.exit_code == 0, result.output
    assert "导入成功" in result.output and "新建 1" in result.output
    # The export imported back unchanged: nothing to do.
    exported = tmp_path / "again.xlsx"
    assert (
        runner.invoke(app, ["roster", "export", "--school", "1", "-o", str(exported)]).exit_code
        == 0
    )
    result = runner.invoke(app, ["roster", "import", str(exported), "--school", "1"])
    assert result.exit_code == 0, result.output
    assert "0 处变更" in result.output

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([_row(姓名="好的", 班级="五年级2班"), _row(姓名="坏的", 班级="无此班")]))
    result = runner.invoke(app, ["roster", "import", str(bad), "--school", "1"])
    assert result.exit_code == 1
    assert "1 行有误,全部未导入" in result.output and "第3行" in result.output
    errors = read_xlsx((tmp_path / "bad-错误原因.xlsx").read_bytes())
    assert errors[2][-1] == "找不到班级「无此班」（须为本校未毕业的班级）"

    engine = create_engine(database)
    with engine.connect() as conn:
        from campusid.accounts.models import User

        names = set(conn.scalars(select(User.real_name)))
    engine.dispose()
    assert "命令行生" in names and "好的" not in names

    hostile = tmp_path / "hostile.xlsx"
    hostile.write_bytes(b"not a workbook")
    result = runner.invoke(app, ["roster", "import", str(hostile), "--school", "1"])
    assert result.exit_code == 2 and "不是 Excel" in result.output

    out = tmp_path / "students.xlsx"
    result = runner.invoke(app, ["roster", "export", "--school", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_xlsx(out.read_bytes())
    assert tuple(rows[0]) == COLUMNS and any(r[2] == "命令行生" for r in rows[1:])
    assert new_id not in str(rows)
