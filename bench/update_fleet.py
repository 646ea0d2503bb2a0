"""From an admin's command to a booth running the release: `python -m bench.update_fleet`.

All real parts, as tests/integration/test_update_fleet.py: a hub (`kiosk-hub serve`),
`kiosk-admin release`/`assign-release` through it, a booth installed by scripts/install.sh (under
a temporary root, as root) whose daemon (`kiosk run` under tests/supervisor.py, on the paced
PulseAudio sink) syncs from the hub with the real downloader, then `kiosk-update apply` as the
path unit runs it once `request` appears. The daemon syncs every second, so the figures are the
"triggered" case; at the default `sync.interval` (300 s ± 20 %) add the wait for the next sync.

Rounds alternate: v2 on stable, then a pin back to v1, then stable again, ... For each round:
the admin command; command -> staged (the daemon's next sync downloads and stages); staged ->
READY=1 of the new version (the helper verifies, builds the venv offline the first time, waits
for the hook, switches); and the whole command -> running. The helper's 1.5 s probation comes
after READY and is not counted.

One human line per figure on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import BenchError, run_main
from kiosk.admin.cli import main as admin
from kiosk.update.staging import UpdateDir
from tests.audio_rig import PulseSink
from tests.hubproc import HubProcess, init_hub_data
from tests.live_hub_rig import enroll_into
from tests.release_apply import ApplyWheels
from tests.releases import WheelFactory
from tests.update_booth import UpdateBooth


def _wait(check: Any, what: str, timeout: float = 180) -> float:
    """Poll `check` every 20 ms; the monotonic time it first held."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise BenchError(f"no {what} within {timeout:g} s")
        time.sleep(0.02)
    return time.monotonic()


def _switch(booth: UpdateBooth, update: UpdateDir, target: str, t0: float) -> dict[str, float]:
    """One round after the admin's command at `t0`: staged, then the helper until READY."""
    t_cmd = time.monotonic()
    t_staged = _wait(lambda: update.staged_version() == target, f"{target} staged")
    done: list[subprocess.CompletedProcess[str]] = []
    helper = threading.Thread(target=lambda: done.append(booth.helper()))
    helper.start()  # what kiosk-update.path starts once `request` appears
    t_ready = _wait(
        lambda: (
            booth.sup().get("ready") is True
            and str(booth.sup().get("running", "")).endswith(f"venvs/{target}/bin/kiosk")
        ),
        f"READY of {target}",
    )
    helper.join()
    if not done or done[0].returncode != 0:
        raise BenchError(f"the helper failed switching to {target}: {done and done[0].stderr}")
    return {
        "command_s": t_cmd - t0,
        "staged_s": t_staged - t_cmd,
        "switch_s": t_ready - t_staged,
        "total_s": t_ready - t0,
    }


def measure(tmp: Path, rounds: int) -> dict[str, Any]:
    if os.geteuid() != 0:
        raise BenchError("run as root: scripts/install.sh lays out the booth")
    print("building the wheels of 0.1.0 and 0.2.0 ...", file=sys.stderr)
    wheels = ApplyWheels.build(WheelFactory(tmp / "wheels"))
    keys = tmp / "keys"
    os.environ["KIOSK_HUB_TOKEN"] = "test-admin-token"  # tests.hubproc's admin token
    rows: list[dict[str, float]] = []
    with PulseSink(tmp / "pulse") as pulse, HubProcess(init_hub_data(tmp / "hub", keys)) as hub:

        def via_hub(*args: str) -> float:
            started = time.monotonic()
            cmd = ["--hub", hub.url, "--keys", str(keys), *args]
            if admin(cmd) != 0:
                raise BenchError(f"kiosk-admin {' '.join(args)} failed")
            return started

        via_hub("release", str(wheels.v1), "--channel", "stable")
        root = hub.data / "repo" / "metadata" / "1.root.json"
        booth = UpdateBooth(tmp / "booth", wheels.v1, root, pulse.env)
        text = booth.config.read_text().replace('"http://127.0.0.1:9/repo"', f'"{hub.url}/repo"')
        text = text.replace("sync:\n", "sync:\n  interval: 1.0\n  jitter: 0\n", 1)
        booth.config.write_text(text)
        enroll_into(hub, booth.state)
        update = UpdateDir(booth.state)
        try:
            booth.start()
            for i in range(rounds):
                target = "0.2.0" if booth.running().endswith("0.1.0") else "0.1.0"
                if i == 0:
                    t0 = via_hub("release", str(wheels.v2), "--channel", "stable")
                else:
                    follow = "stable" if target == "0.2.0" else target
                    t0 = via_hub("assign-release", "lobby", follow)
                rows.append(_switch(booth, update, target, t0))
                times = ", ".join(f"{k} {v:.2f}" for k, v in rows[-1].items())
                print(f"  round {i + 1} -> {target}: {times}", file=sys.stderr)
        finally:
            booth.stop()
    figures: dict[str, Any] = {"rounds": rounds}
    for key in ("command_s", "staged_s", "switch_s", "total_s"):
        values = [r[key] for r in rows]
        figures[f"{key}_median"] = round(statistics.median(values), 2)
        figures[f"{key}_max"] = round(max(values), 2)
    figures["first_switch_s"] = round(rows[0]["switch_s"], 2)  # the venv is built then
    print(
        f"admin command -> booth running the release (sync every 1 s), median of {rounds}: "
        f"{figures['total_s_median']:.1f} s (max {figures['total_s_max']:.1f} s)"
    )
    print(
        f"  of which the admin command {figures['command_s_median']:.2f} s, the next sync "
        f"downloading and staging {figures['staged_s_median']:.2f} s, the helper until READY "
        f"{figures['switch_s_median']:.1f} s (first round, building the venv: "
        f"{figures['first_switch_s']:.1f} s)"
    )
    print(
        "  at the default sync.interval (300 s, jitter 0.2) add the wait for the next sync: "
        "0-360 s, 150 s on average"
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.update_fleet", description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    return run_main("update_fleet", lambda tmp: measure(tmp, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
