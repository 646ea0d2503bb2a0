"""The real gpiozero Button on gpiozero's MockFactory pins, plus the debouncer."""

import queue
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk.config import HookConfig
from kiosk.events import HookEdge
from kiosk.hook import Debouncer, HookSwitch
from kiosk.simulate import SimulatedHook


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.close()


@pytest.mark.parametrize("pull_up", [True, False])
@pytest.mark.parametrize("active", ["open", "closed"])
def test_polarity_and_pull(factory: MockFactory, pull_up: bool, active: str) -> None:
    cfg = HookConfig(pin=17, pull_up=pull_up, active=active)  # type: ignore[arg-type]
    posted: queue.SimpleQueue[object] = queue.SimpleQueue()
    sim = SimulatedHook(factory, cfg)
    sim.hangup()
    switch = HookSwitch(cfg, posted.put, pin_factory=factory, clock=lambda: 1.5)
    sim.hangup()
    assert switch.off_hook() is False
    while not posted.empty():  # creating the Button applied the pull; drop that edge
        posted.get_nowait()
    sim.lift()
    assert switch.off_hook() is True
    assert posted.get_nowait() == HookEdge(True, 1.5)
    sim.hangup()
    assert posted.get_nowait() == HookEdge(False, 1.5)
    switch.close()


def test_debouncer_first_edge_acts_at_once_and_chatter_is_one_event() -> None:
    d = Debouncer(0.025)
    assert d.edge(True, 0.000) is True  # acts at once
    for i, level in enumerate([False, True, False, True, False, True]):
        assert d.edge(level, 0.001 + i * 0.003) is None  # 20 ms of chatter
    assert d.settle_at == pytest.approx(0.025)
    assert d.settle(True, 0.025) is None
    assert d.off_hook is True and d.settle_at is None


def test_debouncer_catches_a_real_flip_hidden_in_the_window() -> None:
    d = Debouncer(0.025)
    d.edge(True, 0.0)
    d.edge(False, 0.010)  # a genuine quick hang-up inside the window
    assert d.settle(False, 0.025) is False


def test_stale_bounce_edges_seen_after_a_busy_loop_are_ignored() -> None:
    d = Debouncer(0.025, off_hook=True)
    assert d.edge(False, 0.000) is False  # hang-up
    assert d.settle(False, 0.100) is None  # the loop was busy for 100 ms
    assert d.edge(True, 0.001) is None  # a bounce queued long ago: not a lift
    assert d.settle_at is None and d.off_hook is False
    assert d.edge(True, 0.200) is True  # a real lift afterwards acts at once


class BouncyPin:
    """Drives a mock pin through contact chatter, as a worn hook switch does."""

    def __init__(self, sim: SimulatedHook) -> None:
        self.sim = sim

    def bounce_to(self, off_hook: bool, flips: int) -> None:
        state = off_hook
        for _ in range(flips):
            self.sim.set(state)
            state = not state
        self.sim.set(off_hook)


def test_real_button_chatter_yields_exactly_one_lift_and_one_hangup(factory: MockFactory) -> None:
    cfg = HookConfig()
    posted: queue.SimpleQueue[object] = queue.SimpleQueue()
    sim = SimulatedHook(factory, cfg)
    sim.hangup()
    now = [0.0]
    switch = HookSwitch(cfg, posted.put, pin_factory=factory, clock=lambda: now[0])
    deb = Debouncer(cfg.debounce_ms / 1000, off_hook=switch.off_hook())
    BouncyPin(sim).bounce_to(True, flips=7)
    BouncyPin(sim).bounce_to(False, flips=0)
    changes = []
    while not posted.empty():
        edge = posted.get_nowait()
        assert isinstance(edge, HookEdge)
        now[0] += 0.002
        change = deb.edge(edge.off_hook, now[0])
        if change is not None:
            changes.append(change)
    assert changes == [True]  # the hang-up came inside the window: seen when it settles
    assert deb.settle(switch.off_hook(), 0.05) is False
    switch.close()
