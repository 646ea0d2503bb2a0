"""The simulator's stand-in keypad (dial.kind none) never takes a pin the booth's config uses."""

from __future__ import annotations

import argparse
import dataclasses

from kiosk.cli import _simulator_config
from kiosk.config import parse_config

ARGS = argparse.Namespace(clips=None, config="booth.yaml", state_dir=None)


def test_the_stand_in_keypad_moves_off_the_bell_and_lamp_pins() -> None:
    config = parse_config("hook:\n  pin: 17\nbell:\n  pin: 22\nstatus_led:\n  pin: 9\n")
    dial = _simulator_config(config, ARGS).dial
    pins = [*dial.rows, *dial.columns]
    assert dial.kind == "keypad" and len(set(pins)) == 7
    assert not {17, 22, 9} & set(pins)
    assert dial.columns == config.dial.columns  # untouched where nothing clashes
    # The result is a config the booth accepts (kiosk.config's pin check).
    text = "bell:\n  pin: 22\nstatus_led:\n  pin: 9\ndial:\n  kind: keypad\n"
    text += f"  rows: {list(dial.rows)}\n  columns: {list(dial.columns)}\n"
    assert parse_config(text).dial.rows == dial.rows


def test_a_configured_dial_is_kept() -> None:
    config = parse_config("dial:\n  kind: rotary\n")
    assert _simulator_config(config, ARGS).dial == dataclasses.replace(config.dial)
