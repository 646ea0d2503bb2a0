"""The status lamp's looks and patterns, and the bell's quiet hours, on gpiozero's mock pins."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from kiosk.bell import Bell, may_ring
from kiosk.config import BellConfig, StatusLedConfig, parse_config
from kiosk.errors import ConfigError
from kiosk.lamp import Look, StatusLamp, look_for, pattern_for


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.close()


@pytest.mark.parametrize(
    ("ready", "audio_ok", "off_hook", "sync", "look"),
    [
        (False, True, False, "off", Look.STARTING),
        (False, False, False, "off", Look.ERROR),  # no device at start: retrying
        (True, True, False, "off", Look.IDLE),
        (True, True, False, "ok", Look.IDLE),
        (True, True, True, "ok", Look.PLAYING),
        (True, True, True, "stale", Look.PLAYING),  # a person at the phone comes first
        (True, True, False, "stale", Look.STALE),
        (True, True, False, "error", Look.STALE),
        (True, False, True, "ok", Look.ERROR),
    ],
)
def test_look_for(ready: bool, audio_ok: bool, off_hook: bool, sync: str, look: Look) -> None:
    assert look_for(ready, audio_ok, off_hook, sync) is look


@pytest.mark.parametrize("pwm", [False, True])
def test_every_look_has_its_own_pattern(pwm: bool) -> None:
    patterns = [pattern_for(look, pwm) for look in Look]
    assert len(set(patterns)) == len(Look)
    plain = {level for p in patterns for level, _ in p.steps}
    assert plain <= ({0, 1} if not pwm else {0, 0.15, 1})


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll for a lamp-thread effect (a deadline for a hung test, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def levels(pin: Any) -> list[float]:
    return [float(s.state) for s in pin.states]


def test_lamp_steps_through_the_patterns(factory: MockFactory) -> None:
    lamp = StatusLamp(StatusLedConfig(pin=18, pwm=True), pin_factory=factory)
    pin: Any = factory.pin(18)
    wait_until(lambda: levels(pin)[-3:] == [1.0, 0.0, 1.0])  # starting: blinking
    lamp.show(Look.IDLE)
    wait_until(lambda: pin.state == 1.0)
    lamp.show(Look.PLAYING)
    wait_until(lambda: pin.state == 0.15)  # PWM: a dim glow
    pin.clear_states()
    lamp.show(Look.STALE)
    wait_until(lambda: len(pin.states) >= 5)
    assert levels(pin)[:5] == [0.15, 1.0, 0.0, 1.0, 0.0]  # from the glow to a double blink
    lamp.close()
    assert pin.state == 0.0


def test_plain_led_is_on_off_only() -> None:
    factory = MockFactory()  # no PWM on these pins: an LED, not a PWMLED
    lamp = StatusLamp(StatusLedConfig(pin=18), pin_factory=factory)
    pin: Any = factory.pin(18)
    lamp.show(Look.IDLE)
    wait_until(lambda: pin.state == 1)
    lamp.show(Look.ERROR)
    wait_until(lambda: len(pin.states) >= 6)
    assert set(levels(pin)) == {0.0, 1.0}
    lamp.close()
    factory.close()


@pytest.mark.parametrize(
    ("hhmm", "rings"), [("12:00", True), ("19:59", True), ("20:00", False), ("03:00", False)]
)
def test_quiet_hours_wrap_midnight(hhmm: str, rings: bool) -> None:
    wall = dt.datetime.combine(dt.date(2026, 11, 23), dt.time.fromisoformat(hhmm))
    assert may_ring(BellConfig(pin=23), wall) is rings  # default 20:00-08:00


def test_bell_rings_once_outside_quiet_hours(factory: MockFactory) -> None:
    bell = Bell(BellConfig(pin=23, quiet_hours=("22:00-07:00",), ring_s=0.1), factory)
    pin: Any = factory.pin(23)
    assert bell.ring(dt.datetime(2026, 11, 23, 23, 30)) is False
    assert levels(pin) == [0.0]
    assert bell.ring(dt.datetime(2026, 11, 23, 12, 0)) is True
    wait_until(lambda: levels(pin) == [0.0, 1.0, 0.0])
    bell.close()


def test_config_sections() -> None:
    text = "status_led:\n  pin: 18\n  pwm: true\nbell:\n  pin: 23\n  quiet_hours: []\n"
    cfg = parse_config(text)
    assert cfg.status_led == StatusLedConfig(18, True)
    assert cfg.bell.quiet_hours == () and cfg.bell.ring_s == 2.0
    with pytest.raises(ConfigError) as e:
        parse_config("bell:\n  quiet_hours: [8-20]\n  pin: 40\n", "k.yaml")
    assert e.value.problems == [
        "k.yaml:3: bell.pin: expected an integer 0-27, got 40",
        "k.yaml:2: bell.quiet_hours: expected \"HH:MM-HH:MM\" ranges, got ['8-20']",
    ]


def test_each_device_needs_its_own_pin() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config("hook:\n  pin: 18\nstatus_led:\n  pin: 18\nbell:\n  pin: 18\n", "k.yaml")
    assert e.value.problems == [
        "k.yaml:4: status_led.pin: GPIO18 is already hook.pin",
        "k.yaml:6: bell.pin: GPIO18 is already status_led.pin",
    ]
