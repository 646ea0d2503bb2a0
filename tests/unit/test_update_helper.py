"""The helper's switch, health gate, rollback and resume (kiosk.update.apply.Helper).

The supervisor is a fake here, driven by the test (tests/integration/test_update_apply.py runs
the real daemon under the real supervisor process); the layout is real, on a temp folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kiosk.config import parse_config
from kiosk.update.apply import Helper
from kiosk.update.supervisor import Health
from kiosk.update.venvs import Layout


@dataclass
class FakeSupervisor:
    """Health follows a script: one Health per health() call, the last one repeating."""

    script: list[Health] = field(default_factory=lambda: [Health(True, 0)])
    restarts: int = 0
    log: list[str] = field(default_factory=list)

    def restart(self) -> None:
        self.restarts += 1
        self.log.append("restart")

    def health(self) -> Health:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@dataclass
class Clock:
    t: float = 0.0
    hook: Path | None = None
    on_after: int = 0
    sleeps: int = 0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.sleeps += 1
        if self.hook is not None and self.sleeps == self.on_after:
            self.hook.write_text("on\n")


def make(tmp_path: Path, supervisor: FakeSupervisor, clock: Clock) -> Helper:
    config = parse_config(
        f"state_dir: {tmp_path / 'state'}\n"
        f"update:\n  hook_file: {tmp_path / 'hook'}\n"
        f"  status_file: {tmp_path / 'helper' / 'status.json'}\n"
        "  ready_timeout_s: 5\n  probation_s: 3\n"
    )
    layout = Layout(tmp_path / "opt")
    for version in ("1.0", "2.0"):
        (layout.venv(version) / "bin").mkdir(parents=True)
        (layout.venv(version) / "bin" / "python").write_text("")
    layout.flip("1.0")
    (tmp_path / "hook").write_text("on\n")
    return Helper(
        config,
        layout,
        tmp_path / "helper",
        supervisor,
        lambda name: None,
        now=lambda: 1000.0,
        monotonic=clock,
        sleep=clock.sleep,
    )


def status(helper: Helper) -> dict[str, object]:
    data: dict[str, object] = json.loads(helper.status_file.read_text())
    return data


def test_a_restart_during_probation_rolls_back_for_good(tmp_path: Path) -> None:
    supervisor = FakeSupervisor(
        [Health(False, 0), Health(True, 0), Health(True, 0), Health(True, 1)]
    )
    helper = make(tmp_path, supervisor, Clock())
    helper.layout.flip("2.0")
    assert helper.switch("2.0", "1.0") == 1
    assert helper.layout.running() == "1.0" and supervisor.restarts == 2
    got = status(helper)
    assert got["state"] == "rolled_back" and got["bad"] == ["2.0"] and got["running"] == "1.0"
    assert "probation" in str(got["reason"])
    assert not helper.journal_file.exists() and not helper.layout.has("2.0")


def test_no_ready_within_the_timeout_rolls_back(tmp_path: Path) -> None:
    helper = make(tmp_path, FakeSupervisor([Health(False, 0)]), Clock())
    helper.layout.flip("2.0")
    assert helper.switch("2.0", "1.0") == 1
    assert "did not report READY within 5 s" in str(status(helper)["reason"])


def test_the_switch_waits_for_the_handset_on_the_hook(tmp_path: Path) -> None:
    clock = Clock()
    supervisor = FakeSupervisor()
    helper = make(tmp_path, supervisor, clock)
    (tmp_path / "hook").write_text("off\n")
    clock.hook, clock.on_after = tmp_path / "hook", 7
    helper.layout.flip("2.0")
    assert helper.switch("2.0", "1.0") == 0
    assert clock.sleeps >= 7 and supervisor.log[0] == "restart"
    assert status(helper)["state"] == "idle" and helper.layout.running() == "2.0"


@pytest.mark.parametrize(
    ("phase", "current", "restarts", "running", "concluded"),
    [
        ("switching", "1.0", 0, "1.0", False),  # killed before the flip: start over
        ("switching", "2.0", 1, "2.0", True),  # after the flip: restart, then the gate
        ("probation", "2.0", 0, "2.0", True),  # during probation: the gate again
        ("rolling_back", "2.0", 1, "1.0", True),  # during a rollback: finish it
    ],
)
def test_a_run_resumes_what_a_killed_run_left(
    tmp_path: Path, phase: str, current: str, restarts: int, running: str, concluded: bool
) -> None:
    supervisor = FakeSupervisor()
    helper = make(tmp_path, supervisor, Clock())
    helper.layout.flip(current)
    helper.write_journal(phase, "2.0", "1.0")
    assert helper.resume(helper.journal() or {}) is concluded
    assert supervisor.restarts == restarts and helper.layout.running() == running
    assert not helper.journal_file.exists()


def test_a_handset_left_lifted_postpones_the_switch_and_the_next_run_resumes(
    tmp_path: Path,
) -> None:
    """Past update.switch_wait_s the helper ends the run with `staged` (it never hangs); the
    journal and the built venv stay, and the next run (the daemon's next request) switches."""
    clock = Clock()
    supervisor = FakeSupervisor()
    helper = make(tmp_path, supervisor, clock)
    (tmp_path / "hook").write_text("off\n")
    helper.layout.flip("2.0")
    helper.write_journal("switching", "2.0", "1.0")
    assert helper.run() == 0
    got = status(helper)
    assert got["state"] == "staged" and got["version"] == "2.0", got
    assert "update.switch_wait_s" in str(got["reason"])
    assert clock.t >= 600 and supervisor.restarts == 0
    assert helper.journal() == {"phase": "switching", "version": "2.0", "previous": "1.0"}
    assert helper.layout.has("2.0") and helper.layout.has("1.0")

    (tmp_path / "hook").write_text("on\n")
    assert helper.run() == 0
    assert supervisor.restarts == 1 and status(helper)["state"] == "idle"
    assert helper.layout.running() == "2.0" and not helper.journal_file.exists()
