"""Issue 18, finding 1: no way around the forced change, and no going back to an old password.

Every route where the holder chooses a password (the forced change, 修改密码, 找回密码) refuses
the current password, a default password of the holder's schools and the last few passwords;
earlier passwords are kept only as argon2id hashes.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from tests.support.classes import new_password_of
from tests.support.http import post_form, sign_in
from tests.support.recovery import last_code, request_code, set_new_password, verify

from campusid.accounts.models import PasswordHistory
from campusid.demo import DEMO_PASSWORD, SCHOOL_DEFAULT_PASSWORD
from campusid.org.models import ResetMode

CURRENT = "新密码不能与当前密码相同"
DEFAULT = "新密码不能使用学校的默认密码"
EARLIER = "新密码不能与最近用过的密码相同"
FIRST, SECOND, THIRD = "Lan#Tian2027", "Bai-Yun2027!", "Qing&Shan2027"


def _teacher_resets(make_client, world, student) -> str:
    teacher = make_client()
    sign_in(teacher, "chenxiaokai")
    base = f"/m/classes/{world.class51.id}/students/{student.id}"
    done = post_form(teacher, f"{base}/reset")
    assert done.status_code == 200
    return new_password_of(done.text)


def _forced_change(client, password, confirm=None):
    return post_form(
        client,
        "/password/change-required",
        {"new_password": password, "confirm_password": password if confirm is None else confirm},
    )


def _own_change(client, current, new):
    return post_form(
        client,
        "/account/password",
        {"current_password": current, "new_password": new, "confirm_password": new},
    )


def _still_pending(db, user):
    db.expire_all()
    assert user.must_change_password is True


def test_after_a_default_reset_the_default_is_refused_at_the_forced_change(
    client, make_client, db, world
):
    student = world["linyiping"]
    assert _teacher_resets(make_client, world, student) == SCHOOL_DEFAULT_PASSWORD
    response = post_form(
        client, "/login", {"login": "linyiping", "password": SCHOOL_DEFAULT_PASSWORD}
    )
    assert response.headers["location"] == "/password/change-required"

    refused = _forced_change(client, SCHOOL_DEFAULT_PASSWORD)
    assert refused.status_code == 400
    assert CURRENT in refused.text
    assert "密码已修改" not in refused.text
    _still_pending(db, student)
    # Still nothing else is reachable; a new password of their own is taken.
    assert client.get("/").headers["location"] == "/password/change-required"
    assert _forced_change(client, FIRST).headers["location"] == "/?changed=1"
    db.expire_all()
    assert student.must_change_password is False


def test_after_a_random_reset_neither_the_temporary_password_nor_the_default_is_taken(
    client, make_client, db, world
):
    world.school.reset_mode = ResetMode.RANDOM
    db.commit()
    student = world["linyiping"]
    temporary = _teacher_resets(make_client, world, student)
    sign_in(client, "linyiping", temporary)

    same = _forced_change(client, temporary)
    assert same.status_code == 400 and CURRENT in same.text
    default = _forced_change(client, SCHOOL_DEFAULT_PASSWORD)
    assert default.status_code == 400 and DEFAULT in default.text
    _still_pending(db, student)


def test_the_first_sign_in_on_the_school_default_must_leave_it(client, db, world):
    student = world["s_xuesheng008"]
    sign_in(client, "s_xuesheng008", SCHOOL_DEFAULT_PASSWORD)
    refused = _forced_change(client, SCHOOL_DEFAULT_PASSWORD)
    assert refused.status_code == 400
    assert CURRENT in refused.text or DEFAULT in refused.text
    _still_pending(db, student)


def test_own_change_refuses_the_current_and_the_recent_passwords(client, db, world):
    sign_in(client, "chenxiaokai")
    assert CURRENT in _own_change(client, DEMO_PASSWORD, DEMO_PASSWORD).text
    assert "密码修改成功" in _own_change(client, DEMO_PASSWORD, FIRST).text
    assert "密码修改成功" in _own_change(client, FIRST, SECOND).text
    for earlier in (DEMO_PASSWORD, FIRST):
        refused = _own_change(client, SECOND, earlier)
        assert refused.status_code == 400
        assert EARLIER in refused.text
    assert CURRENT in _own_change(client, SECOND, SECOND).text
    # The school's default is refused to a teacher of that school too.
    assert DEFAULT in _own_change(client, SECOND, SCHOOL_DEFAULT_PASSWORD).text


def test_only_the_configured_number_of_earlier_passwords_is_kept(client, db, world, services):
    services.settings.password_history = 1
    sign_in(client, "chenxiaokai")
    assert "密码修改成功" in _own_change(client, DEMO_PASSWORD, FIRST).text
    assert "密码修改成功" in _own_change(client, FIRST, SECOND).text
    # FIRST is the one earlier password kept; the demo password has dropped out of the history.
    assert EARLIER in _own_change(client, SECOND, FIRST).text
    assert "密码修改成功" in _own_change(client, SECOND, DEMO_PASSWORD).text
    db.expire_all()
    rows = list(
        db.scalars(
            select(PasswordHistory).where(PasswordHistory.user_id == world["chenxiaokai"].id)
        )
    )
    assert len(rows) == 1


def test_the_history_holds_argon2id_hashes_only(client, db, world):
    sign_in(client, "chenxiaokai")
    _own_change(client, DEMO_PASSWORD, FIRST)
    _own_change(client, FIRST, SECOND)
    db.expire_all()
    hashes = list(db.scalars(select(PasswordHistory.password_hash)))
    assert len(hashes) == 2
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any(p in h for h in hashes for p in (DEMO_PASSWORD, FIRST, SECOND))


def test_recovery_refuses_the_current_and_an_earlier_password(client, db, world, services, clock):
    phone = "13800000001"  # 陈小凯
    request_code(client, db, services, phone=phone)
    assert verify(client, last_code(db, phone)).status_code == 303
    refused = set_new_password(client, DEMO_PASSWORD)
    assert refused.status_code == 400
    assert CURRENT in refused.text
    assert set_new_password(client, FIRST).status_code in (200, 303)

    # A second recovery, later, may not go back to the password before.
    clock.set(clock.now() + timedelta(minutes=30))
    client.cookies.clear()
    request_code(client, db, services, phone=phone)
    assert verify(client, last_code(db, phone)).status_code == 303
    again = set_new_password(client, DEMO_PASSWORD)
    assert again.status_code == 400
    assert EARLIER in again.text
    db.expire_all()
    assert (
        post_form(client, "/login", {"login": "chenxiaokai", "password": FIRST}).status_code == 303
    )


def test_a_parent_setting_the_default_does_not_learn_it_but_the_child_must_change_it(
    client, make_client, db, world
):
    child = world["lixiaoyao"]  # 李大娘's child in the demo
    sign_in(client, "p_lidaniang")
    response = post_form(
        client,
        f"/me/children/{child.id}/password",
        {"new_password": SCHOOL_DEFAULT_PASSWORD, "confirm_password": SCHOOL_DEFAULT_PASSWORD},
    )
    # The parent is not told the password is the school's default (nor one of the child's).
    assert response.status_code == 303
    db.expire_all()
    assert child.must_change_password is True
    browser = make_client()
    login = post_form(
        browser, "/login", {"login": "lixiaoyao", "password": SCHOOL_DEFAULT_PASSWORD}
    )
    assert login.headers["location"] == "/password/change-required"
    refused = _forced_change(browser, SCHOOL_DEFAULT_PASSWORD)
    assert refused.status_code == 400
    assert CURRENT in refused.text


def test_a_parent_choosing_a_new_password_leaves_the_child_free(client, db, world):
    child = world["lixiaoyao"]  # 李大娘's child in the demo
    sign_in(client, "p_lidaniang")
    response = post_form(
        client,
        f"/me/children/{child.id}/password",
        {"new_password": FIRST, "confirm_password": FIRST},
    )
    assert response.status_code == 303
    db.expire_all()
    assert child.must_change_password is False


def test_the_refusal_is_in_english_too(client, db, world):
    client.cookies.set("campusid_lang", "en")
    sign_in(client, "chenxiaokai")
    refused = _own_change(client, DEMO_PASSWORD, DEMO_PASSWORD)
    assert refused.status_code == 400
    assert "must differ from the current password" in refused.text
