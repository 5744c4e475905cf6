"""issue 19: the session's words become RFC 8176 `amr` values and an `acr` (oidc.service)."""

from __future__ import annotations

import pytest

from campusid.oidc.service import ACR_MFA, ACR_PASSWORD, acr_of, amr_of, wants_mfa


@pytest.mark.parametrize(
    ("session_amr", "second_factor", "expected"),
    [
        (None, False, ["pwd"]),
        ("pwd", False, ["pwd"]),
        ("pwd otp", True, ["pwd", "otp", "mfa"]),
        ("pwd hwk", True, ["pwd", "hwk", "mfa"]),
        ("pwd swk", True, ["pwd", "swk", "mfa"]),
        ("pwd recovery", True, ["pwd", "otp", "mfa"]),  # a recovery code is a one-time code
        ("pwd made-up", True, ["pwd"]),  # an unknown word proves nothing
    ],
)
def test_amr_of(session_amr, second_factor, expected):
    assert amr_of(session_amr, second_factor) == expected


def test_acr_values():
    assert wants_mfa("urn:other:loa2 urn:campusid:mfa") == ACR_MFA
    assert wants_mfa("mfa") == "mfa"
    assert wants_mfa("urn:campusid:pwd") is None and wants_mfa(None) is None
    assert acr_of(["pwd", "otp", "mfa"], "mfa") == "mfa"
    assert acr_of(["pwd", "otp", "mfa"], None) == ACR_MFA
    assert acr_of(["pwd"], ACR_MFA) == ACR_PASSWORD
