"""The dial's config keys: the digit map, the pins and their checks."""

import pytest

from kiosk.config import parse_config
from kiosk.errors import ConfigError


def test_the_map_takes_digits_quoted_or_not() -> None:
    cfg = parse_config('dial:\n  kind: rotary\n  map:\n    3: guide\n    "4": next\n', "k.yaml")
    assert cfg.dial.map.action("3") == "guide" and cfg.dial.map.action("4") == "next"
    assert cfg.dial.map.action("1") == "live" and cfg.dial.map.action("#") == "none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dial:\n  kind: pulse\n", "k.yaml:2: dial.kind: expected one of"),
        ("dial:\n  map:\n    3: newset\n", "k.yaml:3: dial.map.3: expected one of"),
        ("dial:\n  map:\n    11: next\n", "dial.map.11: unknown key"),
        (
            "dial:\n  kind: rotary\n  pulse_pin: 17\n",
            "dial.pulse_pin: GPIO17 is already hook.pin",
        ),
        (
            "dial:\n  kind: keypad\n  rows: [5, 6, 13]\n",
            "dial.rows: a 3x4 keypad needs 4 pins, got 3",
        ),
        (
            "dial:\n  kind: keypad\n  columns: [11, 5, 40]\n",
            "dial.columns[2]: expected a BCM GPIO number 0-27, got 40",
        ),
        ("dial:\n  ask_afer_s: 5\n", "unknown key (did you mean 'ask_after_s'?)"),
    ],
)
def test_bad_dial_config_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "k.yaml")
    assert any(message in p for p in e.value.problems), e.value.problems


def test_pins_of_the_kind_not_fitted_are_not_checked() -> None:
    parse_config("dial:\n  kind: keypad\n  pulse_pin: 17\n", "k.yaml")
    parse_config("bell:\n  pin: 27\n", "k.yaml")  # the rotary default, with no dial
