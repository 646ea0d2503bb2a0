"""scripts/install.sh for real, against a temporary root (`--root-dir`).

The installer runs as it would on a booth, except that every file goes under the temporary root:
the kiosk user is written into its etc/passwd with `useradd --root`, the unit is enabled with
`systemctl --root`, the venv is made from the test's own packages (`--venv-from`, no network),
and apt and the service start are reported as skipped. The laid-down unit is then checked with
`systemd-analyze verify` and `security --offline` inside that root.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audio_rig import PulseSink
from tests.integration.test_systemd_unit import (
    ANALYZE,
    DEFAULT_DEPENDENCIES,
    MAX_EXPOSURE,
    REFERENCE_KEYS,
    UnitRoot,
    analyze,
    parse_unit,
    values,
    verify,
)

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "install.sh"
TOKEN = "one-time-token-5d41402abc4b2a76"

# What running scripts/install.sh needs (also the marks of the tests that install a booth).
NEEDS_INSTALLER = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the installer runs as root"),
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("useradd", "systemctl", "bash")),
        reason="needs useradd and systemctl (Debian's passwd and systemd packages)",
    ),
]
pytestmark = NEEDS_INSTALLER


def run_install(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALL), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )


def lines(result: subprocess.CompletedProcess[str], status: str) -> list[str]:
    """The steps the installer reported with `status` (changed, unchanged, skipped)."""
    return [ln.split(None, 1)[1] for ln in result.stdout.splitlines() if ln.split()[:1] == [status]]


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """An empty system root: just the account files a fresh Debian has, and nologin."""
    root = tmp_path / "target"
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\naudio:x:29:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\naudio:*::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o640)
    nologin = root / "usr" / "sbin" / "nologin"
    nologin.parent.mkdir(parents=True)
    nologin.write_text("#!/bin/sh\nexit 1\n")
    nologin.chmod(0o755)
    return root


def base_args(target: Path, *extra: str, enroll: bool = False) -> list[str]:
    """Offline flags; enrolling (it needs a hub) and the self-test are tested on their own."""
    skip = ["--no-selftest"] + ([] if enroll else ["--no-enroll"])
    return ["--root-dir", str(target), "--venv-from", sys.prefix, *skip, *extra]


def account(target: Path, file: str, name: str) -> list[str]:
    for line in (target / "etc" / file).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    raise AssertionError(f"no {name} in {file}")


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_script_is_clean_shell() -> None:
    assert subprocess.run(["bash", "-n", str(INSTALL)], check=False).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (scripts/dev.sh installs it)")
    checked = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


ROOT_ABC = ("--root-sha256", "abc")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hub", "https://h.example", "--token", "t", "--colour", "red"], "unknown option"),
        (["--token", "t"], "--hub URL is required"),
        (["--hub", "https://h.example"], "an enrollment token is required: --token-file FILE"),
        (["--hub", "h.example", "--token", "t"], "--hub: expected http(s)://"),
        (["--hub", "https://h.example", "--token", "t", "--pin", "28"], "--pin: expected"),
        (["--hub", "https://h.example", "--token", "t", "--pin", "GPIO17"], "--pin: expected"),
        (["--hub", "https://h.example", "--token", "t", "--pin"], "--pin needs a value"),
        (["--hub", "https://h.example", "--token", "t", "--led-pin", "x"], "--led-pin: expected"),
        (["--hub", "https://h.example", "--token", "t", "--bell-pin", "17"], "for two jobs"),
        (["--hub=https://h.example", "--token", "t"], "a space, not '='"),
        (["--hub", "https://h.example", "--token", "t", "--root", "/nonexistent.json"], "--root"),
        (
            ["--hub", "https://h.example", "--token", "t", "--root", "/etc/hostname"],
            "--root-sha256",
        ),
        (
            [*("--hub", "https://h.example", "--token", "t", "--root", "/etc/hostname"), *ROOT_ABC],
            "--root-sha256: expected 64 hex digits",
        ),
        (["--hub", "https://h.example", "--token", "t", "--root-sha256", "0" * 64], "need --root"),
        (["--hub", "https://h.example", "--token", "t", "--audio-card", "a b"], "--audio-card"),
        (["--purge"], "--purge goes with --uninstall"),
        (["--uninstall", "--root-dir", "/proc/self"], "--root-dir: no /proc/self/etc/passwd"),
    ],
)
def test_bad_flags_are_refused_with_a_clear_error(args: list[str], message: str) -> None:
    result = run_install(*args)
    assert result.returncode == 64, result
    assert message in result.stderr, result.stderr
    assert result.stdout == ""


def test_a_root_that_does_not_match_its_fingerprint_is_refused(
    tmp_path: Path, target: Path
) -> None:
    root_json = tmp_path / "1.root.json"
    root_json.write_text('{"signed": {"_type": "root"}}\n')
    fingerprint = hashlib.sha256(root_json.read_bytes()).hexdigest()
    root_json.write_text('{"signed": {"_type": "root", "evil": 1}}\n')  # swapped on the way
    flags = ("--hub", "https://hub.example.com", "--token", TOKEN, "--root", str(root_json))
    result = run_install(*base_args(target, *flags, "--root-sha256", fingerprint))
    assert result.returncode == 5, result
    assert f"not {fingerprint} from --root-sha256; refusing it" in result.stderr
    assert not (target / "etc" / "kiosk").exists()


def test_install_twice_change_uninstall_purge(tmp_path: Path, target: Path) -> None:
    root_json = tmp_path / "1.root.json"
    root_json.write_text('{"signed": {"_type": "root"}}\n')
    flags = base_args(
        target,
        *("--hub", "https://hub.example.com/", "--token", TOKEN, "--pin", "27"),
        *("--audio-card", "Device", "--root", str(root_json), "--group", "emea-lobby"),
        *("--root-sha256", hashlib.sha256(root_json.read_bytes()).hexdigest().upper()),
        *("--led-pin", "24", "--bell-pin", "23"),
    )
    first = run_install(*flags)
    assert first.returncode == 0, first.stdout + first.stderr
    changed = lines(first, "changed")
    for step in ("venv", "user", "config", "alsa", "journald", "unit", "state"):
        assert any(c.startswith(step) for c in changed), (step, first.stdout)
    assert "no changes" not in first.stdout
    # Steps that need this machine or commands from other features say why they were skipped.
    skipped = "\n".join(lines(first, "skipped"))
    assert "service" in skipped and "--root-dir" in skipped

    # The accounts: a system user in gpio and audio, in the target's files only.
    kiosk = account(target, "passwd", "kiosk")
    uid, gid = int(kiosk[2]), int(kiosk[3])
    assert uid < 1000 and kiosk[5] == "/var/lib/kiosk" and kiosk[6] == "/usr/sbin/nologin"
    for group in ("gpio", "audio"):
        assert "kiosk" in account(target, "group", group)[3].split(","), group

    # The config: the flags, no secrets, world-readable; it validates with the installed kiosk.
    config = target / "etc" / "kiosk" / "kiosk.yaml"
    text = config.read_text()
    assert "pin: 27" in text and 'url: "https://hub.example.com/repo"' in text
    assert "status_led:\n  pin: 24\nbell:\n  pin: 23\n" in text
    assert "root: /etc/kiosk/root.json" in text and 'group: "emea-lobby"' in text
    assert mode(config) == 0o644 and config.stat().st_uid == 0
    assert (target / "etc" / "kiosk" / "root.json").read_bytes() == root_json.read_bytes()
    for path in target.rglob("*"):
        if path.is_file() and not path.is_relative_to(target / "opt"):
            assert TOKEN not in path.read_text(errors="replace"), path
    kiosk_bin = target / "opt" / "kiosk" / "current" / "bin" / "kiosk"
    checked = subprocess.run(
        [str(kiosk_bin), "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr

    # ALSA: dmix on the card chosen by name, the default device the config names.
    asound = (target / "etc" / "asound.conf").read_text()
    assert 'pcm "hw:CARD=Device,DEV=0"' in asound and "type dmix" in asound
    assert "CARD_NAME" not in asound and "device: default" in text
    if shutil.which("aplay"):  # alsa-lib parses it: its devices (pcm.booth: dmix) are listed
        alsa_conf = f"/usr/share/alsa/alsa.conf:{target / 'etc' / 'asound.conf'}"
        listed = subprocess.run(
            ["aplay", "-L"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "ALSA_CONFIG_PATH": alsa_conf},
        )
        names = listed.stdout.split()
        assert {"default", "booth"} <= set(names) and "ALSA lib" not in listed.stderr, listed

    journald = (target / "etc" / "systemd" / "journald.conf.d" / "kiosk.conf").read_text()
    assert re.search(r"^SystemMaxUse=\d+M$", journald, re.MULTILINE), journald

    unit = target / "etc" / "systemd" / "system" / "kiosk.service"
    assert unit.read_bytes() == (REPO / "systemd" / "kiosk.service").read_bytes()
    wants = target / "etc" / "systemd" / "system" / "multi-user.target.wants" / "kiosk.service"
    assert wants.is_symlink() and os.readlink(wants) == "/etc/systemd/system/kiosk.service"
    state = target / "var" / "lib" / "kiosk"
    assert mode(state) == 0o700 and (state.stat().st_uid, state.stat().st_gid) == (uid, gid)

    # A second run with the same flags changes nothing, and says so.
    second = run_install(*flags)
    assert second.returncode == 0, second.stdout + second.stderr
    assert lines(second, "changed") == [], second.stdout
    assert second.stdout.splitlines()[-1] == "no changes: the booth was already as asked"

    # A different pin rewrites the config only; the old one is kept beside it.
    third = run_install(*[("22" if a == "27" else a) for a in flags])
    assert lines(third, "changed") == ["config    /etc/kiosk/kiosk.yaml"], third.stdout
    assert "pin: 22" in config.read_text()
    assert "pin: 27" in (config.parent / "kiosk.yaml.old").read_text()

    # Uninstall: everything goes but the state directory; a second uninstall has nothing to do.
    (state / "outbox.sqlite3").write_bytes(b"events")
    gone = run_install("--uninstall", "--root-dir", str(target))
    assert gone.returncode == 0, gone.stdout + gone.stderr
    for laid in ("opt/kiosk", "etc/kiosk", "etc/asound.conf", "etc/systemd/system/kiosk.service"):
        assert not (target / laid).exists(), laid
    assert not wants.is_symlink()
    assert "kiosk:" not in (target / "etc" / "passwd").read_text()
    assert (state / "outbox.sqlite3").read_bytes() == b"events"
    again = run_install("--uninstall", "--root-dir", str(target))
    assert again.stdout.splitlines()[-1] == "no changes: the booth was already as asked"
    purged = run_install("--uninstall", "--purge", "--root-dir", str(target))
    assert purged.returncode == 0 and not state.exists(), purged.stdout


def test_an_old_opt_kiosk_venv_is_migrated_to_versioned_venvs(target: Path) -> None:
    old = target / "opt" / "kiosk" / "venv"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "kiosk").write_text("#!/bin/sh\nexit 0\n")
    flags = base_args(target, "--hub", "http://127.0.0.1:9", "--token", TOKEN)
    first = run_install(*flags)
    assert first.returncode == 0, first.stdout + first.stderr
    assert any("/opt/kiosk/venv removed (migrated" in c for c in lines(first, "changed"))
    assert not old.exists()
    current = target / "opt" / "kiosk" / "current"
    assert os.readlink(current) == "venvs/0.1.0" and (current / "bin" / "kiosk").exists()
    for unit in ("kiosk-update.service", "kiosk-update.path"):
        assert (target / "etc" / "systemd" / "system" / unit).read_bytes() == (
            REPO / "systemd" / unit
        ).read_bytes()
    second = run_install(*flags)
    assert lines(second, "changed") == [], second.stdout


def test_an_existing_asound_conf_is_kept_and_restored(target: Path) -> None:
    theirs = target / "etc" / "asound.conf"
    theirs.write_text("defaults.pcm.card 1\n")
    flags = base_args(target, "--hub", "http://127.0.0.1:9", "--token", TOKEN)
    assert run_install(*flags, "--audio-card", "UACDemoV10").returncode == 0
    assert "hw:CARD=UACDemoV10,DEV=0" in theirs.read_text()
    assert run_install("--uninstall", "--root-dir", str(target)).returncode == 0
    assert theirs.read_text() == "defaults.pcm.card 1\n"


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_the_installed_unit_verifies_and_is_hardened(target: Path) -> None:
    result = run_install(*base_args(target, "--hub", "http://127.0.0.1:9", "--token", TOKEN))
    assert result.returncode == 0, result.stdout + result.stderr
    unit = target / "etc" / "systemd" / "system" / "kiosk.service"
    # Stubs for the units it references (a real root has them); ExecStart is the real venv.
    referenced = set(DEFAULT_DEPENDENCIES)
    entries = parse_unit(unit.read_text())
    for key in REFERENCE_KEYS:
        for value in values(entries, key):
            referenced.update(value.split())
    stubs = target / "usr" / "lib" / "systemd" / "system"
    stubs.mkdir(parents=True)
    for name in referenced - {unit.name}:
        (stubs / name).write_text(f"[Unit]\nDescription=Stub {name}\n")
    checked = verify(UnitRoot(root=target, unit=unit))
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    security = analyze(
        "security", "--no-pager", "--offline=yes", f"--root={target}", str(unit)
    ).stdout
    match = re.search(r"Overall exposure level for kiosk\.service: (\d+\.\d+)", security)
    assert match and float(match.group(1)) <= MAX_EXPOSURE, security


# ---------------------------------------------------------------- enroll (the fleet feature)

ADMIN = [sys.executable, "-m", "kiosk.admin.cli"]
HAS_ENROLL = importlib.util.find_spec("kiosk.fleet") is not None


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The real hub with a fresh one-time enrollment token: (url, admin token)."""
    from kiosk.admin.cli import main as admin
    from tests.hubproc import HubProcess

    data = tmp_path / "hub-data"
    keys = ["--keys", str(tmp_path / "keys"), "--online-keys", str(data / "online-keys")]
    assert admin(["--repo", str(data / "repo"), *keys, "init", "--no-passphrase"]) == 0
    with HubProcess(data, "test-admin-token") as server:
        yield server.url, server.token


def booth_token(hub: tuple[str, str]) -> str:
    made = subprocess.run(
        [*ADMIN, "--hub", hub[0], "booth", "add", "--group", "lobby"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KIOSK_HUB_TOKEN": hub[1]},
    )
    return made.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not HAS_ENROLL, reason="`kiosk enroll` is not on this branch (fleet)")
def test_install_enrolls_once_and_reports_refusals(
    tmp_path: Path, target: Path, hub: tuple[str, str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(booth_token(hub) + "\n")
    flags = base_args(target, "--hub", hub[0], "--token-file", str(token_file), enroll=True)
    first = run_install(*flags)
    assert first.returncode == 0, first.stdout + first.stderr
    assert any(c.startswith("enroll") for c in lines(first, "changed")), first.stdout
    fleet = target / "var" / "lib" / "kiosk" / "fleet.json"
    assert mode(fleet) == 0o600
    assert fleet.stat().st_uid == int(account(target, "passwd", "kiosk")[2])
    assert json.loads(fleet.read_text())["hub"] == hub[0]
    again = run_install(*flags)
    assert again.stdout.splitlines()[-1] == "no changes: the booth was already as asked"

    other = tmp_path / "other"
    shutil.copytree(target / "etc", other / "etc", symlinks=True, ignore=_only_accounts)
    refused = run_install(*base_args(other, "--hub", hub[0], "--token", "bad", enroll=True))
    assert refused.returncode == 2, refused.stdout + refused.stderr  # the old flag still works
    assert "refused the token" in refused.stderr
    shutil.rmtree(other / "var")
    nowhere = base_args(other, "--hub", "http://127.0.0.1:9", "--token", "t", enroll=True)
    unreachable = run_install(*nowhere)
    assert unreachable.returncode == 3, unreachable.stdout + unreachable.stderr


def _only_accounts(folder: str, names: list[str]) -> list[str]:
    keep = {"passwd", "group", "shadow", "gshadow"}
    return [n for n in names if Path(folder).name == "etc" and n not in keep]


# ------------------------------------------------------------- the self-test (the panel feature)

HAS_SELFTEST = (
    subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "selftest", "--help"], capture_output=True, check=False
    ).returncode
    == 0
)


@pytest.mark.pulse
@pytest.mark.skipif(not HAS_SELFTEST, reason="`kiosk selftest` is not on this branch (panel)")
def test_install_ends_with_the_unattended_selftest(target: Path, pulse: PulseSink) -> None:
    flags = ["--root-dir", str(target), "--venv-from", sys.prefix, "--no-enroll"]
    result = run_install(
        *flags, "--hub", "http://127.0.0.1:9", env={**pulse.env, "GPIOZERO_PIN_FACTORY": "mock"}
    )
    # It ran: passed (exit 0), or failed with the installer's pointer to the docs (exit 4).
    if result.returncode == 0:
        assert "selftest  passed" in result.stdout, result.stdout
    else:
        assert result.returncode == 4, result.stdout + result.stderr
        assert "the self-test failed" in result.stderr
