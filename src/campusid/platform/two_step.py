"""平台管理 → 两步验证策略 (issue 19): the platform administrator's second-factor policy per
group of roles, stored in `two_step_role_policies` (the environment settings until saved).

What the page may change and what it shows fixed follows the one rule
(security.authz.second_factor_policy): platform administrators, agents and school
administrators must hold a factor, pupils are offered none, teachers must or may (chosen
here), parents may; platform administrators are never remembered nor sent a code by SMS.
Each group whose rule changes is one audit event; saving the same values again changes
nothing (no row, no event).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts import factors
from campusid.accounts.models import TwoStepRolePolicy
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo
from campusid.context import Services
from campusid.i18n import N_
from campusid.security import authz
from campusid.security.authz import FactorNeed, RoleFactorRule

MAX_DAYS = 90

# The rows of the page, strongest first, with what each may change.
GROUP_LABELS: dict[str, str] = {
    "platform_admin": N_("平台管理员"),
    "agent": N_("客服"),
    "school_admin": N_("学校管理员"),
    "teacher": N_("教师（含班主任、年级组长）"),
    "parent": N_("家长"),
    "student": N_("学生"),
}
NEED_LABELS: dict[FactorNeed, str] = {
    FactorNeed.REQUIRED: N_("必须"),
    FactorNeed.OPTIONAL: N_("可选"),
    FactorNeed.NOT_OFFERED: N_("不提供"),
}

GRACE_INVALID = N_("「%(group)s」的宽限期须为 0 到 %(max)s 之间的整数（天）")
REMEMBER_INVALID = N_("「%(group)s」的记住此设备天数须为 0 到 %(max)s 之间的整数（0 为不允许）")
NEED_INVALID = N_("请为「%(group)s」选择「必须」或「可选」")


@dataclass(frozen=True)
class GroupRow:
    """One row of the page: the group, its rule now, and what the page lets change."""

    group: str
    label: str
    rule: RoleFactorRule
    need_chosen: bool  # 必须 / 可选 offered (teachers)
    grace_editable: bool  # the group can be required
    remember_editable: bool  # never for platform administrators
    saved: bool  # a row in the database (else the environment settings)


def rows(db: Session, services: Services) -> list[GroupRow]:
    """The page's rows, in the order of the rule's groups."""
    rules = factors.policy_rules(db, services.settings)
    saved = set(db.scalars(select(TwoStepRolePolicy.role_group)))
    result = []
    for group in authz.POLICY_GROUPS:
        rule = rules[group]
        offered = authz.FIXED_NEED.get(group) is not FactorNeed.NOT_OFFERED
        result.append(
            GroupRow(
                group=group,
                label=GROUP_LABELS[group],
                rule=rule,
                need_chosen=group in authz.CHOSEN_NEED,
                grace_editable=authz.FIXED_NEED.get(group) is FactorNeed.REQUIRED
                or group in authz.CHOSEN_NEED,
                remember_editable=offered and group not in authz.NO_REMEMBER_NO_SMS,
                saved=group in saved,
            )
        )
    return result


def _days(text: str | None, fallback: int) -> int | None:
    if text is None:
        return fallback
    text = text.strip()
    if not text.isascii() or not text.isdigit() or int(text) > MAX_DAYS:
        return None
    return int(text)


def save(
    db: Session,
    *,
    services: Services,
    values: Mapping[str, str | None],
    sms: set[str],
    actor_id: int,
    client: ClientInfo,
) -> list[str]:
    """Save the page (all or nothing): the problems, or [] once saved. `values` holds the typed
    fields (`<group>_need`, `<group>_grace`, `<group>_remember`); `sms` the groups ticked."""
    now = services.clock.now()
    problems: list[str] = []
    changed: list[tuple[str, RoleFactorRule]] = []
    for row in rows(db, services):
        if row.group == "student":
            continue
        label = row.label
        need = row.rule.need
        if row.need_chosen:
            typed = values.get(f"{row.group}_need")
            if typed not in {FactorNeed.REQUIRED.value, FactorNeed.OPTIONAL.value}:
                problems.append(N_(NEED_INVALID, group=label))
            else:
                need = FactorNeed(typed)
        grace = row.rule.grace_days
        if row.grace_editable:
            parsed = _days(values.get(f"{row.group}_grace"), grace)
            if parsed is None:
                problems.append(N_(GRACE_INVALID, group=label, max=MAX_DAYS))
            else:
                grace = parsed
        remember, allow_sms = 0, False
        if row.remember_editable:
            parsed = _days(values.get(f"{row.group}_remember"), row.rule.remember_days)
            if parsed is None:
                problems.append(N_(REMEMBER_INVALID, group=label, max=MAX_DAYS))
            else:
                remember = parsed
            allow_sms = row.group in sms
        rule = RoleFactorRule(need, grace_days=grace, remember_days=remember, sms=allow_sms)
        if rule != row.rule:
            changed.append((row.group, rule))
    if problems:
        return problems
    for group, rule in changed:
        stored = db.get(TwoStepRolePolicy, group)
        if stored is None:
            stored = TwoStepRolePolicy(role_group=group)
            db.add(stored)
        stored.need = rule.need.value if group in authz.CHOSEN_NEED else None
        stored.grace_days = rule.grace_days
        stored.remember_days = rule.remember_days
        stored.allow_sms = rule.sms
        stored.updated_at = now
        stored.updated_by_id = actor_id
        audit.record(
            db,
            now=now,
            action=AuditAction.TWO_STEP_POLICY_CHANGED,
            actor_id=actor_id,
            client=client,
            detail={
                "role": group,
                "need": rule.need.value,
                "grace_days": rule.grace_days,
                "remember_days": rule.remember_days,
                "allow_sms": rule.sms,
            },
        )
    return []
