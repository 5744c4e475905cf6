"""A suspended school (停用): its administrators are told so; other schools are not affected."""

from __future__ import annotations

import pytest

from campusid.accounts.models import User
from campusid.security import authz
from campusid.security.permissions import Permission, Principal, Role


def _admin(*, admin_of: set[int], suspended: set[int]) -> Principal:
    principal = Principal(user=User(id=7, username="u7", real_name="某人"))
    principal.admin_school_ids = set(admin_of)
    principal.suspended_school_ids = set(suspended)
    if admin_of:
        principal.roles.add(Role.SCHOOL_ADMIN)
    return principal


def test_the_console_of_a_suspended_school_says_why() -> None:
    principal = _admin(admin_of={2}, suspended={1})
    with pytest.raises(authz.Denied) as refused:
        authz.check_school_admin(principal, 1)
    assert refused.value.reason == "school_suspended"
    assert refused.value.message == authz.SCHOOL_SUSPENDED
    authz.check_school_admin(principal, 2)  # the other school still works
    assert authz.check_administers_a_school(principal) == 2


def test_an_administrator_of_only_suspended_schools_has_no_console() -> None:
    principal = _admin(admin_of=set(), suspended={1})
    with pytest.raises(authz.Denied) as refused:
        authz.check_administers_a_school(principal)
    assert refused.value.reason == "school_suspended"
    with pytest.raises(authz.Denied) as unknown:
        authz.check_school_admin(principal, 1, exists=False)
    assert unknown.value.reason == "not_school_admin"


def test_only_platform_administrators_onboard_schools() -> None:
    platform = Principal(
        user=User(id=1, username="pt", real_name="平台"), roles={Role.PLATFORM_ADMIN}
    )
    authz.check_permission(platform, Permission.PLATFORM_SCHOOLS_MANAGE)
    for role in set(Role) - {Role.PLATFORM_ADMIN}:
        someone = Principal(user=User(id=2, username="x2", real_name="某人"), roles={role})
        with pytest.raises(authz.Denied):
            authz.check_permission(someone, Permission.PLATFORM_SCHOOLS_MANAGE)
