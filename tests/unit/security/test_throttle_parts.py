"""The throttle's parts: device cookies, failure counts, waits, client addresses."""

from __future__ import annotations

from campusid.security.throttle import (
    DeviceCookies,
    MemoryFailureStore,
    ThrottlePolicy,
    address_key,
)


def test_device_cookie_knows_only_the_accounts_that_signed_in_from_it():
    cookies = DeviceCookies("secret")
    value = cookies.remember(None, user_id=7, password_version=2)
    device = cookies.read(value)
    assert cookies.knows(device, user_id=7, password_version=2)
    assert not cookies.knows(device, user_id=8, password_version=2)
    # A password change retires the tag.
    assert not cookies.knows(device, user_id=7, password_version=3)
    # A second account on the same browser; both known, the id kept.
    both = cookies.read(cookies.remember(device, user_id=8, password_version=0))
    assert both is not None and device is not None and both.id == device.id
    assert cookies.knows(both, user_id=7, password_version=2)
    assert cookies.knows(both, user_id=8, password_version=0)


def test_device_cookie_cannot_be_forged_or_moved():
    cookies = DeviceCookies("secret")
    value = cookies.remember(None, user_id=7, password_version=0)
    version, device_id, tag = value.split(".")
    # Another secret (another platform) does not accept it.
    assert not DeviceCookies("other").knows(
        DeviceCookies("other").read(value), user_id=7, password_version=0
    )
    # The tag copied under another browser id means nothing.
    moved = cookies.read(".".join([version, "A" * 22, tag]))
    assert not cookies.knows(moved, user_id=7, password_version=0)
    # A made-up tag, garbage and oversized values are refused.
    assert not cookies.knows(
        cookies.read(".".join([version, device_id, "B" * 16])), user_id=7, password_version=0
    )
    for junk in ("", "x", "2." + device_id, "1.short", "1." + device_id + ".<script>", "1." * 400):
        device = cookies.read(junk)
        assert device is None or not cookies.knows(device, user_id=7, password_version=0)


def test_device_cookie_keeps_the_latest_accounts():
    cookies = DeviceCookies("secret")
    device = None
    for user_id in range(12):
        device = cookies.read(cookies.remember(device, user_id=user_id, password_version=0))
    assert cookies.knows(device, user_id=11, password_version=0)
    assert not cookies.knows(device, user_id=0, password_version=0)


def test_waits_double_up_to_the_cap():
    policy = ThrottlePolicy(
        captcha_after=3, delay_after=5, delay_base_seconds=15, delay_max_seconds=120
    )
    assert [policy.delay_for(n) for n in range(4, 10)] == [0, 15, 30, 60, 120, 120]
    store = MemoryFailureStore(secret="s", memory_seconds=86400)
    for _ in range(5):
        failures = store.fail("pair", now=1000.0)
    assert policy.wait(failures, 1000.0) == 15
    assert policy.wait(failures, 1014.5) == 1
    assert policy.wait(failures, 1015.0) == 0
    assert policy.needs_captcha(failures)


def test_failures_are_forgotten_and_values_taken_once():
    store = MemoryFailureStore(secret="s", memory_seconds=100)
    store.fail("pair", now=0.0)
    assert store.get("pair", now=99.0).count == 1
    assert store.get("pair", now=100.0).count == 0
    assert store.fail("pair", now=100.0).count == 1  # counting starts again
    store.put("captcha", "v", now=0.0, ttl=10)
    assert store.take("captcha", now=1.0) == "v"
    assert store.take("captcha", now=1.0) is None
    store.put("captcha", "v", now=0.0, ttl=10)
    assert store.take("captcha", now=10.0) is None


def test_an_ipv6_subscriber_is_one_client():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1" == address_key("10.0.0.1")
    assert address_key(None) == "unknown"
