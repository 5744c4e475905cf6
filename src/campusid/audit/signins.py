"""A person's recent sign-ins as their history pages show them: the person's own 账号安全 and,
for a child, their parent's page of the child (issue 24: badge sign-ins among them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from campusid.audit.service import Outcome, events_for
from campusid.i18n import N_


@dataclass(frozen=True)
class SignInEntry:
    """One line of a sign-in history."""

    at: datetime
    what: str
    ok: bool
    address: str | None
    user_agent: str | None


# issue 19: the sign-in history names the factor used; issue 24: or the badge.
_SIGN_IN_BY_FACTOR = {
    "totp": N_("登录成功（密码 + 动态验证码）"),
    "recovery": N_("登录成功（密码 + 恢复码）"),
    "hwk": N_("登录成功（密码 + 安全密钥）"),
    "swk": N_("登录成功（密码 + 通行密钥）"),
    "sms": N_("登录成功（密码 + 短信验证码）"),
    "remembered": N_("登录成功（密码，已记住的设备）"),
    "qr": N_("登录成功（扫码登录卡）"),
}


def sign_in_label(ok: bool, detail: dict[str, object]) -> str:
    """What a sign-in event says in the history."""
    if not ok:
        if detail.get("reason") == "bad_second_factor":
            return N_("登录失败（两步验证码错误）")
        if detail.get("factor") == "qr":
            return N_("登录失败（扫码登录卡）")
        return N_("登录失败")
    factor = detail.get("factor")
    if isinstance(factor, str) and factor in _SIGN_IN_BY_FACTOR:
        return _SIGN_IN_BY_FACTOR[factor]
    return N_("登录成功（密码）")


def recent_sign_ins(db: Session, *, user_id: int, limit: int = 20) -> list[SignInEntry]:
    """The person's recent sign-ins, newest first (the password step of a two-step sign-in is
    left out: its second step says it)."""
    entries: list[SignInEntry] = []
    for event in events_for(db, target_user_id=user_id, limit=200):
        if event.action != "sign_in":
            continue
        ok = event.outcome == Outcome.SUCCESS.value
        detail = event.detail or {}
        if ok and detail.get("second_step") == "pending":
            continue
        entries.append(
            SignInEntry(
                event.occurred_at,
                sign_in_label(ok, detail),
                ok,
                event.client_address,
                event.user_agent,
            )
        )
        if len(entries) >= limit:
            break
    return entries
