"""The guide's world as demo data: 柯桥区, 之江汇学校, 五年级1班 (gu22cm) and its people, and a
second school of the district (柯桥实验小学) with people of its own."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import FactorKind, Gender, SchoolRole, SecondFactor, User
from campusid.classes import enrolment
from campusid.classes import service as classes
from campusid.clock import local_today
from campusid.context import Services
from campusid.families import service as families
from campusid.families.models import Relation
from campusid.identifiers import id_card_check_digit
from campusid.org import service as org
from campusid.org.models import ResetMode
from campusid.org.schoolyear import SchoolSystem, Stage, calendar_for, enrollment_year_for

DEMO_PASSWORD = "Zjer@2026"
SCHOOL_DEFAULT_PASSWORD = "Zjh13579"
SECOND_SCHOOL_DEFAULT_PASSWORD = "Kqsy24680"


@dataclass(frozen=True)
class DemoAccount:
    """A demo account as the README lists it."""

    username: str
    real_name: str
    role: str
    password: str
    note: str = ""


# Two pupils with a bound phone and a bound email, so 找回密码 can be tried both ways at once.
DEMO_PUPIL_PHONE = "13700000031"  # 魏璎珞
DEMO_PUPIL_EMAIL = "zhoubotong@example.edu.cn"  # 周伯通

DEMO_ACCOUNTS: list[DemoAccount] = [
    DemoAccount("pt_admin", "张平台", "平台管理员", DEMO_PASSWORD),
    DemoAccount("kefu01", "刘客服", "客服", DEMO_PASSWORD),
    DemoAccount("xx_admin", "王管理", "学校管理员", DEMO_PASSWORD),
    DemoAccount("chenxiaokai", "陈小凯", "班主任（五年级1班）", DEMO_PASSWORD),
    DemoAccount("zhaoshuxue", "赵数学", "任课教师（五年级1班 数学）", DEMO_PASSWORD),
    DemoAccount("sunbanzhu", "孙班主", "班主任（五年级2班）", DEMO_PASSWORD),
    DemoAccount("lixiaoyao", "李逍遥", "学生（五年级1班）", DEMO_PASSWORD),
    DemoAccount("heshuhuan", "何书桓", "学生（五年级1班）", DEMO_PASSWORD),
    DemoAccount(
        "weiyingluo",
        "魏璎珞",
        "学生（五年级1班）",
        DEMO_PASSWORD,
        f"绑定手机 {DEMO_PUPIL_PHONE}，可试「通过手机找回密码」",
    ),
    DemoAccount("linyiping", "林依萍", "学生（五年级1班）", DEMO_PASSWORD),
    DemoAccount(
        "zhoubotong",
        "周伯通",
        "学生（五年级1班）",
        DEMO_PASSWORD,
        f"绑定邮箱 {DEMO_PUPIL_EMAIL}，可试「通过邮箱找回密码」",
    ),
    DemoAccount(
        "s_xuesheng008",
        "学生八",
        "学生（五年级1班）",
        SCHOOL_DEFAULT_PASSWORD,
        "学生默认密码，首次登录须修改",
    ),
    DemoAccount("p_lidaniang", "李大娘", "家长（李逍遥的母亲）", DEMO_PASSWORD),
    DemoAccount("p_zhoujia", "周家长", "家长（尚未关联孩子）", DEMO_PASSWORD),
    # The second school of the district (trust between schools, issue 16).
    DemoAccount("kq_admin", "孔管理", "学校管理员（柯桥实验小学）", DEMO_PASSWORD),
    DemoAccount("wulaoshi", "吴老师", "班主任（柯桥实验小学 五年级1班）", DEMO_PASSWORD),
    DemoAccount("zhangxiaofan", "张小凡", "学生（柯桥实验小学 五年级1班）", DEMO_PASSWORD),
    DemoAccount("p_zhangmama", "张妈妈", "家长（张小凡的母亲）", DEMO_PASSWORD),
]


# issue 19: the demo runs the production policy, so its staff accounts come with a TOTP factor
# already enrolled. The secrets are derived from the username (the demo is public: so are they);
# `campusid demo` prints them, the README lists them, `campusid totp-code LOGIN` reads a code.
DEMO_STAFF = (
    "pt_admin",
    "kefu01",
    "xx_admin",
    "chenxiaokai",
    "zhaoshuxue",
    "sunbanzhu",
    "kq_admin",
    "wulaoshi",
)


def demo_totp_secret(username: str) -> str:
    """The demo TOTP secret of a staff account (base 32, 160 bits)."""
    digest = hashlib.sha256(f"campusid demo totp {username}".encode()).digest()[:20]
    return base64.b32encode(digest).decode()


def enrol_demo_factors(db: Session, *, now: datetime) -> None:
    """Give every demo staff account its TOTP factor, confirmed."""
    for user in db.scalars(select(User).where(User.username.in_(DEMO_STAFF))):
        db.add(
            SecondFactor(
                user_id=user.id,
                kind=FactorKind.TOTP.value,
                label="身份验证器",
                secret=demo_totp_secret(user.username),
                created_at=now,
                confirmed_at=now,
            )
        )


def is_loaded(db: Session) -> bool:
    """Whether the demo world is in the database."""
    return db.scalar(select(User.id).where(User.username == "pt_admin")) is not None


def _id_card(region: str, birth: str, seq: str) -> str:
    first17 = region + birth + seq
    return first17 + id_card_check_digit(first17)


def is_empty(db: Session) -> bool:
    """Whether the database holds no account yet."""
    return (db.scalar(select(func.count()).select_from(User)) or 0) == 0


def load(db: Session, services: Services) -> list[DemoAccount]:
    """Create the demo world; returns the accounts to print."""
    now = services.clock.now()
    today = local_today(services.clock)
    hasher = services.hasher
    own_hash = hasher.hash(DEMO_PASSWORD)

    district = org.get_or_create_district(db, "柯桥区")
    school = org.create_school(
        db,
        name="之江汇学校",
        district=district,
        default_password=SCHOOL_DEFAULT_PASSWORD,
        hasher=hasher,
        now=now,
        reset_mode=ResetMode.DEFAULT_PASSWORD,
    )
    campus = org.create_campus(db, school=school, name="柯桥区智慧校园")
    primary = org.add_stage(
        db, campus=campus, stage=Stage.PRIMARY, school_system=SchoolSystem.SIX_THREE
    )
    junior = org.add_stage(
        db, campus=campus, stage=Stage.JUNIOR, school_system=SchoolSystem.SIX_THREE
    )
    boundary = calendar_for(services.settings, services.clock).boundary
    grade5 = org.add_grade(
        db,
        stage_unit=primary,
        enrollment_year=enrollment_year_for(
            Stage.PRIMARY, SchoolSystem.SIX_THREE, 5, today, boundary
        ),
    )
    grade3 = org.add_grade(
        db,
        stage_unit=primary,
        enrollment_year=enrollment_year_for(
            Stage.PRIMARY, SchoolSystem.SIX_THREE, 3, today, boundary
        ),
    )
    grade7 = org.add_grade(
        db,
        stage_unit=junior,
        enrollment_year=enrollment_year_for(
            Stage.JUNIOR, SchoolSystem.SIX_THREE, 1, today, boundary
        ),
    )
    class51 = org.add_class(db, grade=grade5, number=1, now=now, class_code="gu22cm")
    class52 = org.add_class(db, grade=grade5, number=2, now=now)
    org.add_class(db, grade=grade3, number=1, now=now)
    org.add_class(db, grade=grade7, number=1, now=now)

    def person(
        username: str,
        name: str,
        gender: Gender | None = None,
        *,
        own_password: bool = True,
        **fields: object,
    ) -> User:
        user = accounts.new_user(
            db,
            username=username,
            real_name=name,
            now=now,
            gender=gender,
            password_hash=own_hash if own_password else None,
            default_credential_id=None if own_password else school.default_credential_id,
            must_change_password=not own_password,
            **fields,
        )
        db.flush()
        return user

    person("pt_admin", "张平台", is_platform_admin=True)
    person("kefu01", "刘客服", Gender.FEMALE, is_agent=True)
    admin = person("xx_admin", "王管理", Gender.MALE, phone="13800000010")
    accounts.join_school(db, user=admin, school_id=school.id, role=SchoolRole.SCHOOL_ADMIN, now=now)

    homeroom = person("chenxiaokai", "陈小凯", Gender.MALE, phone="13800000001")
    math = person("zhaoshuxue", "赵数学", Gender.FEMALE, phone="13800000002")
    other_homeroom = person("sunbanzhu", "孙班主", Gender.FEMALE, phone="13800000003")
    for teacher in (homeroom, math, other_homeroom):
        accounts.join_school(
            db, user=teacher, school_id=school.id, role=SchoolRole.TEACHER, now=now
        )
    classes.assign_teacher(
        db, school_class=class51, teacher=homeroom, subject="语文", homeroom=True
    )
    classes.assign_teacher(db, school_class=class51, teacher=math, subject="数学")
    classes.assign_teacher(
        db, school_class=class52, teacher=other_homeroom, subject="语文", homeroom=True
    )

    birth_year = str(today.year - 11)
    students = [
        ("lixiaoyao", "李逍遥", Gender.MALE, "0312", "011"),
        ("heshuhuan", "何书桓", Gender.FEMALE, "0521", "022"),
        ("weiyingluo", "魏璎珞", Gender.FEMALE, "0708", "042"),
        ("linyiping", "林依萍", Gender.FEMALE, "0914", "062"),
        ("zhoubotong", "周伯通", Gender.MALE, "1101", "071"),
    ]
    created = []
    for number, (username, name, gender, mmdd, seq) in enumerate(students, start=1):
        student = person(
            username, name, gender, id_card_number=_id_card("330603", birth_year + mmdd, seq)
        )
        created.append(student)
        accounts.join_school(
            db, user=student, school_id=school.id, role=SchoolRole.STUDENT, now=now
        )
        enrolment.enrol(
            db, school_class=class51, student=student, now=now, student_number=f"{number:02d}"
        )
    by_username = {student.username: student for student in created}
    by_username["weiyingluo"].phone = DEMO_PUPIL_PHONE
    by_username["weiyingluo"].phone_verified_at = now
    by_username["zhoubotong"].email = DEMO_PUPIL_EMAIL
    by_username["zhoubotong"].email_verified_at = now
    xuesheng8 = person(
        "s_xuesheng008",
        "学生八",
        Gender.MALE,
        own_password=False,
        id_card_number=_id_card("330603", birth_year + "0808", "081"),
    )
    accounts.join_school(db, user=xuesheng8, school_id=school.id, role=SchoolRole.STUDENT, now=now)
    enrolment.enrol(db, school_class=class51, student=xuesheng8, now=now, student_number="08")

    parent = person("p_lidaniang", "李大娘", Gender.FEMALE, phone="13900000011", is_parent=True)
    accounts.join_school(db, user=parent, school_id=school.id, role=SchoolRole.PARENT, now=now)
    families.link(db, parent=parent, child=created[0], relation=Relation.MOTHER, now=now)
    person("p_zhoujia", "周家长", Gender.MALE, phone="13900000015", is_parent=True)

    # 柯桥实验小学: a second school of the district, with people of its own.
    second = org.create_school(
        db,
        name="柯桥实验小学",
        district=district,
        default_password=SECOND_SCHOOL_DEFAULT_PASSWORD,
        hasher=hasher,
        now=now,
        reset_mode=ResetMode.DEFAULT_PASSWORD,
    )
    second_campus = org.create_campus(db, school=second, name="实验小学本部")
    second_primary = org.add_stage(
        db, campus=second_campus, stage=Stage.PRIMARY, school_system=SchoolSystem.SIX_THREE
    )
    second_grade5 = org.add_grade(
        db,
        stage_unit=second_primary,
        enrollment_year=enrollment_year_for(
            Stage.PRIMARY, SchoolSystem.SIX_THREE, 5, today, boundary
        ),
    )
    second_class = org.add_class(db, grade=second_grade5, number=1, now=now)
    second_admin = person("kq_admin", "孔管理", Gender.MALE, phone="13800000020")
    accounts.join_school(
        db, user=second_admin, school_id=second.id, role=SchoolRole.SCHOOL_ADMIN, now=now
    )
    wu = person("wulaoshi", "吴老师", Gender.FEMALE, phone="13800000021")
    accounts.join_school(db, user=wu, school_id=second.id, role=SchoolRole.TEACHER, now=now)
    classes.assign_teacher(db, school_class=second_class, teacher=wu, subject="语文", homeroom=True)
    xiaofan = person(
        "zhangxiaofan",
        "张小凡",
        Gender.MALE,
        id_card_number=_id_card("330603", birth_year + "0215", "091"),
    )
    accounts.join_school(db, user=xiaofan, school_id=second.id, role=SchoolRole.STUDENT, now=now)
    enrolment.enrol(db, school_class=second_class, student=xiaofan, now=now, student_number="01")
    mother = person("p_zhangmama", "张妈妈", Gender.FEMALE, phone="13900000021", is_parent=True)
    accounts.join_school(db, user=mother, school_id=second.id, role=SchoolRole.PARENT, now=now)
    families.link(db, parent=mother, child=xiaofan, relation=Relation.MOTHER, now=now)
    db.flush()
    enrol_demo_factors(db, now=now)

    return DEMO_ACCOUNTS
