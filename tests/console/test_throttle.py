"""Login throttling counts failures per user name and per address within a window."""

from __future__ import annotations

from infoline.console.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_shut_the_user_name_until_the_window_passes() -> None:
    clock = Clock()
    throttle = LoginThrottle(5, 900, clock)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"):
        assert throttle.retry_after("olena", address) == 0
        throttle.failed("Olena", address)
        clock.now += 10
    assert throttle.retry_after("olena", "10.0.0.9") == 900 - 50
    assert throttle.retry_after("taras", "10.0.0.9") == 0
    clock.now += 851
    assert throttle.retry_after("olena", "10.0.0.9") == 0


def test_five_failures_shut_the_address_for_every_user_name() -> None:
    clock = Clock()
    throttle = LoginThrottle(5, 900, clock)
    for name in ("a", "b", "c", "d", "e"):
        throttle.failed(name, "10.0.0.1")
    assert throttle.retry_after("f", "10.0.0.1") == 900
    assert throttle.retry_after("f", "10.0.0.2") == 0


def test_a_success_forgets_the_user_names_failures_but_not_the_addresss() -> None:
    clock = Clock()
    throttle = LoginThrottle(2, 900, clock)
    throttle.failed("olena", "10.0.0.1")
    throttle.succeeded("olena")
    throttle.failed("olena", "10.0.0.2")
    assert throttle.retry_after("olena", "10.0.0.3") == 0
    throttle.failed("taras", "10.0.0.1")
    assert throttle.retry_after("olena", "10.0.0.1") == 900
