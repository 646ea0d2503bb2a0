"""The running Booth drives its status lamp and bell (gpiozero mock pins, real audio path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audio_rig import PulseSink

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.pulse


def test_lamp_follows_the_booth_and_the_bell_rings(tmp_path: Path, pulse: PulseSink) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.lamp_child", "--workdir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, **pulse.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["lamp"] == [
        ["idle", 1.0],
        ["playing", 0.15],
        ["idle", 1.0],
        ["stale", 0.0],
        ["stopped", 0.0],
    ]
    assert report["bell_levels"] == [0.0, 1.0, 0.0]
    assert [e["rang"] for e in report["bell_events"]] == [True]
