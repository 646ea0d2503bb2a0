"""How long a booth is silent when it switches versions: `python -m bench.update_switch`.

A booth installed by scripts/install.sh (under a temporary root, as root) with release 0.1.0,
the daemon (`kiosk run` on the paced PulseAudio sink) under tests/supervisor.py, and the update
helper (`kiosk-update apply`) switching between two real signed releases, 0.1.0 and 0.2.0, in
turns (the group pins each, so going back is allowed), `--switches` times. For each switch:

1. silent: the old daemon's SIGTERM -> the new daemon's READY=1 (nobody can be heard meanwhile);
2. the helper's whole run (verify, build the venv offline if it is not there, switch, a 1.5 s
   probation).

One human line per figure on stdout, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BenchError, run_main
from tests.audio_rig import PulseSink
from tests.release_apply import ReleaseRepo, stage
from tests.releases import WheelFactory
from tests.update_booth import UpdateBooth


def measure(tmp: Path, switches: int) -> dict[str, Any]:
    if os.geteuid() != 0:
        raise BenchError("run as root: scripts/install.sh lays out the booth")
    print("building the wheels of 0.1.0 and 0.2.0 ...", file=sys.stderr)
    wheels = WheelFactory(tmp)
    v1, v2 = wheels.project("0.1.0"), wheels.project("0.2.0", "second")
    repo = ReleaseRepo(tmp / "admin")
    repo.add(v1)
    repo.add(v2)
    silent: list[float] = []
    runs: list[float] = []
    with PulseSink(tmp) as pulse:
        booth = UpdateBooth(tmp / "booth", v1, repo.root_json, pulse.env)
        try:
            booth.start()
            for i in range(switches):
                target = "0.2.0" if booth.running().endswith("0.1.0") else "0.1.0"
                repo.pin("lobby", target)
                stage(repo, booth.state, target)
                started = time.monotonic()
                done = booth.helper()
                runs.append(time.monotonic() - started)
                if done.returncode != 0 or booth.status()["running"] != target:
                    raise BenchError(f"switch {i + 1} to {target} failed: {done.stderr}")
                sup = booth.sup()
                silent.append(sup["ready_at"] - sup["stopping_at"])
                print(f"  switch {i + 1} -> {target}: silent {silent[-1]:.2f} s", file=sys.stderr)
        finally:
            booth.stop()
    figures = {
        "switches": switches,
        "silent_s_median": round(statistics.median(silent), 3),
        "silent_s_max": round(max(silent), 3),
        "helper_run_s_median": round(statistics.median(runs), 2),
        "probation_s": 1.5,
    }
    print(
        f"silent during a switch (SIGTERM of the old daemon -> READY=1 of the new), "
        f"median of {switches}: {figures['silent_s_median']:.2f} s "
        f"(max {figures['silent_s_max']:.2f} s)"
    )
    print(
        f"the helper's whole run (verify, venv kept from an earlier switch after the first two, "
        f"switch, 1.5 s probation), median: "
        f"{figures['helper_run_s_median']:.1f} s"
    )
    print(json.dumps({"samples_silent_s": [round(s, 3) for s in silent]}), file=sys.stderr)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.update_switch", description=__doc__)
    parser.add_argument("--switches", type=int, default=5)
    args = parser.parse_args(argv)
    return run_main("update_switch", lambda tmp: measure(tmp, args.switches))


if __name__ == "__main__":
    sys.exit(main())
