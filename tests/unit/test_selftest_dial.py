"""The self-test's "Dial 5" step on gpiozero's mock pins, a person dialing from a thread."""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Callable, Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk.config import DialConfig
from kiosk.dial.simulated import SimulatedKeypad, SimulatedRotary, pulse_train
from kiosk.selftest.console import Console
from kiosk.selftest.dial import check_dial
from kiosk.selftest.report import Result


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.close()


class Person(Console):
    """Does `act` on a thread when asked to dial."""

    def __init__(self, act: Callable[[], None]) -> None:
        super().__init__(io.StringIO(), io.StringIO())
        self.act = act
        self.thread: threading.Thread | None = None

    def say(self, text: str) -> None:
        super().say(text)
        if text.startswith("Dial 5"):
            self.thread = threading.Thread(target=self.act)
            self.thread.start()


def run(factory: MockFactory, config: DialConfig, act: Callable[[], None]) -> tuple[Result, str]:
    person = Person(act)
    item = check_dial(config, person, timeout_s=1.5, pin_factory=factory)
    if person.thread is not None:
        person.thread.join()
    return item.result, item.detail + item.fix


def test_a_rotary_dial_reads_5(factory: MockFactory) -> None:
    config = DialConfig(kind="rotary")
    sim = SimulatedRotary(factory, config)

    def turn() -> None:
        sim.rest()  # the inputs took their pulls when opened
        sim.play(pulse_train("5", pps=13, break_share=0.6))

    result, detail = run(factory, config, turn)
    assert result is Result.PASS and "read 5" in detail


def test_a_keypad_wired_upside_down_says_which_keys_to_check(factory: MockFactory) -> None:
    wired = DialConfig(kind="keypad")
    sim = SimulatedKeypad(factory, wired)
    configured = dataclasses.replace(wired, rows=tuple(reversed(wired.rows)))
    result, detail = run(factory, configured, lambda: sim.dial("5", 0.1))
    assert result is Result.FAIL and "read 8, not 5" in detail and "dial.rows" in detail
    result, detail = run(factory, wired, lambda: sim.dial("5", 0.1))
    assert result is Result.PASS


def test_nothing_dialed_names_the_pins(factory: MockFactory) -> None:
    config = DialConfig(kind="keypad")
    result, detail = run(factory, config, lambda: None)
    assert result is Result.FAIL and "nothing read" in detail


def test_a_keypad_with_swapped_columns_reads_another_digit(factory: MockFactory) -> None:
    wired = DialConfig(kind="keypad", columns=(11, 5, 6))
    sim = SimulatedKeypad(factory, wired)
    configured = dataclasses.replace(wired, columns=(5, 11, 6))
    result, detail = run(factory, configured, lambda: sim.dial("5", 0.1))
    assert result is Result.FAIL and "read 4, not 5" in detail and "dial.columns" in detail


def test_no_dial_is_skipped() -> None:
    item = check_dial(DialConfig(), Console(io.StringIO(), io.StringIO()), 0.1)
    assert item.result is Result.SKIP
