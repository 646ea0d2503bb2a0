"""The daemon on a read-only root: it starts, plays, and writes only its state directory.

Everything is remounted read-only in a private mount namespace except the state directory
(tests/readonly.py), the way a Pi runs with raspi-config's overlay and /var/lib/kiosk on its own
writable file system. Audio goes to the session's PulseAudio sink through its socket.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.outbox import Outbox
from tests.audio_rig import PulseSink
from tests.booth_runner import write_config
from tests.clipmaker import make_set
from tests.readonly import available, readonly_argv

REPO = Path(__file__).resolve().parents[2]
UNAVAILABLE = available()

pytestmark = [
    pytest.mark.pulse,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"read-only sandbox: {UNAVAILABLE}"),
]


def own_home(state: Path) -> dict[str, str]:
    """An empty home of the child's own (read-only in the sandbox, like the kiosk user's under
    ProtectHome): what the runner's home holds, such as a ~/.config/pulse without a cookie that
    libpulse then tries to write, must not change the outcome."""
    home = state.parent / "home"
    home.mkdir(exist_ok=True)
    dirs = {"XDG_CONFIG_HOME": ".config", "XDG_STATE_HOME": ".local/state"}
    dirs |= {"XDG_CACHE_HOME": ".cache", "XDG_DATA_HOME": ".local/share"}
    return {"HOME": str(home), **{k: str(home / v) for k, v in dirs.items()}}


def sandboxed(
    argv: list[str], state: Path, env: dict[str, str], **kw: object
) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        readonly_argv(argv, [state]),
        cwd=REPO,
        env={
            **os.environ,
            **own_home(state),
            **env,
            "GPIOZERO_PIN_FACTORY": "mock",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        text=True,
        **kw,
    )


def test_only_the_state_directory_is_writable(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    probe = sandboxed(
        ["sh", "-c", f"touch {state}/ok && touch {tmp_path}/elsewhere"],
        state,
        {},
        stderr=subprocess.PIPE,
    )
    _, err = probe.communicate(timeout=30)
    assert probe.returncode != 0 and "Read-only file system" in err, err
    assert (state / "ok").exists() and not (tmp_path / "elsewhere").exists()


def test_kiosk_run_starts_and_a_lift_plays_with_only_state_writable(
    tmp_path: Path, pulse: PulseSink
) -> None:
    make_set(tmp_path / "set", {"a.wav": 0.4, "b.ogg": 0.4})
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(tmp_path, tmp_path / "set")
    own_home(state)  # before the listing: the sandboxes' home is the test's, not the booth's
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(state)}

    # The real entry point, as systemd starts it: READY=1 on the notify socket.
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(30)
    daemon = sandboxed(
        [sys.executable, "-m", "kiosk.cli", "run", "--config", str(config)],
        state,
        {**pulse.env, "NOTIFY_SOCKET": str(tmp_path / "notify")},
        stderr=subprocess.PIPE,
    )
    try:
        assert notify.recv(4096).decode().startswith("READY=1")
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, run_err = daemon.communicate(timeout=30)
        notify.close()
    assert daemon.returncode == 0, run_err

    # The same booth (outbox included) with a pretend handset: lift, hear a clip, hang up.
    child = sandboxed(
        [sys.executable, "-m", "kiosk.cli", "simulate", "--headless", "--config", str(config)],
        state,
        pulse.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = child.communicate("lift\nsleep 0.8\nhangup\nsleep 0.3\nquit\n", timeout=60)
    assert child.returncode == 0, err
    assert '"event": "clip_start"' in out and '"event": "hangup"' in out, out + err
    for text in (run_err, err):
        assert "Read-only file system" not in text and "ERROR" not in text, text

    # It wrote its state (the event queue, the rotation) there, and nothing anywhere else.
    box = Outbox(state / "outbox.sqlite3")
    events = [q.record["event"] for q in box.batch()]
    box.close()
    assert {"lift", "clip_start", "hangup"} <= set(events), events
    assert list((state / "rotation").glob("*.json")), list(state.rglob("*"))
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(state)}
    assert after - before == {tmp_path / "notify"}
