"""The root-owned update helper: `kiosk-update apply` (kiosk-update.service runs it).

    recover   remove half-built venvs; finish a switch, probation or rollback a kill cut short
    take      copy the daemon's staged release into STATE_DIR/incoming and verify it (intake)
    decide    newer than the running version, or exactly the group's signed pin; not in `bad`
    build     /opt/kiosk/venvs/<version>, offline, renamed into place when complete
    switch    only while the hook file says "on": journal, flip /opt/kiosk/current, restart;
              if it does not within update.switch_wait_s, report `staged` and end the run
              (the venv stays built; the daemon requests again while on the hook)
    gate      READY=1 within update.ready_timeout_s, then no restart for update.probation_s
    conclude  keep the previous venv and remove older ones; or flip back, restart the previous
              version and add the new one to `bad` (never retried unless the group pins it)

The journal (STATE_DIR/journal.json, root-owned) is written before each flip, so the next run
(at boot, or when the daemon writes a new request) knows what was under way. The status file
has the format of kiosk.release.manifest's docstring.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from kiosk.config import Config, load_config
from kiosk.durable import write_atomic
from kiosk.errors import ConfigError, KioskError
from kiosk.update.choose import fits_python
from kiosk.update.helper import HelperStatus, read_status
from kiosk.update.intake import RejectedError, open_under, take
from kiosk.update.supervisor import (
    FileSupervisor,
    Supervisor,
    SupervisorError,
    SystemdSupervisor,
)
from kiosk.update.venvs import BuildError, Layout

log = logging.getLogger("kiosk.update")
STATE_DIR = Path("/var/lib/kiosk-update")
OPT = Path("/opt/kiosk")
KILL_AT = "KIOSK_UPDATE_KILL_AT"  # tests: SIGKILL ourselves at the Nth checkpoint
TRACE = "KIOSK_UPDATE_TRACE"  # tests: append each checkpoint's name to this file


@dataclass
class Checkpoints:
    """Named points between steps; the kill-test hook lives here."""

    kill_at: int = 0
    trace: str = ""
    count: int = 0

    def __call__(self, name: str) -> None:
        self.count += 1
        if self.trace:
            with open(self.trace, "a") as f:
                f.write(f"{self.count} {name}\n")
        if self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Helper:
    """One run of the helper. Clock, sleep and the supervisor are injected."""

    config: Config
    layout: Layout
    state_dir: Path
    supervisor: Supervisor
    checkpoint: Callable[[str], None] = field(default_factory=Checkpoints)
    now: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_s: float = 0.1

    @property
    def status_file(self) -> Path:
        return Path(self.config.update.status_file)

    @property
    def journal_file(self) -> Path:
        return self.state_dir / "journal.json"

    # -- status and journal --------------------------------------------------------------
    def status(self) -> HelperStatus | None:
        return read_status(self.status_file)

    def bad(self) -> list[str]:
        status = self.status()
        return list(status.bad) if status is not None else []

    def report(
        self, state: str, version: str, reason: str = "", bad: list[str] | None = None
    ) -> None:
        doc = {
            "state": state,
            "version": version,
            "running": self.layout.running() or "",
            "reason": reason,
            "bad": self.bad() if bad is None else bad,
            "at": int(self.now()),
        }
        write_atomic(self.status_file, json.dumps(doc, sort_keys=True).encode() + b"\n", 0o644)
        log.info("update state %s %s%s", state, version, f": {reason}" if reason else "")

    def journal(self) -> dict[str, str] | None:
        try:
            doc = json.loads(self.journal_file.read_text())
        except (OSError, ValueError):
            return None
        return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else None

    def write_journal(self, phase: str, version: str, previous: str, reason: str = "") -> None:
        doc = {"phase": phase, "version": version, "previous": previous}
        if reason:
            doc["reason"] = reason
        write_atomic(self.journal_file, json.dumps(doc).encode(), 0o600)
        self.checkpoint(f"journal-{phase}")

    def end_journal(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.journal_file.unlink()
        self.checkpoint("journal-end")

    # -- the run -------------------------------------------------------------------------
    def run(self) -> int:
        """Recover, then apply the daemon's request if there is one. 0 done, 1 refused."""
        for name in self.layout.clean():
            log.info("removed %s (a run was cut short)", name)
        self.checkpoint("cleaned")
        journal = self.journal()
        if journal is not None and self.resume(journal):
            return 0
        requested = self.requested()
        if requested is None:
            if self.status() is None:
                self.report("idle", self.layout.running() or "")
            return 0
        if requested == self.layout.running():
            status = self.status()
            if status is None or status.state not in ("idle", "rolled_back", "failed"):
                self.report("idle", requested)
            return 0
        return self.apply(requested)

    def requested(self) -> str | None:
        state_dir = Path(self.config.state_dir)
        try:
            fd = open_under(state_dir, "update/request")
        except RejectedError:
            return None
        with os.fdopen(fd, "rb") as f:
            data = f.read(4096)
        try:
            doc = json.loads(data)
            version = doc["version"]
            Version(version)
        except (ValueError, KeyError, TypeError):
            return "?"
        return str(version)

    def apply(self, requested: str) -> int:
        running = self.layout.running() or ""
        incoming = self.state_dir / "incoming"
        try:
            verified = take(
                Path(self.config.state_dir),
                incoming,
                self.state_dir / "trusted",
                Path(self.config.sync.root),
                self.config.sync.group,
            )
        except RejectedError as e:
            self.report("failed", requested, f"refused: {e}")
            return 1
        self.checkpoint("verified")
        version = verified.release.version
        pinned = verified.pinned and verified.wanted == version
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        reason = ""
        if version in self.bad() and not pinned:
            status = self.status()
            if status is not None and (status.state, status.version) == ("rolled_back", version):
                return 1  # said so already
            reason = f"{version} was rolled back on this booth: not retried unless pinned"
        elif running and Version(version) <= Version(running) and not pinned:
            reason = f"{version} is not newer than {running} and the group does not pin it"
        elif not fits_python(
            verified.release.python, (sys.version_info.major, sys.version_info.minor)
        ):
            reason = f"{version} is built for Python {verified.release.python}, not {python}"
        elif version == running:
            self.report("idle", version)
            return 0
        if reason:
            self.report("failed", version, reason)
            return 1
        self.report("applying", version)
        if not self.layout.has(version):
            try:
                self.layout.build(version, verified.wheels, f"kiosk=={version}", self.checkpoint)
            except (BuildError, OSError) as e:
                self.layout.clean()
                self.report("failed", version, f"cannot build the venv: {e}")
                return 1
        if not self.wait_on_hook():
            return self.postpone(version)
        self.write_journal("switching", version, running)
        self.layout.flip(version)
        self.checkpoint("flipped")
        return self.switch(version, running)

    def resume(self, journal: dict[str, str]) -> bool:
        """Finish what a killed run left; True if that concluded the run."""
        phase, version = journal.get("phase", ""), journal.get("version", "")
        previous = journal.get("previous", "")
        log.info("resuming %s of %s (previous %s)", phase, version, previous or "none")
        if phase == "rolling_back":
            self.rollback(version, previous, journal.get("reason", "interrupted"))
            return True
        if self.layout.running() != version:  # killed before the flip
            self.end_journal()
            return False
        if phase == "switching":
            self.switch(version, previous)
        else:
            self.gate(version, previous)
        return True

    def wait_on_hook(self) -> bool:
        """True once the hook file says "on" (the handset is on the hook); False if it did not
        within update.switch_wait_s."""
        hook = Path(self.config.update.hook_file)
        end = self.monotonic() + self.config.update.switch_wait_s
        while True:
            try:
                if hook.read_text() == "on\n":
                    return True
            except OSError:
                pass
            if self.monotonic() >= end:
                return False
            self.sleep(0.5)

    def postpone(self, version: str) -> int:
        """The handset stayed lifted: report `staged` and end the run; what is built (the venv,
        a journal past the flip) stays. The daemon requests again while on the hook."""
        wait = self.config.update.switch_wait_s
        reason = (
            f"the handset was off the hook for {wait:g} s (update.switch_wait_s): "
            "the switch waits for the next run"
        )
        self.report("staged", version, reason)
        return 0

    def switch(self, version: str, previous: str) -> int:
        if not self.wait_on_hook():
            return self.postpone(version)  # the journal says switching: the next run resumes
        try:
            self.supervisor.restart()
        except SupervisorError as e:
            return self.rollback(version, previous, f"cannot restart the daemon: {e}")
        self.checkpoint("restarted")
        self.write_journal("probation", version, previous)
        return self.gate(version, previous)

    def gate(self, version: str, previous: str) -> int:
        """READY within ready_timeout_s, then no restart for probation_s."""
        cfg = self.config.update
        self.report("probation", version)
        end = self.monotonic() + cfg.ready_timeout_s
        try:
            while not (health := self.supervisor.health()).ready:
                if self.monotonic() > end:
                    why = f"{version} did not report READY within {cfg.ready_timeout_s:g} s"
                    return self.rollback(version, previous, why)
                self.sleep(self.poll_s)
            self.checkpoint("ready")
            end = self.monotonic() + cfg.probation_s
            while self.monotonic() < end:
                now = self.supervisor.health()
                if now.restarts != health.restarts or not now.ready:
                    why = (
                        f"{version} stopped or restarted within its {cfg.probation_s:g} s probation"
                    )
                    return self.rollback(version, previous, why)
                self.sleep(self.poll_s)
        except SupervisorError as e:
            return self.rollback(version, previous, f"cannot watch the daemon: {e}")
        self.checkpoint("proven")
        self.end_journal()
        for old in self.layout.prune({version, previous}):
            log.info("removed the venv of %s", old)
        self.report("idle", version)
        return 0

    def rollback(self, version: str, previous: str, reason: str) -> int:
        if not previous or not self.layout.has(previous):
            self.end_journal()
            self.report("failed", version, f"{reason}; no previous version to go back to")
            return 1
        self.write_journal("rolling_back", version, previous, reason)
        log.warning("rolling back %s to %s: %s", version, previous, reason)
        self.layout.flip(previous)
        self.checkpoint("flipped-back")
        with contextlib.suppress(SupervisorError):
            self.supervisor.restart()
        self.checkpoint("restarted-previous")
        bad = self.bad()
        if version not in bad:
            bad.append(version)
        self.report("rolled_back", version, reason, bad)
        self.checkpoint("reported")
        self.end_journal()
        self.layout.prune({previous})
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-update", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("apply", help="apply the staged release the daemon requested")
    run.add_argument("--config", type=Path, default=None, help="default /etc/kiosk/kiosk.yaml")
    run.add_argument("--opt", type=Path, default=OPT, help="the install root (/opt/kiosk)")
    run.add_argument("--state-dir", type=Path, default=STATE_DIR, help="the helper's own state")
    run.add_argument(
        "--supervisor-state",
        type=Path,
        default=None,
        help="restart through a supervisor process publishing this file (tests) instead of "
        "systemd's kiosk.service",
    )
    return parser


def _reexec_resolved(argv: list[str]) -> None:
    """Run from the venv `current` resolves to, so a flip cannot swap our code under us."""
    real = os.path.realpath(sys.prefix)
    if real != sys.prefix and os.path.exists(os.path.join(real, "bin", "python")):
        python = os.path.join(real, "bin", "python")
        os.execv(python, [python, "-I", "-m", "kiosk.update.apply", *argv])


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(args_list)
    if argv is None:
        _reexec_resolved(args_list)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as e:
        for problem in e.problems:
            print(f"kiosk-update: {problem}", file=sys.stderr)
        return 78
    args.state_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
    lock = os.open(args.state_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        supervisor: Supervisor = (
            FileSupervisor(args.supervisor_state)
            if args.supervisor_state is not None
            else SystemdSupervisor()
        )
        checkpoints = Checkpoints(int(os.environ.get(KILL_AT, "0")), os.environ.get(TRACE, ""))
        helper = Helper(config, Layout(args.opt), args.state_dir, supervisor, checkpoints)
        return helper.run()
    except KioskError as e:
        print(f"kiosk-update: {e}", file=sys.stderr)
        return 1
    finally:
        os.close(lock)


if __name__ == "__main__":
    sys.exit(main())
