"""Issue 17: a roster upload and its confirmation report their progress on the board, which
the page reads through GET /school/{id}/roster/progress/{key} (its administrator only)."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select

from campusid.accounts.models import User
from campusid.roster.service import COLUMNS
from campusid.security.progress import MemoryProgressBoard, State
from tests.support.http import post_form, sign_in
from tests.support.schools import other_school, xlsx

ROWS = 450  # more than two reports' worth (every 200 rows)


class RecordingBoard(MemoryProgressBoard):
    """The memory board, also keeping every state reported (to see the bar move)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[State] = []

    def report(self, key: str, owner: str, state: State) -> None:
        self.seen.append(state)
        super().report(key, owner, state)


def _upload(n: int) -> bytes:
    cells = [{"操作": "新建", "姓名": f"进度生{i:03d}", "班级": "五年级2班"} for i in range(n)]
    rows = [[each.get(c, "") for c in COLUMNS] for each in cells]
    return xlsx(rows)


def test_upload_and_confirmation_report_progress_to_their_admin(
    client, world, db, services, make_client, monkeypatch
):
    board = RecordingBoard()
    monkeypatch.setattr(services, "progress", board)
    school = world.school.id
    sign_in(client, "xx_admin")
    before = db.scalar(select(func.count()).select_from(User))

    key = secrets.token_hex(16)
    assert client.get(f"/school/{school}/roster/progress/{key}").status_code == 404
    preview = post_form(
        client,
        f"/school/{school}/roster/import",
        {"progress_key": key},
        files={"file": ("学生.xlsx", _upload(ROWS), "application/octet-stream")},
    )
    assert preview.status_code == 200, preview.text
    assert 'data-progress="/school/' in preview.text and "<progress" in preview.text
    answer = client.get(f"/school/{school}/roster/progress/{key}")
    assert answer.status_code == 200
    assert answer.json() == {"done": 2 * ROWS, "total": 2 * ROWS, "phase": "done"}
    assert {"check", "plan"} <= {s.phase for s in board.seen}
    assert "write" not in {s.phase for s in board.seen}  # a preview writes nothing

    board.seen.clear()
    confirm_key = secrets.token_hex(16)
    token = re.search(r'name="token" value="([^"]+)"', preview.text)
    assert token
    done = post_form(
        client,
        f"/school/{school}/roster/import/confirm",
        {"token": token.group(1), "progress_key": confirm_key},
    )
    assert done.status_code == 200 and "导入成功" in done.text
    answer = client.get(f"/school/{school}/roster/progress/{confirm_key}")
    assert answer.json() == {"done": 3 * ROWS, "total": 3 * ROWS, "phase": "done"}
    phases = [s.phase for s in board.seen]
    assert phases[0] == "read" and phases[-1] == "done"
    assert phases.index("check") < phases.index("plan") < phases.index("write")
    assert sum(1 for p in phases if p == "check") >= 3  # every 200 rows, and the rest
    dones = [s.done for s in board.seen]
    assert dones == sorted(dones)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == before + ROWS

    # Another school's administrator reads nothing: not through this school, nor their own.
    school2, _, _ = other_school(db, services)
    other = make_client()
    sign_in(other, "yy_admin")
    assert other.get(f"/school/{school}/roster/progress/{confirm_key}").status_code in (403, 404)
    assert other.get(f"/school/{school2.id}/roster/progress/{confirm_key}").status_code == 404
    # A teacher of the school neither.
    teacher = make_client()
    sign_in(teacher, "zhaoshuxue")
    assert teacher.get(f"/school/{school}/roster/progress/{confirm_key}").status_code in (403, 404)


def test_a_key_the_server_cannot_use_is_ignored_and_the_import_still_runs(client, world, services):
    sign_in(client, "xx_admin")
    preview = post_form(
        client,
        f"/school/{world.school.id}/roster/import",
        {"progress_key": "../bad key"},
        files={"file": ("学生.xlsx", _upload(3), "application/octet-stream")},
    )
    assert preview.status_code == 200
    bad = f"/school/{world.school.id}/roster/progress/..%2Fbad%20key"
    assert client.get(bad).status_code == 404
