"""The self-test's steps: the hook on gpiozero's MockFactory pins, answers, storage, the report."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk.config import BellConfig, Config, HookConfig, StatusLedConfig, SyncConfig
from kiosk.selftest.console import Console
from kiosk.selftest.hook import check_hook
from kiosk.selftest.outputs import check_bell, check_lamp
from kiosk.selftest.report import Result, as_json, as_text, exit_code, failed, passed, skipped
from kiosk.selftest.sound import check_heard
from kiosk.selftest.system import check_disk, check_sd_card, check_state_dir, hub_probe
from kiosk.simulate import SimulatedHook


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.close()


class Technician(Console):
    """Acts on the prompts from a thread, as a person would while the self-test waits."""

    def __init__(self, hook: SimulatedHook, lift: bool = True, hang_up: bool = True) -> None:
        super().__init__(io.StringIO(), io.StringIO())
        self.hook = hook
        self.acts = {"Lift": lift, "Now hang": hang_up}
        self.threads: list[threading.Thread] = []

    def say(self, text: str) -> None:
        super().say(text)
        if text.startswith("The handset should be on the hook"):
            self.hook.hangup()  # the mock pin took the Button's pull when it was opened
        for prompt, act in self.acts.items():
            if text.startswith(prompt) and act:
                move = self.hook.lift if prompt == "Lift" else self.hook.hangup
                thread = threading.Thread(target=move)
                thread.start()
                self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()


def run_hook(
    factory: MockFactory, configured: HookConfig, wired: HookConfig, **acts: bool
) -> tuple[Result, str, str]:
    """The hook step with `configured` in kiosk.yaml and the switch really wired as `wired`."""
    hook = SimulatedHook(factory, wired)
    person = Technician(hook, **acts)
    item = check_hook(configured, person, timeout_s=0.5, pin_factory=factory)
    person.join()
    return item.result, item.detail, item.fix


def test_hook_pass(factory: MockFactory) -> None:
    cfg = HookConfig(pin=17, active="closed")
    result, detail, _ = run_hook(factory, cfg, cfg)
    assert result is Result.PASS and "GPIO17" in detail


@pytest.mark.parametrize(("configured", "fix"), [("closed", "open"), ("open", "closed")])
def test_reversed_hook_says_which_active_to_set(
    factory: MockFactory, configured: str, fix: str
) -> None:
    cfg = HookConfig(pin=22, active=configured)  # type: ignore[arg-type]
    wired = HookConfig(pin=22, active=fix)  # type: ignore[arg-type]
    result, detail, how = run_hook(factory, cfg, wired)
    assert result is Result.FAIL and "reversed" in detail
    assert how == f"set hook.active: {fix} in /etc/kiosk/kiosk.yaml"


def test_no_change_points_at_the_wiring(factory: MockFactory) -> None:
    cfg = HookConfig(pin=5)
    result, detail, fix = run_hook(factory, cfg, cfg, lift=False)
    assert result is Result.FAIL and "no change on GPIO5" in detail
    assert "wiring from GPIO5" in fix and "ground" in fix


def test_lift_without_hang_up_fails(factory: MockFactory) -> None:
    cfg = HookConfig(pin=17)
    result, detail, _ = run_hook(factory, cfg, cfg, hang_up=False)
    assert result is Result.FAIL and "no hang-up" in detail


@pytest.mark.parametrize(
    ("answer", "result"),
    [("y\n", Result.PASS), ("yes\n", Result.PASS), ("n\n", Result.FAIL), ("", Result.SKIP)],
)
def test_did_you_hear_it(answer: str, result: Result) -> None:
    out = io.StringIO()
    item = check_heard(Console(io.StringIO(answer), out))
    assert item.result is result and "[y/n]" in out.getvalue()
    assert bool(item.fix) == (result is Result.FAIL)


@pytest.mark.parametrize(
    ("flag", "result"), [("0\n", Result.PASS), ("1\n", Result.FAIL), (None, Result.SKIP)]
)
def test_sd_card_read_only_flag(tmp_path: Path, flag: str | None, result: Result) -> None:
    if flag is not None:
        (tmp_path / "block" / "mmcblk0").mkdir(parents=True)
        (tmp_path / "block" / "mmcblk0" / "ro").write_text(flag)
    assert check_sd_card(tmp_path).result is result


def test_state_dir_and_disk(tmp_path: Path) -> None:
    assert check_state_dir(tmp_path).result is Result.PASS
    assert list(tmp_path.iterdir()) == []  # the probe file is gone
    missing = check_state_dir(tmp_path / "nope")
    assert missing.result is Result.FAIL and "install -d" in missing.fix
    assert check_disk(tmp_path, 1).result is Result.PASS
    gone = check_disk(tmp_path / "not" / "yet", 1)  # passed on the parent's space before
    assert gone.result is Result.FAIL and "does not exist" in gone.detail
    assert "install -d" in gone.fix
    assert check_disk(tmp_path, 1e12).result is Result.FAIL


def test_hub_probe_prefers_sync_then_enrollment(tmp_path: Path) -> None:
    cfg = Config(state_dir=str(tmp_path))
    assert hub_probe(cfg) == ""
    (tmp_path / "fleet.json").write_text(json.dumps({"hub": "https://hub.example/", "x": 1}))
    assert hub_probe(cfg) == "https://hub.example/healthz"
    synced = Config(state_dir=str(tmp_path), sync=SyncConfig(url="https://cdn.example/repo"))
    assert hub_probe(synced) == "https://cdn.example/repo/metadata/timestamp.json"


def test_report_json_shape_and_exit_code() -> None:
    items = [passed("disk", "ok"), skipped("hook", "needs a person"), failed("clock", "x", "y")]
    assert json.loads(as_json(items)) == [
        {"name": "disk", "result": "PASS", "detail": "ok", "fix": ""},
        {"name": "hook", "result": "SKIP", "detail": "needs a person", "fix": ""},
        {"name": "clock", "result": "FAIL", "detail": "x", "fix": "y"},
    ]
    assert exit_code(items) == 1 and exit_code(items[:2]) == 0
    assert as_text(items[2]) == "FAIL  clock: x\n      fix: y"


class Watcher(Console):
    """Answers each question with what the pin shows at that moment."""

    def __init__(self, pin: Any) -> None:
        super().__init__(io.StringIO(), io.StringIO())
        self.pin = pin

    def ask(self, question: str) -> str | None:
        deadline = time.monotonic() + 5  # the lamp's thread or the bell's blink sets the pin
        while not self.pin.state and time.monotonic() < deadline:
            time.sleep(0.005)
        return "y" if self.pin.state else "n"


def test_lamp_and_bell_are_shown_to_the_technician(factory: MockFactory) -> None:
    lamp = check_lamp(StatusLedConfig(pin=18), Watcher(factory.pin(18)), factory)
    assert lamp.result is Result.PASS and "GPIO18" in lamp.detail
    assert factory.pin(18).state == 0  # off again, pin released
    # quiet hours all day: a test ring happens anyway
    all_day = BellConfig(pin=23, quiet_hours=("00:00-23:59",), ring_s=0.5)
    bell = check_bell(all_day, Watcher(factory.pin(23)), factory)
    assert bell.result is Result.PASS
    no = check_lamp(StatusLedConfig(pin=18), Console(io.StringIO("n\n"), io.StringIO()), factory)
    assert no.result is Result.FAIL and "polarity" in no.fix
    assert check_bell(BellConfig(), Console(io.StringIO(), io.StringIO())).result is Result.SKIP
