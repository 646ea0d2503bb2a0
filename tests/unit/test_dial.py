"""The real RotaryDial and Keypad on gpiozero's mock pins, and the pulse decoder."""

from __future__ import annotations

import itertools
import queue
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk.config import DialConfig, HookConfig
from kiosk.dial.keypad import KEYS, Keypad
from kiosk.dial.pulses import PulseDecoder
from kiosk.dial.rotary import RotaryDial, decoder_for
from kiosk.dial.simulated import SimulatedKeypad, SimulatedRotary, Step, pulse_train
from kiosk.events import Dialed, DialEdge
from kiosk.hook import HookSwitch
from kiosk.simulate import SimulatedHook

DIGITS = "1234567890"


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.close()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _dial_through_pins(
    factory: MockFactory, config: DialConfig, turns: list[list[Step]]
) -> list[str]:
    """Play `turns` (each starting 1 s after the last) through mock pins into the real
    RotaryDial, and decode its edges as the main loop does."""
    clock = Clock()
    edges: queue.SimpleQueue[object] = queue.SimpleQueue()
    sim = SimulatedRotary(factory, config)
    sim.rest()
    dial = RotaryDial(config, edges.put, factory, clock)
    sim.rest()  # opening the inputs applied the pulls: the contacts' levels again
    decoder = decoder_for(config)
    digits: list[str] = []

    def drain() -> None:
        while not edges.empty():
            e = edges.get_nowait()
            assert isinstance(e, DialEdge)
            digits.extend(decoder.edge(e.contact, e.active, e.t))

    def at(t: float) -> None:
        drain()  # the edges of the step before, then the deadlines up to this step
        target = start + t
        while (due := decoder.deadline()) is not None and due <= target:
            digits.extend(decoder.settle(due))
        clock.now = target

    drain()
    try:
        for i, steps in enumerate(turns):
            start = 100.0 + 2.0 * i
            sim.play(steps, at=at)
            drain()
        at(2.0 * len(turns) + 5)
    finally:
        dial.close()
    return digits


@pytest.mark.parametrize("pps", [7, 10, 13])
@pytest.mark.parametrize("break_share", [0.55, 0.70])
@pytest.mark.parametrize("bounce", [0, 3])
def test_every_digit_decodes(
    factory: MockFactory, pps: float, break_share: float, bounce: int
) -> None:
    config = DialConfig(kind="rotary")
    turns = [pulse_train(d, pps, break_share, bounce) for d in DIGITS]
    assert _dial_through_pins(factory, config, turns) == list(DIGITS)


@pytest.mark.parametrize("pps", [7, 13])
def test_without_an_off_normal_contact_the_gap_ends_a_digit(
    factory: MockFactory, pps: float
) -> None:
    config = DialConfig(kind="rotary", off_normal_pin=None)
    turns = [pulse_train(d, pps, 0.7, bounce=3) for d in "905"]
    assert _dial_through_pins(factory, config, turns) == ["9", "0", "5"]


@pytest.mark.parametrize("pull_up", [True, False])
def test_polarity_keys(factory: MockFactory, pull_up: bool) -> None:
    config = DialConfig(kind="rotary", pull_up=pull_up)
    assert _dial_through_pins(factory, config, [pulse_train("4")]) == ["4"]


def test_a_half_turned_dial_that_returns_without_pulses_dials_nothing(
    factory: MockFactory,
) -> None:
    turn: list[Step] = [(0.0, "off_normal", True), (0.3, "off_normal", False)]
    assert _dial_through_pins(factory, DialConfig(kind="rotary"), [turn]) == []


def test_bounce_on_the_pulse_contact_at_rest_dials_nothing(factory: MockFactory) -> None:
    # Short breaks while the dial rests (a knock on the booth): the off-normal contact is open.
    knock: list[Step] = [(0.01 * i, "pulse", i % 2 == 1) for i in range(12)]
    assert _dial_through_pins(factory, DialConfig(kind="rotary"), [knock]) == []


def test_noise_on_the_hook_line_does_not_dial(factory: MockFactory) -> None:
    config = DialConfig(kind="rotary")
    hook_cfg = HookConfig()
    posted: queue.SimpleQueue[object] = queue.SimpleQueue()
    hook = SimulatedHook(factory, hook_cfg)
    sim = SimulatedRotary(factory, config)
    sim.rest()
    switch = HookSwitch(hook_cfg, posted.put, factory)
    dial = RotaryDial(config, posted.put, factory)
    while not posted.empty():
        posted.get_nowait()
    for lifted in itertools.islice(itertools.cycle([True, False]), 40):  # chatter
        hook.set(lifted)
    switch.close()
    dial.close()
    seen = []
    while not posted.empty():
        seen.append(posted.get_nowait())
    assert seen and not [e for e in seen if isinstance(e, DialEdge | Dialed)]


def test_more_than_ten_pulses_is_no_digit() -> None:
    d = PulseDecoder(0.005, 0.3)
    d.edge("off_normal", True, 0.0)
    t = 0.1
    for _ in range(11):
        d.edge("pulse", True, t)
        d.edge("pulse", False, t + 0.06)
        t += 0.1
    assert d.edge("off_normal", False, t + 0.1) == [] and d.settle(t + 1) == []


def _next_dialed(posted: queue.SimpleQueue[object]) -> Dialed:
    event = posted.get(timeout=5)
    assert isinstance(event, Dialed)
    return event


def test_keypad_scans_every_key_through_mock_pins(factory: MockFactory) -> None:
    config = DialConfig(kind="keypad")
    sim = SimulatedKeypad(factory, config)
    posted: queue.SimpleQueue[object] = queue.SimpleQueue()
    keypad = Keypad(config, posted.put, factory, debounce_s=0.005, poll_s=0.005)
    try:
        for key in "".join(KEYS):
            sim.press(key)
            assert _next_dialed(posted).digit == key
            sim.release(key)
            keypad_idle(keypad)
        assert posted.empty()
    finally:
        keypad.close()


def test_a_held_key_dials_once_and_bounce_is_one_press(factory: MockFactory) -> None:
    config = DialConfig(kind="keypad")
    sim = SimulatedKeypad(factory, config)
    posted: queue.SimpleQueue[object] = queue.SimpleQueue()
    keypad = Keypad(config, posted.put, factory, debounce_s=0.02, poll_s=0.005)
    try:
        for _ in range(4):  # contact bounce inside the debounce time
            sim.press("7")
            sim.release("7")
        sim.press("7")
        assert _next_dialed(posted).digit == "7"
        keypad._stop.wait(0.1)  # held: polled for the release, never dialed again
        assert posted.empty()
    finally:
        keypad.close()


def keypad_idle(keypad: Keypad) -> None:
    """Wait until the scanner saw the release and sleeps on its Event again."""
    for _ in range(500):
        if not keypad._wake.is_set():
            return
        keypad._stop.wait(0.002)
    raise AssertionError("the keypad never saw the key go up")


def test_a_glitch_shorter_than_the_filter_is_no_pulse() -> None:
    d = PulseDecoder(0.005, 0.3)
    d.edge("off_normal", True, 0.0)
    d.edge("pulse", True, 0.100)  # one real break
    d.edge("pulse", False, 0.160)
    d.edge("pulse", True, 0.200)  # a 2 ms glitch in the make
    d.edge("pulse", False, 0.202)
    assert d.edge("off_normal", False, 0.300) == ["1"]
