"""批量导入/导出学生: the template, all-or-nothing import with an error file, and exports.

Import covers 新建 (create or attach a student, optionally with a parent), 换班, 绑身份证 and
绑家长. Every row is checked first (against the database, looked up in bulk, and against the rows
before it); if any row is bad nothing is written and the administrator gets the file back with
each bad row's reason. Otherwise every row lands in the caller's one transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import Actor
from campusid.classes import enrolment
from campusid.classes.models import ClassStudent
from campusid.families.models import ParentLink
from campusid.i18n import N_
from campusid.identifiers import mask_id_card, mask_phone, mask_registration_number
from campusid.members import service as members
from campusid.members import teachers as staff
from campusid.members.batch import (
    Account,
    MemberError,
    Person,
    RosterBuilder,
    person_from,
    relation_from,
)
from campusid.org.models import ClassKind, School, SchoolClass
from campusid.org.schoolyear import Calendar
from campusid.roster import excel, writer
from campusid.roster.models import ImportErrorFile

OP_CREATE = "新建"
OP_MOVE = "换班"
OP_BIND_ID = "绑身份证"
OP_BIND_PARENT = "绑家长"
OPERATIONS = (OP_CREATE, OP_MOVE, OP_BIND_ID, OP_BIND_PARENT)

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
REASON = "错误原因"
ERROR_FILE_TTL = timedelta(minutes=30)

INSTRUCTIONS = [
    (N_("操作"), N_("新建、换班、绑身份证、绑家长 之一;留空视为新建。")),
    (N_("账号"), N_("换班、绑身份证、绑家长时用来找到学生:用户名、身份证号、学籍号或手机号均可。")),
    (N_("姓名"), N_("学生姓名。新建时必填;其他操作填写时须与账号一致。")),
    (N_("性别"), N_("男 或 女,可留空。")),
    (N_("校区"), N_("班级名称在多个校区重复时填写,否则可留空。")),
    (N_("班级"), N_("新建、换班时必填:如 三年级1班,或班级编码(如 gu22cm)。")),
    (N_("学号"), N_("可留空。")),
    (N_("身份证号"), N_("18位身份证号,请以文本格式填写(不要用数字格式)。绑身份证时必填。")),
    (N_("学籍号"), N_("可留空。")),
    (N_("手机号"), N_("学生本人手机号,可留空。")),
    (
        N_("家长姓名 / 家长手机号 / 家长关系"),
        N_("绑家长时必填;新建时填写则同时添加家长。关系:父亲、母亲、其他监护人。"),
    ),
    (
        N_("说明"),
        N_(
            "身份证号、学籍号、手机号均可作为登录账号。已有账号的学生、家长加入本校,原密码不变;"
            "新建的账号使用学校的学生默认密码,首次登录须修改。"
        ),
    ),
    (
        N_("说明"),
        N_(
            "导入前会检查每一行,只要有一行有误,全部不导入,并返回标注了错误原因的文件;"
            "改正后重新上传即可。"
        ),
    ),
    (N_("说明"), N_("导出文件中的身份证号、手机号已脱敏(含*),再次导入时含*的值将被忽略。")),
    (N_("说明"), N_("单元格中的公式不会被计算,按文字处理。")),
]
EXAMPLE = [
    "新建",
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


def template_bytes() -> bytes:
    """The import template: the 学生 sheet with Chinese headers and an example, and 填写说明."""
    return excel.write_workbook(
        [
            ("学生", list(COLUMNS), [EXAMPLE]),
            ("填写说明", ["列", "说明"], INSTRUCTIONS),
        ],
        widths={"学生": [10, 18, 10, 6, 14, 14, 8, 22, 22, 14, 10, 14, 10], "填写说明": [28, 100]},
    )


@dataclass
class ImportResult:
    """What an import did, or why it did nothing."""

    total: int = 0
    errors: dict[int, str] = field(default_factory=dict)  # 0-based data row -> reason
    file_error: str | None = None
    summary: dict[str, int] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every row was imported."""
        return self.file_error is None and not self.errors


class ClassDirectory:
    """The school's active classes by 班级编码, by name within a campus, or by name alone."""

    def __init__(self, db: Session, school: School, calendar: Calendar) -> None:
        self.names = members.active_class_names(db, school, calendar)
        campus_names = {c.id: c.name for c in school.campuses}
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, set[int]] = {}
        self.by_campus_name: dict[tuple[str, str], int] = {}
        self.label: dict[int, tuple[str, str]] = {}
        for class_id, code, campus_id in db.execute(
            select(SchoolClass.id, SchoolClass.class_code, SchoolClass.campus_id).where(
                SchoolClass.school_id == school.id, SchoolClass.kind == ClassKind.ADMINISTRATIVE
            )
        ):
            if class_id not in self.names:
                continue
            name = self.names[class_id]
            campus = campus_names.get(campus_id, "")
            self.by_code[code.lower()] = class_id
            self.by_name.setdefault(name, set()).add(class_id)
            self.by_campus_name[(campus, name)] = class_id
            self.label[class_id] = (campus, name)

    def resolve(self, text: str, campus: str) -> int:
        """The class a row names; MemberError if none or ambiguous."""
        value = text.strip()
        if not value:
            raise MemberError("请填写班级")
        if value.lower() in self.by_code:
            return self.by_code[value.lower()]
        if campus:
            found = self.by_campus_name.get((campus.strip(), value))
            if found is None:
                raise MemberError(
                    N_("校区「%(campus)s」没有班级「%(name)s」", campus=campus, name=value)
                )
            return found
        matches = self.by_name.get(value, set())
        if not matches:
            raise MemberError(N_("找不到班级「%(name)s」(须为本校未毕业的班级)", name=value))
        if len(matches) > 1:
            raise MemberError(N_("多个校区都有「%(name)s」,请填写校区", name=value))
        return next(iter(matches))


def _unmasked(value: str) -> str:
    """Masked values from an export (with *) count as blank."""
    return "" if "*" in value else value


def _columns(header: list[str]) -> dict[str, int]:
    return {name.strip(): index for index, name in enumerate(header) if name and name.strip()}


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
) -> ImportResult:
    """Check every row, then write them all, or nothing with every bad row's reason."""
    result = ImportResult(total=len(rows), header=header, rows=rows)
    columns = _columns(header)
    missing = [c for c in ("操作", "姓名", "班级") if c not in columns]
    if missing:
        result.file_error = N_("表头缺少:%(columns)s,请使用下载的模板", columns="、".join(missing))
        return result
    if not rows:
        result.file_error = "文件中没有数据行"
        return result

    def cell(row: list[str], name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    directory = ClassDirectory(db, school, calendar)
    builder = RosterBuilder(db, school=school, class_names=directory.names, today=calendar.today)

    # 1. Parse each row's people (no database yet).
    parsed: list[tuple[str, Person | None, Person | None] | None] = []
    for index, row in enumerate(rows):
        op = cell(row, "操作") or OP_CREATE
        try:
            if op not in OPERATIONS:
                raise MemberError("操作须为新建、换班、绑身份证或绑家长")
            student = None
            if op == OP_CREATE or cell(row, "身份证号") or cell(row, "学籍号"):
                student = person_from(
                    real_name=cell(row, "姓名"),
                    require_name=op == OP_CREATE,
                    gender=cell(row, "性别"),
                    id_card_number=_unmasked(cell(row, "身份证号")),
                    registration_number=_unmasked(cell(row, "学籍号")),
                    phone=_unmasked(cell(row, "手机号")),
                    today=calendar.today,
                )
            parent = None
            if op == OP_BIND_PARENT or (
                op == OP_CREATE and (cell(row, "家长姓名") or cell(row, "家长手机号"))
            ):
                parent = person_from(
                    real_name=cell(row, "家长姓名"),
                    phone=_unmasked(cell(row, "家长手机号")) or None,
                    today=calendar.today,
                    label="家长",
                )
            parsed.append((op, student, parent))
        except MemberError as exc:
            result.errors[index] = exc.message
            parsed.append(None)
        if progress and index % 1000 == 999:
            progress("check", 1000)

    # 2. Look everyone up in bulk, then check each row against the database and earlier rows.
    persons = [p for item in parsed if item for p in item[1:] if p is not None]
    logins = [_unmasked(cell(row, "账号")) for row in rows]
    builder.preload(persons, [login for login in logins if login])
    for index, (row, item) in enumerate(zip(rows, parsed, strict=True)):
        if item is None:
            continue
        op, student, parent = item
        label = N_("第%(n)s行", n=index + 2)
        try:
            _plan_row(builder, directory, op, student, parent, row, cell, label)
        except MemberError as exc:
            result.errors[index] = exc.message
    if progress:
        progress("check", len(rows) % 1000)
    if result.errors:
        return result

    # 3. Every row passed: write them all.
    act = enrolment.Act(
        actor_id=actor.user_id,
        actor_role="school_admin",
        client=actor.client,
        now=now,
        cal=calendar,
    )
    result.summary = writer.write_plan(db, plan=builder.plan, school=school, now=now, act=act)
    if progress:
        progress("write", len(rows))
    audit.record(
        db,
        now=now,
        action=AuditAction.ROSTER_IMPORTED,
        actor_id=actor.user_id,
        actor_role="school_admin",
        school_id=school.id,
        client=actor.client,
        detail={"rows": len(rows), **result.summary},
    )
    return result


def _find_student(
    builder: RosterBuilder, row_login: str, student: Person | None, name: str
) -> Account:
    login = row_login
    if not login and student is not None:
        login = student.id_card_number or student.registration_number or ""
    if not login:
        raise MemberError(N_("请填写账号(用户名、身份证号或学籍号)以找到学生"))
    return builder.find_student(login, real_name=name or None)


def _plan_row(
    builder: RosterBuilder,
    directory: ClassDirectory,
    op: str,
    student: Person | None,
    parent: Person | None,
    row: list[str],
    cell: Callable[[list[str], str], str],
    label: str,
) -> None:
    login = _unmasked(cell(row, "账号"))
    name = cell(row, "姓名")
    if op == OP_CREATE:
        assert student is not None
        class_id = directory.resolve(cell(row, "班级"), cell(row, "校区"))
        account = builder.add_student(
            student, class_id=class_id, student_number=cell(row, "学号"), row=label
        )
        if parent is not None:
            relation = relation_from(cell(row, "家长关系") or "其他监护人")
            builder.add_parent(account, parent, relation, row=label)
    elif op == OP_MOVE:
        account = _find_student(builder, login, student, name)
        class_id = directory.resolve(cell(row, "班级"), cell(row, "校区"))
        builder.move_student(
            account, class_id=class_id, student_number=cell(row, "学号"), row=label
        )
    elif op == OP_BIND_ID:
        id_card = student.id_card_number if student else None
        if not id_card:
            raise MemberError(N_("请填写身份证号"))
        lookup = login or (student.registration_number if student else "") or ""
        if not lookup:
            raise MemberError("请填写账号(用户名或学籍号)以找到学生")
        account = builder.find_student(lookup, real_name=name or None)
        builder.bind_id_card(account, id_card)
    else:  # OP_BIND_PARENT
        assert parent is not None
        account = _find_student(builder, login, student, name)
        builder.add_parent(account, parent, relation_from(cell(row, "家长关系")), row=label)


def error_workbook(result: ImportResult) -> bytes:
    """The uploaded rows with a 错误原因 column; bad rows highlighted."""
    header = [h for h in result.header if h != REASON] + [REASON]
    reason_at = [i for i, h in enumerate(result.header) if h == REASON]
    rows = []
    for index, row in enumerate(result.rows):
        kept = [v for i, v in enumerate(row) if i not in reason_at]
        kept += [""] * (len(header) - 1 - len(kept))
        rows.append([*kept[: len(header) - 1], result.errors.get(index, "")])
    return excel.write_workbook([("学生", header, rows)], error_rows=set(result.errors))


def read_table(
    data: bytes, *, limits: excel.Limits = excel.Limits(), max_rows: int = 100_000
) -> tuple[list[str], list[list[str]]]:
    """The header and the non-blank data rows of an upload; UnsafeFile if refused."""
    table = list(excel.read_sheet(data, limits, max_rows=max_rows))
    if not table:
        raise excel.UnsafeFile("文件中没有数据")
    return table[0], [row for row in table[1:] if any(value.strip() for value in row)]


def run_import(
    db: Session,
    *,
    school: School,
    calendar: Calendar,
    data: bytes,
    now: datetime,
    actor: Actor,
) -> ImportResult:
    """Check the uploaded file, read it, and import it (all or nothing)."""
    try:
        header, rows = read_table(data)
    except excel.UnsafeFile as exc:
        return ImportResult(file_error=exc.message)
    return import_rows(
        db, school=school, calendar=calendar, header=header, rows=rows, now=now, actor=actor
    )


# --------------------------------------------------------------------------- error files


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store_error_file(
    db: Session, *, school: School, user_id: int, content: bytes, now: datetime
) -> str:
    """Keep the error file for its uploader for a short while; returns the download token."""
    db.execute(delete(ImportErrorFile).where(ImportErrorFile.expires_at < now))
    token = secrets.token_urlsafe(24)
    db.add(
        ImportErrorFile(
            token_hash=_token_hash(token),
            school_id=school.id,
            user_id=user_id,
            filename="导入错误原因.xlsx",
            content=content,
            created_at=now,
            expires_at=now + ERROR_FILE_TTL,
        )
    )
    db.flush()
    return token


def fetch_error_file(
    db: Session, *, school: School, user_id: int, token: str, now: datetime
) -> bytes | None:
    """The error file, only for the administrator who uploaded it and only while it lives."""
    row = db.scalar(select(ImportErrorFile).where(ImportErrorFile.token_hash == _token_hash(token)))
    if row is None or row.school_id != school.id or row.user_id != user_id or row.expires_at < now:
        return None
    return row.content


# --------------------------------------------------------------------------- exports


def export_students(db: Session, *, school: School, calendar: Calendar) -> bytes:
    """Every current student, in the import layout (identifiers masked), ready for 换班."""
    campus_names = {c.id: c.name for c in school.campuses}
    names = members.active_class_names(db, school, calendar)
    placed: dict[int, tuple[int, str | None]] = {}
    for student_id, class_id, number in db.execute(
        select(ClassStudent.student_id, ClassStudent.class_id, ClassStudent.student_number).where(
            ClassStudent.class_id.in_(list(names))
        )
    ):
        placed[student_id] = (class_id, number)
    class_campus: dict[int, int] = dict(
        db.execute(
            select(SchoolClass.id, SchoolClass.campus_id).where(SchoolClass.id.in_(list(names)))
        ).all()
    )
    parents: dict[int, tuple[str, str | None, str]] = {}
    students = db.scalars(
        select(User)
        .join(SchoolMembership, SchoolMembership.user_id == User.id)
        .where(
            SchoolMembership.current(school_id=school.id, role=SchoolRole.STUDENT),
        )
        .order_by(User.real_name, User.id)
    ).all()
    ids = [s.id for s in students]
    for start in range(0, len(ids), 500):
        for child_id, name, phone, relation in db.execute(
            select(ParentLink.child_id, User.real_name, User.phone, ParentLink.relation)
            .join(User, User.id == ParentLink.parent_id)
            .where(ParentLink.child_id.in_(ids[start : start + 500]))
        ):
            parents.setdefault(child_id, (name, phone, relation.label))

    def rows() -> Iterable[list[str]]:
        for user in students:
            class_id, number = placed.get(user.id, (0, None))
            parent = parents.get(user.id)
            yield [
                "",
                user.username,
                user.real_name,
                user.gender.label if user.gender else "",
                campus_names.get(class_campus.get(class_id, 0), ""),
                names.get(class_id, "校区存放"),
                number or "",
                mask_id_card(user.id_card_number),
                mask_registration_number(user.registration_number),
                mask_phone(user.phone),
                parent[0] if parent else "",
                mask_phone(parent[1]) if parent else "",
                parent[2] if parent else "",
            ]

    return excel.write_workbook([("学生", list(COLUMNS), rows())])


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
