"""批量导入/导出学生: the template, all-or-nothing import with an error file, and exports.

Import covers 新建 (create or attach a student, optionally with a parent), 换班, 绑身份证 and
绑家长. Every row is checked first (against the database, looked up in bulk, and against the rows
before it); if any row is bad nothing is written and the administrator gets the file back with
each bad row's reason. Otherwise every row lands in the caller's one transaction.
"""

from __future__ import annotations

import gc
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, aliased

from campusid.accounts.models import Gender, SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import Actor
from campusid.classes import enrolment
from campusid.classes.models import ClassStudent
from campusid.families.models import ParentLink
from campusid.i18n import N_
from campusid.identifiers import (
    MSG_REGISTRATION,
    mask_id_card,
    mask_phone,
    mask_registration_number,
)
from campusid.members import service as members
from campusid.members import teachers as staff
from campusid.members.batch import (
    IDENTIFIER_LABELS,
    Account,
    MemberError,
    Person,
    RosterBuilder,
    chunks,
    person_from,
    relation_from,
)
from campusid.org.models import ClassKind, Grade, School, SchoolClass
from campusid.org.schoolyear import Calendar
from campusid.roster import excel, writer
from campusid.roster.models import ImportErrorFile
from campusid.security.progress import ProgressBoard, State

OP_CREATE = "新建"
OP_MOVE = "换班"
OP_BIND_ID = "绑身份证"
OP_BIND_PARENT = "绑家长"
OP_EXAMPLE = "示例"
OPERATIONS = (OP_CREATE, OP_MOVE, OP_BIND_ID, OP_BIND_PARENT)
PARKED = "校区存放"
GRADUATED = "已毕业"

# What a row does, as the preview counts it.
KIND_NEW = "新建"
KIND_MOVE = "换班"
KIND_UPDATE = "更新"
KIND_SAME = "不变"
KIND_ERROR = "错误"
KINDS = (KIND_NEW, KIND_MOVE, KIND_UPDATE, KIND_SAME)
KIND_LABELS = {
    KIND_NEW: N_("新建"),
    KIND_MOVE: N_("换班"),
    KIND_UPDATE: N_("更新"),
    KIND_SAME: N_("不变"),
    KIND_ERROR: N_("错误"),
}

COLUMNS = (
    "操作",
    "账号",
    "姓名",
    "性别",
    "校区",
    "班级",
    "学号",
    "身份证号",
    "学籍号",
    "手机号",
    "家长姓名",
    "家长手机号",
    "家长关系",
)
TEXT_COLUMNS = ("账号", "学号", "身份证号", "学籍号", "手机号", "家长手机号")
REASON = "错误原因"
ERROR_FILE_TTL = timedelta(minutes=30)
PENDING_TTL = timedelta(minutes=30)
PENDING_NAME = "待确认导入"

INSTRUCTIONS = [
    (
        N_("操作"),
        N_(
            "留空：按账号、身份证号或学籍号找到本校学生并更新，找不到时新建；"
            "新建：确为新学生（即使本班已有同名学生）；换班、绑身份证、绑家长：只做该项操作；"
            "示例：该行不导入。"
        ),
    ),
    (
        N_("账号"),
        N_("导出文件中已填好，用来找到学生，请勿修改；也可填写用户名、身份证号或学籍号。"),
    ),
    (N_("姓名"), N_("学生姓名。新建时必填；其他操作填写时须与账号一致。")),
    (N_("性别"), N_("男 或 女，可留空。")),
    (N_("校区"), N_("班级名称在多个校区重复时填写，否则可留空。")),
    (
        N_("班级"),
        N_(
            "新建、换班时必填：如 三年级1班，或班级编码（如 gu22cm）。"
            "导出文件中的「校区存放」「已毕业」原样保留即可。"
        ),
    ),
    (N_("学号"), N_("可留空。")),
    (N_("身份证号"), N_("18位身份证号，请以文本格式填写（不要用数字格式）。绑身份证时必填。")),
    (N_("学籍号"), N_("可留空。")),
    (N_("手机号"), N_("学生本人手机号，可留空。")),
    (
        N_("家长姓名 / 家长手机号 / 家长关系"),
        N_("绑家长时必填；新建时填写则同时添加家长。关系：父亲、母亲、其他监护人。"),
    ),
    (
        N_("说明"),
        N_(
            "身份证号、学籍号、手机号均可作为登录账号。已有账号的学生、家长加入本校，原密码不变；"
            "新建的账号使用学校的学生默认密码，首次登录须修改。"
        ),
    ),
    (
        N_("说明"),
        N_(
            "上传后先显示预览（新建、换班、更新、不变各多少行），确认后才导入；"
            "只要有一行有误，全部不导入，并返回标注了错误原因的文件，改正后重新上传即可。"
        ),
    ),
    (
        N_("说明"),
        N_("导出文件中的身份证号、手机号已脱敏（含*），再次导入时含*的值视为不变。"),
    ),
    (N_("说明"), N_("单元格中的公式不会被计算，按文字处理。")),
]
EXAMPLE = [
    OP_EXAMPLE,
    "",
    "张小明",
    "男",
    "",
    "三年级1班",
    "01",
    "",
    "",
    "",
    "张大明",
    "13900001234",
    "父亲",
]

Progress = Callable[[str, int], None]
# issue 17: `progress(phase, count)` is called with `count` more rows done in "check" (reading
# each row), "plan" (checking it against the database) and "write", every PROGRESS_EVERY rows.
PROGRESS_EVERY = 200


@contextmanager
def cycles_unchecked() -> Iterator[None]:
    """Python's cycle collector paused while an upload is read, checked and written.

    An import of 100,000 rows keeps several hundred thousand objects alive until it ends (the
    rows, the people, the accounts, the plan), none of them garbage, and the collector's full
    passes went over every one of them again and again as they grew: 2 of the 14 s the import
    took. Reference counting frees everything else as usual; the collector is switched back
    on (if it was on) when the work ends, however it ends, and then finds whatever cycles this
    or another thread left meanwhile. Two imports at once may overlap: the first to finish
    switches it on again early, which costs time, not correctness.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def template_bytes() -> bytes:
    """The import template: the 学生 sheet with Chinese headers and an example, and 填写说明."""
    return excel.write_workbook(
        [
            ("学生", list(COLUMNS), [EXAMPLE]),
            ("填写说明", ["列", "说明"], INSTRUCTIONS),
        ],
        widths={"学生": [10, 18, 10, 6, 14, 14, 8, 22, 22, 14, 10, 14, 10], "填写说明": [28, 100]},
        text_columns=_text_columns(COLUMNS),
    )


def _text_columns(header: list[str] | tuple[str, ...]) -> dict[str, list[int]]:
    """The 学生 sheet's identifier columns, formatted as text."""
    return {"学生": [index for index, name in enumerate(header) if name in TEXT_COLUMNS]}


@dataclass
class ImportResult:
    """What an import did (or, for a preview, would do), or why it did nothing."""

    total: int = 0
    errors: dict[int, str] = field(default_factory=dict)  # 0-based data row -> reason
    file_error: str | None = None
    summary: dict[str, int] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    kinds: dict[int, str] = field(default_factory=dict)  # 0-based data row -> KIND_*
    changes: dict[int, list[str]] = field(default_factory=dict)  # what changes in the row
    examples: list[int] = field(default_factory=list)  # the template's example rows, skipped
    written: bool = False
    numbers: list[int] | None = None  # each row's number in the file (else index + 2)

    def number(self, index: int) -> int:
        """The row's number in the file, as Excel shows it."""
        return self.numbers[index] if self.numbers is not None else index + 2

    @property
    def ok(self) -> bool:
        """Whether every row was (or can be) imported."""
        return self.file_error is None and not self.errors

    @property
    def counts(self) -> dict[str, int]:
        """Rows of each kind (新建, 换班, 更新, 不变) and the rows in error (错误)."""
        counts = dict.fromkeys(KINDS, 0)
        for kind in self.kinds.values():
            counts[kind] += 1
        counts[KIND_ERROR] = len(self.errors)
        return counts

    @property
    def change_count(self) -> int:
        """How many rows change something (the "N 处变更" of the summary)."""
        return sum(1 for kind in self.kinds.values() if kind != KIND_SAME)

    def value(self, row: list[str], name: str) -> str:
        """A row's cell in the named column ("" if the file has no such column)."""
        index = _columns(self.header).get(name)
        return row[index] if index is not None and index < len(row) else ""

    def rows_of(self, kind: str, most: int = 200) -> list[tuple[int, list[str], list[str]]]:
        """The rows of one kind: (row number in the file, cells, what changes), at most `most`."""
        found = [
            (self.number(index), self.rows[index], self.changes.get(index, []))
            for index, each in sorted(self.kinds.items())
            if each == kind
        ]
        return found[:most]


@dataclass
class Current:
    """A student of the school as the import finds them."""

    user_id: int
    username: str
    real_name: str
    gender: Gender | None
    class_id: int | None = None  # an active administrative class
    class_student_id: int | None = None
    student_number: str | None = None
    graduated: bool = False  # in a graduated class and no active one
    parents: set[str] = field(default_factory=set)  # the linked parents' names


def _school_students(
    db: Session, school: School, active: dict[int, str]
) -> tuple[dict[int, Current], dict[tuple[str, int], list[Current]]]:
    """The school's current students (by id) and, by (name, class), those in active classes."""
    students: dict[int, Current] = {}
    for user_id, username, real_name, gender in db.execute(
        select(User.id, User.username, User.real_name, User.gender)
        .join(SchoolMembership, SchoolMembership.user_id == User.id)
        .where(SchoolMembership.current(school_id=school.id, role=SchoolRole.STUDENT))
    ):
        students[user_id] = Current(user_id, username, real_name, gender)
    for row_id, student_id, class_id, number in db.execute(
        select(
            ClassStudent.id,
            ClassStudent.student_id,
            ClassStudent.class_id,
            ClassStudent.student_number,
        )
        .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
        .where(SchoolClass.school_id == school.id, SchoolClass.kind == ClassKind.ADMINISTRATIVE)
    ):
        current = students.get(student_id)
        if current is None:
            continue
        if class_id in active:
            current.class_id, current.class_student_id = class_id, row_id
            current.student_number = number
            current.graduated = False
        elif current.class_id is None:
            current.graduated = True
    ids = sorted(students)
    parent = aliased(User)
    for start in range(0, len(ids), 500):
        for child_id, name in db.execute(
            select(ParentLink.child_id, parent.real_name)
            .join(parent, parent.id == ParentLink.parent_id)
            .where(ParentLink.child_id.in_(ids[start : start + 500]))
        ):
            students[child_id].parents.add(name)
    by_place: dict[tuple[str, int], list[Current]] = {}
    for current in students.values():
        if current.class_id is not None:
            by_place.setdefault((current.real_name, current.class_id), []).append(current)
    return students, by_place


class ClassDirectory:
    """The school's active classes by 班级编码, by name within a campus, or by name alone.

    `names` are the labels the administrator is shown (with campus and enrollment year where
    names repeat); rows are matched against the plain names (三年级1班).
    """

    def __init__(self, db: Session, school: School, calendar: Calendar) -> None:
        self.names = members.active_class_names(db, school, calendar)
        plain = members.active_class_names(db, school, calendar, plain=True)
        campus_names = {c.id: c.name for c in school.campuses}
        self.by_code: dict[str, int] = {}
        self.code: dict[int, str] = {}
        self.by_name: dict[str, set[int]] = {}
        self.by_campus_name: dict[tuple[str, str], set[int]] = {}
        for class_id, code, campus_id in db.execute(
            select(SchoolClass.id, SchoolClass.class_code, SchoolClass.campus_id).where(
                SchoolClass.school_id == school.id, SchoolClass.kind == ClassKind.ADMINISTRATIVE
            )
        ):
            if class_id not in plain:
                continue
            name = plain[class_id]
            campus = campus_names.get(campus_id, "")
            self.by_code[code.lower()] = class_id
            self.code[class_id] = code
            self.by_name.setdefault(name, set()).add(class_id)
            self.by_campus_name.setdefault((campus, name), set()).add(class_id)

    def resolve(self, text: str, campus: str) -> int:
        """The class a row names; MemberError if none or ambiguous (naming the candidates)."""
        value = text.strip()
        if not value:
            raise MemberError("请填写班级")
        if value.lower() in self.by_code:
            return self.by_code[value.lower()]
        if campus:
            matches = self.by_campus_name.get((campus.strip(), value), set())
            if not matches:
                raise MemberError(
                    N_("校区「%(campus)s」没有班级「%(name)s」", campus=campus, name=value)
                )
        else:
            matches = self.by_name.get(value, set())
            if not matches:
                raise MemberError(N_("找不到班级「%(name)s」（须为本校未毕业的班级）", name=value))
        if len(matches) > 1:
            candidates = "、".join(
                N_("%(label)s（编码 %(code)s）", label=self.names[c], code=self.code[c])
                for c in sorted(matches, key=lambda c: self.names[c])
            )
            raise MemberError(
                N_(
                    "有多个班级叫「%(name)s」：%(candidates)s。请填写校区，或在班级列填写班级编码",
                    name=value,
                    candidates=candidates,
                )
            )
        return next(iter(matches))


def _unmasked(value: str) -> str:
    """Masked values from an export (with *) count as blank."""
    return "" if "*" in value else value


def _columns(header: list[str]) -> dict[str, int]:
    return {name.strip(): index for index, name in enumerate(header) if name and name.strip()}


def _unescaped(value: str) -> str:
    """A cell as exported: the apostrophe that kept a formula-like text from running, dropped."""
    if value.startswith("'") and value[1:2] and value[1] in excel.FORMULA_STARTS:
        return value[1:]
    return value


def _column(rows: list[list[str]], index: int | None) -> list[str]:
    """One column's cells as the checks read them: stripped, unescaped, "" where a row is
    short or the file has no such column. Computed once for the whole file: the checks read
    some cells of a row twice or three times, and cleaning a cell on every read cost 1.6
    million calls for 100,000 rows."""
    if index is None:
        return [""] * len(rows)
    cells = [row[index].strip() if index < len(row) else "" for row in rows]
    return [_unescaped(value) if value.startswith("'") else value for value in cells]


def _cells(rows: list[list[str]], columns: dict[str, int]) -> dict[str, list[str]]:
    """Each of our columns (`COLUMNS`) as the checks read it, by name: ``cells[name][row]``."""
    return {name: _column(rows, columns.get(name)) for name in COLUMNS}


def _is_example(op: str, name: str, parent_phone: str) -> bool:
    """The template's example row (marked 示例; older templates: 张小明 with 张大明's number)."""
    return op == OP_EXAMPLE or (name == "张小明" and parent_phone == EXAMPLE[11])


@dataclass
class _Planner:
    """The state of one import's check: what the rows found and what they change."""

    builder: RosterBuilder
    directory: ClassDirectory
    students: dict[int, Current]
    by_place: dict[tuple[str, int], list[Current]]
    seen: dict[int, str] = field(default_factory=dict)  # student id -> the row that named them
    new_places: dict[tuple[str, int], str] = field(default_factory=dict)  # (name, class) -> row
    numbers: list[tuple[int, str | None]] = field(default_factory=list)  # class place -> 学号
    genders: list[tuple[int, Gender]] = field(default_factory=list)


@dataclass
class _Line:
    """One row of the file as the planner reads it: its 操作, the people it names, its cells
    (the row `index` of the file's `cells`), its label (第n行), and the changes it makes, for
    the preview."""

    op: str
    student: Person | None
    parent: Person | None
    cells: dict[str, list[str]]
    index: int
    label: str
    changes: list[str] = field(default_factory=list)

    def value(self, column: str) -> str:
        """The row's cell under that column (blank if the file has no such column)."""
        found = self.cells.get(column)
        return found[self.index] if found is not None else ""


@cycles_unchecked()
def import_rows(
    db: Session,
    *,
    school: School,
    calendar: Calendar,
    header: list[str],
    rows: list[list[str]],
    now: datetime,
    actor: Actor,
    progress: Progress | None = None,
    dry_run: bool = False,
    numbers: list[int] | None = None,
) -> ImportResult:
    """Check every row, then write them all (unless `dry_run`: a preview that writes nothing),
    or nothing with every bad row's reason.

    A row that names a student of the school (账号, or an ID card number or 学籍号 that matches)
    changes only what differs; an unchanged row is skipped. Other rows create (or attach) a
    student, but never a second account for someone already in the class with the same name,
    unless 操作 says 新建.
    """
    result = ImportResult(total=len(rows), header=header, rows=rows, numbers=numbers)
    columns = _columns(header)
    missing = [c for c in ("姓名", "班级") if c not in columns]
    if missing:
        result.file_error = N_(
            "表头缺少：%(columns)s，请使用下载的模板", columns="、".join(missing)
        )
        return result
    if not rows:
        result.file_error = "文件中没有数据行"
        return result

    cells = _cells(rows, columns)
    suspects = _typed_suspects(rows, columns)
    directory = ClassDirectory(db, school, calendar)
    builder = RosterBuilder(db, school=school, class_names=directory.names, today=calendar.today)

    # 1. Parse each row's people (no database yet).
    parsed: list[tuple[str, Person | None, Person | None] | None] = []
    for index, row in enumerate(rows):
        op = cells["操作"][index]
        if _is_example(op, cells["姓名"][index], cells["家长手机号"][index]):
            result.examples.append(index)
            parsed.append(None)
            continue
        try:
            if op and op not in OPERATIONS:
                raise MemberError("操作须为新建、换班、绑身份证或绑家长")
            if index in suspects:
                _check_typed(row, columns)
            student = None
            id_card, registration = cells["身份证号"][index], cells["学籍号"][index]
            if op in ("", OP_CREATE) or id_card or registration:
                student = person_from(
                    real_name=cells["姓名"][index],
                    require_name=op in ("", OP_CREATE),
                    gender=cells["性别"][index],
                    id_card_number=_unmasked(id_card),
                    registration_number=_unmasked(registration),
                    phone=_unmasked(cells["手机号"][index]),
                    today=calendar.today,
                )
            parent = None
            parent_name, parent_phone = cells["家长姓名"][index], cells["家长手机号"][index]
            if op == OP_BIND_PARENT or (op in ("", OP_CREATE) and (parent_name or parent_phone)):
                parent = person_from(
                    real_name=parent_name,
                    phone=_unmasked(parent_phone) or None,
                    today=calendar.today,
                    label="家长",
                )
            parsed.append((op, student, parent))
        except MemberError as exc:
            result.errors[index] = _explained(exc.message)
            parsed.append(None)
        if progress and index % PROGRESS_EVERY == PROGRESS_EVERY - 1:
            progress("check", PROGRESS_EVERY)
    if progress and len(rows) % PROGRESS_EVERY:
        progress("check", len(rows) % PROGRESS_EVERY)

    _duplicates(result, parsed)

    # 2. Look everyone up in bulk, then check each row against the database and earlier rows.
    persons = [p for item in parsed if item for p in item[1:] if p is not None]
    logins = [_unmasked(login) for login in cells["账号"]]
    builder.preload(persons, [login for login in logins if login])
    students, by_place = _school_students(db, school, directory.names)
    planner = _Planner(builder, directory, students, by_place)
    for index, item in enumerate(parsed):
        if progress and index % PROGRESS_EVERY == PROGRESS_EVERY - 1:
            progress("plan", PROGRESS_EVERY)
        if item is None or index in result.errors:
            continue
        op, student, parent = item
        label = N_("第%(n)s行", n=result.number(index))
        line = _Line(op, student, parent, cells, index, label)
        changes = line.changes
        try:
            if op in ("", OP_CREATE, OP_MOVE):
                kind = _plan_student(planner, line)
            else:
                _plan_row(builder, line)
                kind = KIND_UPDATE
                changes.append(
                    N_("绑定%(identifier)s", identifier=IDENTIFIER_LABELS["id_card_number"])
                    if op == OP_BIND_ID
                    else N_("添加家长")
                )
        except MemberError as exc:
            result.errors[index] = exc.message
            continue
        result.kinds[index] = kind
        result.changes[index] = changes
    if progress and len(rows) % PROGRESS_EVERY:
        progress("plan", len(rows) % PROGRESS_EVERY)
    if result.errors:
        return result  # the other rows' kinds stay: the page counts them with the errors
    if dry_run:
        result.summary = {**builder.plan.summary(), **_row_summary(result)}
        return result

    # 3. Every row passed: write them all.
    act = enrolment.Act(
        actor_id=actor.user_id,
        actor_role="school_admin",
        client=actor.client,
        now=now,
        cal=calendar,
    )
    summary = writer.write_plan(db, plan=builder.plan, school=school, now=now, act=act)
    if progress:  # the accounts are written in bulk: half the rows' worth, then the rest
        progress("write", len(rows) // 2)
    for part in chunks(planner.numbers):
        for class_student_id, number in part:
            db.execute(
                update(ClassStudent)
                .where(ClassStudent.id == class_student_id)
                .values(student_number=number, updated_at=now)  # dateLastModified (issue 22)
            )
    for user_id, gender in planner.genders:
        db.execute(update(User).where(User.id == user_id).values(gender=gender, updated_at=now))
    db.expire_all()
    result.summary = {**summary, **_row_summary(result)}
    result.written = True
    if progress:
        progress("write", len(rows) - len(rows) // 2)
    audit.record(
        db,
        now=now,
        action=AuditAction.ROSTER_IMPORTED,
        actor_id=actor.user_id,
        actor_role="school_admin",
        school_id=school.id,
        client=actor.client,
        detail={"rows": len(rows), **summary},
    )
    return result


# Identifier columns where a number-typed cell has lost digits (an 18-digit ID card number is
# kept by Excel as 3.30603E+17), and those where a formula can never be right.
NUMBERS_LOSE = ("身份证号", "学籍号")
NO_FORMULAS = ("账号", "身份证号", "学籍号", "手机号", "家长手机号")
_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?[eE]\+?\d+")


def _check_typed(row: list[str], columns: dict[str, int]) -> None:
    """Refuse identifier cells Excel has already spoilt, saying why and how to fix them."""
    for name in NO_FORMULAS:
        index = columns.get(name)
        value = row[index] if index is not None and index < len(row) else ""
        if isinstance(value, excel.FormulaText):
            raise MemberError(
                N_(
                    "%(column)s是公式，导入不计算公式。请改为直接填写号码"
                    "（可复制该列后「选择性粘贴 → 数值」）",
                    column=name,
                )
            )
        if name in NUMBERS_LOSE and (
            isinstance(value, excel.NumberText) or _SCIENTIFIC.fullmatch(value.strip())
        ):
            raise MemberError(
                N_(
                    "%(column)s是数字格式的单元格：Excel 会把长号码存成 3.30603E+17 这样的近似值，"
                    "末几位已丢失。请把该列设为「文本」格式后重新填写号码，或使用下载的模板",
                    column=name,
                )
            )


def _typed_suspects(rows: list[list[str]], columns: dict[str, int]) -> set[int]:
    """The rows `_check_typed` may refuse, found column by column; it passes every other row
    without a look (nearly all of them: their identifier cells are plain text, and one that
    lost digits to the number format always holds an e or E)."""
    suspects = set()
    for name in NO_FORMULAS:
        index = columns.get(name)
        if index is None:
            continue
        lose = name in NUMBERS_LOSE
        for number, row in enumerate(rows):
            if index < len(row):
                value = row[index]
                if type(value) is not str or (lose and ("e" in value or "E" in value)):
                    suspects.add(number)
    return suspects


def _explained(message: str) -> str:
    """A row's reason, with what a bare 学籍号格式不正确 leaves out: the formats accepted."""
    if MSG_REGISTRATION in message and REGISTRATION_FORMATS not in message:
        return message.replace(MSG_REGISTRATION, REGISTRATION_FORMATS)
    return message


REGISTRATION_FORMATS = N_(
    "学籍号格式不正确：应为 G、L 或 J 加18位身份证号（如 G330603201503011234），"
    "或10至20位字母、数字"
)


def _duplicates(
    result: ImportResult, parsed: list[tuple[str, Person | None, Person | None] | None]
) -> None:
    """An ID card number or 学籍号 given on two rows of one file: both rows say so."""
    rows: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(parsed):
        if item is None or item[0] not in ("", OP_CREATE) or item[1] is None:
            continue
        for column in ("id_card_number", "registration_number"):
            value = getattr(item[1], column)
            if value:
                rows.setdefault((column, value), []).append(index)
    for (column, _), found in rows.items():
        if len(found) < 2:
            continue
        for index in found:
            others = "、".join(
                N_("第%(n)s行", n=result.number(other)) for other in found if other != index
            )
            result.errors.setdefault(
                index,
                N_(
                    "%(identifier)s与%(rows)s重复，同一文件中每个学生只能出现一次",
                    identifier=IDENTIFIER_LABELS[column],
                    rows=others,
                ),
            )


def _row_summary(result: ImportResult) -> dict[str, int]:
    counts = result.counts
    return {
        "changes": result.change_count,
        "new_rows": counts[KIND_NEW],
        "moved_rows": counts[KIND_MOVE],
        "updated": counts[KIND_UPDATE],
        "unchanged": counts[KIND_SAME],
        "examples": len(result.examples),
    }


def _plan_student(planner: _Planner, line: _Line) -> str:
    """A row that names a student (blank 操作, 新建 or 换班): match, then update or create."""
    builder = planner.builder
    op, student, parent, label, changes = (
        line.op,
        line.student,
        line.parent,
        line.label,
        line.changes,
    )
    login = _unmasked(line.value("账号"))
    name = line.value("姓名")
    account: Account | None = None
    matched = False  # whether `found` is the index's match for the student already
    found: Account | None = None
    if login:
        account = builder.index.find_login(login)
        if account is None or account.is_new or account.user_id not in planner.students:
            raise MemberError(N_("找不到该学生，请核对账号"))
        if name and account.real_name != name:
            raise MemberError(N_("姓名与账号不一致，请核对"))
    elif student is not None and (student.id_card_number or student.registration_number):
        found, matched = builder.index.match(student), True
        if found is not None and not found.is_new and found.user_id in planner.students:
            account = found
    if account is not None:
        return _update_student(planner, account, line)
    if op == OP_MOVE:
        raise MemberError(N_("请填写账号（用户名、身份证号或学籍号）以找到学生"))
    assert student is not None
    class_text = line.value("班级")
    if class_text == PARKED or class_text.startswith(GRADUATED):
        raise MemberError(
            N_("找不到该学生：「%(place)s」的学生须填写账号才能找到", place=class_text)
        )
    class_id = planner.directory.resolve(class_text, line.value("校区"))
    # Nothing was added to the index since: the same answer as above, if it was asked.
    existing = found if matched else builder.index.match(student)
    if existing is None and op != OP_CREATE:
        place = (student.real_name, class_id)
        same = planner.by_place.get(place)
        if same:
            raise MemberError(
                N_(
                    "%(class_name)s已有同名学生（账号：%(username)s）。如为同一人，请填写账号；"
                    "如确为另一名学生，请将操作填写为新建",
                    class_name=builder.class_label(class_id),
                    username=same[0].username,
                )
            )
        if place in planner.new_places:
            raise MemberError(
                N_(
                    "与%(row)s的姓名、班级相同。如确为两名学生，请将操作填写为新建",
                    row=planner.new_places[place],
                )
            )
        planner.new_places[place] = label
    account = builder.add_student(
        student, class_id=class_id, student_number=line.value("学号"), row=label
    )
    changes.append(N_("新建账号") if account.is_new else N_("已有账号加入本校"))
    if parent is not None:
        relation = relation_from(line.value("家长关系") or "其他监护人")
        builder.add_parent(account, parent, relation, row=label)
        changes.append(N_("添加家长"))
    return KIND_NEW


def _update_student(planner: _Planner, account: Account, line: _Line) -> str:
    """A student of the school: apply what differs (class, 学号, identifiers, parent)."""
    builder = planner.builder
    student, parent, label, changes = line.student, line.parent, line.label, line.changes
    current = planner.students[account.id]
    if account.id in planner.seen:
        raise MemberError(N_("与%(row)s是同一学生，请勿重复填写", row=planner.seen[account.id]))
    planner.seen[account.id] = label
    moved = False
    class_text = line.value("班级")
    if class_text == PARKED:
        if current.class_id is not None or current.graduated:
            raise MemberError(N_("导入不能把学生移出班级；如需移入校区存放，请在成员管理中操作"))
    elif class_text.startswith(GRADUATED):
        if not current.graduated:
            raise MemberError(N_("该学生未毕业，班级不能填写「已毕业」"))
    elif class_text:
        if current.graduated:
            raise MemberError(N_("该学生已毕业，不能通过导入换班"))
        class_id = planner.directory.resolve(class_text, line.value("校区"))
        number = line.value("学号")
        if class_id != current.class_id:
            builder.move_student(account, class_id=class_id, student_number=number, row=label)
            before = builder.class_label(current.class_id) if current.class_id else PARKED
            changes.append(
                N_("%(before)s → %(after)s", before=before, after=builder.class_label(class_id))
            )
            moved = True
        elif (number or None) != current.student_number:
            assert current.class_student_id is not None
            if len(number) > 32:
                raise MemberError(N_("学号不能超过32位"))
            planner.numbers.append((current.class_student_id, number or None))
            changes.append(N_("学号"))
    if student is not None:
        if student.gender is not None and student.gender != current.gender:
            planner.genders.append((account.id, student.gender))
            changes.append(N_("性别"))
        for column, value in student.identifiers().items():
            if getattr(account, column) == value:
                continue
            what = IDENTIFIER_LABELS[column]
            holder = builder.index.find(column, value)
            if holder is not None and holder is not account:
                raise MemberError(N_("该%(identifier)s已被其他账号使用", identifier=what))
            if getattr(account, column):
                raise MemberError(
                    N_(
                        "该学生已绑定其他%(identifier)s；如需更正，请在成员管理中修改",
                        identifier=what,
                    )
                )
            if column == "id_card_number":
                builder.bind_id_card(account, value)
            else:
                builder.index.bind(account, column, value)
                builder.plan.binds.append((account, column, value))
            changes.append(N_("绑定%(identifier)s", identifier=what))
    parent_name = line.value("家长姓名")
    if parent is not None and parent.phone:
        known = builder.index.match(parent)
        if known is None or known.is_new or (known.id, account.id) not in builder.linked:
            relation = relation_from(line.value("家长关系") or "其他监护人")
            builder.add_parent(account, parent, relation, row=label)
            changes.append(N_("添加家长%(name)s", name=parent.real_name))
    elif parent_name and parent_name not in current.parents:
        if "*" in line.value("家长手机号"):
            raise MemberError(
                N_("家长手机号是导出时隐去的号码；添加或更换家长，请填写完整的手机号")
            )
        raise MemberError(N_("请填写家长手机号"))
    if moved:
        return KIND_MOVE
    return KIND_UPDATE if changes else KIND_SAME


def _find_student(
    builder: RosterBuilder, row_login: str, student: Person | None, name: str
) -> Account:
    login = row_login
    if not login and student is not None:
        login = student.id_card_number or student.registration_number or ""
    if not login:
        raise MemberError(N_("请填写账号（用户名、身份证号或学籍号）以找到学生"))
    return builder.find_student(login, real_name=name or None)


def _plan_row(builder: RosterBuilder, line: _Line) -> None:
    """A row that binds to a student of the school (绑身份证, 绑家长); the rows that name
    a student to create or move go through `_plan_student`."""
    student, parent = line.student, line.parent
    login = _unmasked(line.value("账号"))
    name = line.value("姓名")
    if line.op == OP_BIND_ID:
        id_card = student.id_card_number if student else None
        if not id_card:
            raise MemberError(N_("请填写身份证号"))
        lookup = login or (student.registration_number if student else "") or ""
        if not lookup:
            raise MemberError(N_("请填写账号（用户名或学籍号）以找到学生"))
        account = builder.find_student(lookup, real_name=name or None)
        builder.bind_id_card(account, id_card)
    else:  # OP_BIND_PARENT
        assert parent is not None
        account = _find_student(builder, login, student, name)
        relation = relation_from(line.value("家长关系"))
        builder.add_parent(account, parent, relation, row=line.label)


def error_workbook(result: ImportResult) -> bytes:
    """The uploaded rows with a 错误原因 column; bad rows highlighted."""
    header = [h for h in result.header if h != REASON] + [REASON]
    reason_at = [i for i, h in enumerate(result.header) if h == REASON]
    rows = []
    for index, row in enumerate(result.rows):
        kept = [v for i, v in enumerate(row) if i not in reason_at]
        kept += [""] * (len(header) - 1 - len(kept))
        rows.append([*kept[: len(header) - 1], result.errors.get(index, "")])
    return excel.write_workbook(
        [("学生", header, rows)], error_rows=set(result.errors), text_columns=_text_columns(header)
    )


# Headers other systems write for our columns.
ALIASES = {
    "学生姓名": "姓名",
    "用户名": "账号",
    "登录账号": "账号",
    "班级名称": "班级",
    "所在班级": "班级",
    "身份证": "身份证号",
    "身份证号码": "身份证号",
    "学籍号码": "学籍号",
    "全国学籍号": "学籍号",
    "手机": "手机号",
    "手机号码": "手机号",
    "家长手机": "家长手机号",
    "家长手机号码": "家长手机号",
    "家长电话": "家长手机号",
    "家长联系电话": "家长手机号",
    "与学生关系": "家长关系",
}
HEADER_SEARCH = 10  # rows above the header: a title, a note


def _header_name(value: str) -> str:
    name = "".join(value.split())
    return ALIASES.get(name, name)


def _known(header: list[str]) -> int:
    return len({name for name in header if name in COLUMNS})


def _two_rows(top: list[str], bottom: list[str]) -> list[str]:
    """A two-row header as one: 家长 (merged over three columns) above 姓名, 手机号, 关系 reads
    as 家长姓名, 家长手机号, 家长关系; a name merged down over both rows stays as it is."""
    names = []
    above = ""
    for index in range(max(len(top), len(bottom))):
        own = _header_name(top[index]) if index < len(top) else ""
        below = _header_name(bottom[index]) if index < len(bottom) else ""
        above = own or above
        for prefix in (above, above.removesuffix("信息")):
            if below and _header_name(prefix + below) in COLUMNS:
                names.append(_header_name(prefix + below))
                break
        else:
            names.append(below or own)
    return names


def find_header(table: list[list[str]]) -> tuple[int, int, list[str]] | None:
    """Where a sheet's header is: (first row, rows it takes, the column names), or None.

    The header is the row (or two rows, merged) among the first few that names the most of
    our columns, with 姓名 and 班级 at least: a title row above it is skipped.
    """
    best: tuple[int, int, int, list[str]] | None = None  # (known, -height, -row, names)
    for index, row in enumerate(table[:HEADER_SEARCH]):
        candidates = [(1, [_header_name(v) for v in row])]
        if index + 1 < len(table):
            candidates.append((2, _two_rows(row, table[index + 1])))
        for height, names in candidates:
            if "姓名" not in names or "班级" not in names:
                continue
            key = (_known(names), -height, -index, names)
            if best is None or key[:3] > best[:3]:
                best = key
    if best is None:
        return None
    return -best[2], -best[1], best[3]


@dataclass
class Table:
    """An upload's student sheet: the header and the non-blank rows with their row numbers."""

    header: list[str]
    rows: list[list[str]]
    numbers: list[int]  # each row's number in the file (1-based, as Excel shows it)


@cycles_unchecked()
def read_upload(
    data: bytes, *, limits: excel.Limits = excel.Limits(), max_rows: int = 100_000
) -> Table:
    """The student sheet of an upload (.xlsx or CSV): the first sheet with our header, wherever
    its header row is; else the first sheet, its first row taken as the header."""
    first: list[list[str]] | None = None
    for sheet in excel.read_sheets(data, limits, max_rows=max_rows):
        table = list(sheet)
        if first is None:
            first = table
        found = find_header(table)
        if found is not None:
            start, height, header = found
            return _table(header, table, start + height)
    if not first:
        raise excel.UnsafeFile("文件中没有数据")
    return _table([_header_name(v) for v in first[0]], first, 1)


def _table(header: list[str], table: list[list[str]], start: int) -> Table:
    rows, numbers = [], []
    for index in range(start, len(table)):
        row = table[index]
        if "".join(row).strip():  # a cell that is not blank (any(value.strip() ...), faster)
            rows.append(row)
            numbers.append(index + 1)
    return Table(header, rows, numbers)


def read_table(
    data: bytes, *, limits: excel.Limits = excel.Limits(), max_rows: int = 100_000
) -> tuple[list[str], list[list[str]]]:
    """The header and the non-blank data rows of an upload; UnsafeFile if refused."""
    table = read_upload(data, limits=limits, max_rows=max_rows)
    return table.header, table.rows


class BoardReport:
    """Reports an import's progress on a progress board, for the page that polls it (issue 17).

    `done` of `total` counts each row once per phase ("read", "check", "plan", then "write"
    unless previewing); the last report is phase "done" with `done == total`.
    """

    def __init__(self, board: ProgressBoard, key: str, *, user_id: int, school_id: int) -> None:
        self.board = board
        self.key = key
        self.owner = progress_owner(user_id, school_id)
        self.total = 0
        self.done = 0

    def _show(self, phase: str) -> None:
        self.board.report(self.key, self.owner, State(self.done, self.total, phase))

    def start(self) -> None:
        self._show("read")

    def rows(self, count: int, *, dry_run: bool) -> None:
        self.total = count * (2 if dry_run else 3)
        self._show("check")

    def __call__(self, phase: str, count: int) -> None:
        self.done = min(self.done + count, self.total)
        self._show(phase)

    def finish(self) -> None:
        self.done = self.total
        self._show("done")


def progress_owner(user_id: int, school_id: int) -> str:
    """Whom a progress board entry belongs to: the administrator, in the school."""
    return f"{user_id}@{school_id}"


def run_import(
    db: Session,
    *,
    school: School,
    calendar: Calendar,
    data: bytes,
    now: datetime,
    actor: Actor,
    dry_run: bool = False,
    report: BoardReport | None = None,
) -> ImportResult:
    """Check the uploaded file, read it, and import it (all or nothing), or only preview it."""
    if report:
        report.start()
    try:
        table = read_upload(data)
    except excel.UnsafeFile as exc:
        if report:
            report.finish()
        return ImportResult(file_error=exc.message)
    if report:
        report.rows(len(table.rows), dry_run=dry_run)
    result = import_rows(
        db,
        school=school,
        calendar=calendar,
        header=table.header,
        rows=table.rows,
        numbers=table.numbers,
        now=now,
        actor=actor,
        dry_run=dry_run,
        progress=report,
    )
    if report:
        report.finish()
    return result


# --------------------------------------------------------------------------- error files


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _keep(
    db: Session, *, school: School, user_id: int, name: str, content: bytes, now: datetime
) -> str:
    db.execute(delete(ImportErrorFile).where(ImportErrorFile.expires_at < now))
    token = secrets.token_urlsafe(24)
    db.add(
        ImportErrorFile(
            token_hash=_token_hash(token),
            school_id=school.id,
            user_id=user_id,
            filename=name,
            content=content,
            created_at=now,
            expires_at=now + (PENDING_TTL if name == PENDING_NAME else ERROR_FILE_TTL),
        )
    )
    db.flush()
    return token


def _kept(
    db: Session, *, school: School, user_id: int, token: str, now: datetime, pending: bool
) -> ImportErrorFile | None:
    row = db.scalar(select(ImportErrorFile).where(ImportErrorFile.token_hash == _token_hash(token)))
    if row is None or row.school_id != school.id or row.user_id != user_id or row.expires_at < now:
        return None
    if (row.filename == PENDING_NAME) != pending:
        return None
    return row


def store_error_file(
    db: Session, *, school: School, user_id: int, content: bytes, now: datetime
) -> str:
    """Keep the error file for its uploader for a short while; returns the download token."""
    return _keep(
        db, school=school, user_id=user_id, name="导入错误原因.xlsx", content=content, now=now
    )


def fetch_error_file(
    db: Session, *, school: School, user_id: int, token: str, now: datetime
) -> bytes | None:
    """The error file, only for the administrator who uploaded it and only while it lives."""
    row = _kept(db, school=school, user_id=user_id, token=token, now=now, pending=False)
    return row.content if row is not None else None


def store_pending(
    db: Session, *, school: School, user_id: int, content: bytes, now: datetime
) -> str:
    """Keep a previewed upload until its administrator confirms it (确认导入); returns the
    confirmation token (random, stored hashed, bound to the administrator and the school)."""
    return _keep(db, school=school, user_id=user_id, name=PENDING_NAME, content=content, now=now)


def take_pending(
    db: Session, *, school: School, user_id: int, token: str, now: datetime
) -> bytes | None:
    """The previewed upload, once: it is deleted (with the transaction that imports it)."""
    row = _kept(db, school=school, user_id=user_id, token=token, now=now, pending=True)
    if row is None:
        return None
    content = row.content
    db.delete(row)
    db.flush()
    return content


# --------------------------------------------------------------------------- exports


def export_students(db: Session, *, school: School, calendar: Calendar) -> bytes:
    """Every current student, in the import layout (identifiers masked), ready to edit and
    import back: 账号 names the account; a parked student's 班级 is 校区存放 (with the campus),
    a graduated one's 已毕业（2019级）."""
    campus_names = {c.id: c.name for c in school.campuses}
    names = members.active_class_names(db, school, calendar, plain=True)
    placed: dict[int, tuple[int, str | None]] = {}
    graduated: dict[int, tuple[int, int]] = {}  # student -> (campus, enrollment year)
    for student_id, class_id, number, campus_id, year in db.execute(
        select(
            ClassStudent.student_id,
            ClassStudent.class_id,
            ClassStudent.student_number,
            SchoolClass.campus_id,
            Grade.enrollment_year,
        )
        .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
        .join(Grade, Grade.id == SchoolClass.grade_id)
        .where(SchoolClass.school_id == school.id, SchoolClass.kind == ClassKind.ADMINISTRATIVE)
    ):
        if class_id in names:
            placed[student_id] = (class_id, number)
        else:
            graduated[student_id] = (campus_id, year)
    class_campus: dict[int, int] = dict(
        db.execute(
            select(SchoolClass.id, SchoolClass.campus_id).where(SchoolClass.id.in_(list(names)))
        ).all()
    )
    parents: dict[int, tuple[str, str | None, str]] = {}
    students = db.execute(
        select(User, SchoolMembership.campus_id)
        .join(SchoolMembership, SchoolMembership.user_id == User.id)
        .where(
            SchoolMembership.current(school_id=school.id, role=SchoolRole.STUDENT),
        )
        .order_by(User.real_name, User.id)
    ).all()
    ids = [s.id for s, _ in students]
    parent = aliased(User)
    for start in range(0, len(ids), 500):
        for child_id, name, phone, relation in db.execute(
            select(ParentLink.child_id, parent.real_name, parent.phone, ParentLink.relation)
            .join(parent, parent.id == ParentLink.parent_id)
            .where(ParentLink.child_id.in_(ids[start : start + 500]))
            .order_by(ParentLink.id)
        ):
            parents.setdefault(child_id, (name, phone, relation.label))

    def place(user_id: int, parked_at: int | None) -> tuple[str, str, str]:
        """校区, 班级 and 学号 as exported."""
        if user_id in placed:
            class_id, number = placed[user_id]
            campus = campus_names.get(class_campus.get(class_id, 0), "")
            return campus, names[class_id], number or ""
        if user_id in graduated:
            campus_id, year = graduated[user_id]
            return campus_names.get(campus_id, ""), f"{GRADUATED}（{year}级）", ""
        return campus_names.get(parked_at or 0, ""), PARKED, ""

    def rows() -> Iterable[list[str]]:
        for user, parked_at in students:
            campus, class_name, number = place(user.id, parked_at)
            parent = parents.get(user.id)
            yield [
                "",
                user.username,
                user.real_name,
                user.gender.label if user.gender else "",
                campus,
                class_name,
                number,
                mask_id_card(user.id_card_number),
                mask_registration_number(user.registration_number),
                mask_phone(user.phone),
                parent[0] if parent else "",
                mask_phone(parent[1]) if parent else "",
                parent[2] if parent else "",
            ]

    return excel.write_workbook(
        [("学生", list(COLUMNS), rows())], text_columns=_text_columns(COLUMNS)
    )


def export_teachers(db: Session, *, school: School, calendar: Calendar) -> bytes:
    """导出老师: every teacher with classes, subjects, homeroom and grades led."""
    header = ["姓名", "账号", "手机号", "任教班级", "任教学科", "班主任", "年级组长"]
    rows = []
    for row in staff.teacher_rows(db, school=school, calendar=calendar):
        rows.append(
            [
                row.user.real_name,
                row.user.username,
                mask_phone(row.user.phone),
                "、".join(name for _, name, _, _ in row.assignments),
                "、".join(sorted({s for _, _, s, _ in row.assignments if s})),
                "、".join(name for _, name, _, homeroom in row.assignments if homeroom),
                "、".join(row.led_grades),
            ]
        )
    return excel.write_workbook([("老师", header, rows)])
