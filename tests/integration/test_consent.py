"""Consent that sticks: the admin's commands on a real signed repository, and a real booth."""

from __future__ import annotations

import hashlib
import shutil
import time
from importlib import resources
from pathlib import Path

import pytest

from kiosk.admin.changes import assignments
from kiosk.admin.cli import main
from kiosk.admin.consent import put_register, read_register
from kiosk.admin.publishing import current_manifest, next_targets, read_history
from kiosk.content.consent import ConsentRegister, Retirement
from kiosk.sync.consent import Purged
from tests.audio_rig import PulseSink
from tests.booth_runner import HeadlessBooth, write_config
from tests.clipmaker import make_set
from tests.content import Publisher, booth_syncer
from tests.nginx import Nginx


def admin(publisher: Publisher, *args: object) -> int:
    base = publisher.base
    return main(
        [
            "--repo",
            str(publisher.repo.folder),
            "--keys",
            str(base / "keys"),
            "--online-keys",
            str(base / "online"),
            *map(str, args),
            "--as",
            "ana",
        ]
    )


@pytest.fixture
def sample_set(tmp_path: Path) -> Path:
    folder = tmp_path / "sample-set"
    make_set(folder, {"maria.wav": 1.0, "bob.wav": 1.0}, name="s")
    return folder


def test_the_three_commands_leave_maria_retired(
    publisher: Publisher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample_set = tmp_path / "sample-set"  # the bundled sample set, as in the issue
    shutil.copytree(resources.files("kiosk.data") / "sample-set", sample_set)  # type: ignore[arg-type]
    assert admin(publisher, "publish", sample_set, "--set", "s") == 0
    assert admin(publisher, "retire", "s", "maria", "--reason", "withdrawn by email") == 0
    capsys.readouterr()
    assert admin(publisher, "publish", sample_set, "--set", "s") == 2
    err = capsys.readouterr().err
    assert f"{sample_set / 'maria.ogg'}: consent withdrawn" in err
    assert "--reinstate maria.ogg --reason" in err and "nothing was published" in err
    dest = publisher.destination()
    manifest = current_manifest(dest, "s")
    assert manifest is not None
    assert manifest.version == 2
    assert [c.file for c in manifest.clips] == [
        "tom.opus",
        "priya.opus",
        "jonas.opus",
        "aisha.opus",
    ]
    register = read_register(dest, dest.current_targets())
    (gone,) = register.retired
    source = (sample_set / "maria.ogg").read_bytes()
    assert gone.source_sha256 == hashlib.sha256(source).hexdigest()
    assert (gone.file, gone.title) == ("maria.opus", "I almost cancelled")
    assert gone.speaker == "Maria, customer since 2019"
    assert (gone.reason, gone.by, gone.sets) == ("withdrawn by email", "ana", ("s",))
    history = read_history(dest, dest.current_targets(), "s")
    assert [(v.version, v.action, v.by) for v in history.versions] == [
        (1, "publish", "ana"),
        (2, "retire", "ana"),
    ]


def test_reinstate_is_recorded_and_a_new_cut_warns(
    publisher: Publisher, sample_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(publisher, "publish", sample_set, "--set", "s") == 0
    assert admin(publisher, "retire", "s", "maria.opus", "--reason", "legal") == 0
    assert admin(publisher, "publish", sample_set, "--set", "s", "--reinstate", "maria.wav") == 2
    assert "--reinstate needs --reason" in capsys.readouterr().err
    args = ("--reinstate", "maria.wav", "--reason", "consent given again")
    assert admin(publisher, "publish", sample_set, "--set", "s", *args) == 0
    dest = publisher.destination()
    register = read_register(dest, dest.current_targets())
    assert register.retired == ()
    (back,) = register.reinstated
    assert (back.file, back.reason, back.by, back.retired_reason) == (
        "maria.opus",
        "consent given again",
        "ana",
        "legal",
    )
    manifest = current_manifest(dest, "s")
    assert manifest is not None and len(manifest.clips) == 2
    # Retired again; a re-trimmed copy (new bytes, same title and speaker) goes with a warning.
    assert admin(publisher, "retire", "s", "maria", "--reason", "withdrawn") == 0
    make_set(sample_set, {"old.wav": 1.0, "bob.wav": 1.0, "maria.wav": 0.8}, name="s")
    (sample_set / "clipset.yaml").write_text(  # maria.wav: new bytes, old title and speaker
        "name: s\nclips:\n"
        '  - {file: bob.wav, title: "Title bob.wav", speaker: "Speaker 1"}\n'
        '  - {file: maria.wav, title: "Title maria.wav", speaker: "Speaker 0"}\n'
    )
    capsys.readouterr()
    assert admin(publisher, "publish", sample_set, "--set", "s") == 0
    err = capsys.readouterr().err
    assert "maria.wav: same title and speaker as maria.opus, retired" in err


def test_rollback_never_brings_back_a_retired_clip(
    publisher: Publisher, sample_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(publisher, "publish", sample_set, "--set", "s") == 0
    assert admin(publisher, "retire", "s", "maria", "--reason", "withdrawn") == 0
    capsys.readouterr()
    assert admin(publisher, "rollback", "s", "1") == 0
    out = capsys.readouterr().out
    assert "s version 3 = version 1" in out and "left out maria.opus" in out
    manifest = current_manifest(publisher.destination(), "s")
    assert manifest is not None
    assert (manifest.version, [c.file for c in manifest.clips]) == (3, ["bob.opus"])
    assert admin(publisher, "rollback", "s", "9") == 2
    assert "has no version 9 in its history (1, 2, 3)" in capsys.readouterr().err


def test_a_clip_in_several_sets_goes_from_all_in_one_change(
    publisher: Publisher, sample_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert admin(publisher, "publish", sample_set, "--set", "s") == 0
    assert admin(publisher, "publish", sample_set, "--set", "t") == 0
    assert admin(publisher, "assign", "lobby", "t") == 0
    before = publisher.destination().current_targets().signed.version
    capsys.readouterr()
    assert admin(publisher, "retire", "s", "maria", "--reason", "withdrawn") == 2
    assert "also in set(s) t: add --all-sets" in capsys.readouterr().err
    assert admin(publisher, "retire", "s", "maria", "--reason", "withdrawn", "--all-sets") == 0
    assert "retired maria.opus: s version 2, t version 2" in capsys.readouterr().out
    dest = publisher.destination()
    assert dest.current_targets().signed.version == before + 1  # one signed change
    for name in ("s", "t"):
        manifest = current_manifest(dest, name)
        assert manifest is not None and [c.file for c in manifest.clips] == ["bob.opus"]
    assert assignments(dest) == {"lobby": "t"}
    assert admin(publisher, "consent") == 0
    out = capsys.readouterr().out
    assert "maria.opus\t'Title maria.wav' - Speaker 0\tretired" in out and "by ana" in out


def test_consent_lists_expiry_and_flags_the_next_30_days(
    publisher: Publisher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    folder = tmp_path / "exp"
    soon = dt.date.today() + dt.timedelta(days=10)
    later = dt.date.today() + dt.timedelta(days=100)
    make_set(
        folder,
        {"a.wav": 0.5, "b.wav": 0.5, "c.wav": 0.5},
        name="e",
        extra_yaml={"a.wav:expires": soon.isoformat(), "b.wav:expires": later.isoformat()},
    )
    assert admin(publisher, "publish", folder, "--set", "e") == 0
    capsys.readouterr()
    assert admin(publisher, "consent") == 0
    out = capsys.readouterr().out
    assert f"e/a.opus\tEXPIRES IN 10 DAYS ({soon})" in out
    assert f"e/b.opus\texpires {later}" in out
    assert "e/c.opus\tno expiry" in out


def _files_with(root: Path, sha: str) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and hashlib.sha256(p.read_bytes()).hexdigest() == sha
    ]


@pytest.mark.pulse
def test_a_booth_offline_at_retirement_deletes_the_bytes_when_back(
    tmp_path: Path, publisher: Publisher, pulse: PulseSink
) -> None:
    """The issue's three commands on the bundled sample set, the retirement while the booth
    that cached maria is offline."""
    sample_set = tmp_path / "sample-set"
    shutil.copytree(resources.files("kiosk.data") / "sample-set", sample_set)  # type: ignore[arg-type]
    assert admin(publisher, "publish", sample_set, "--set", "s") == 0
    manifest = current_manifest(publisher.destination(), "s")
    assert manifest is not None
    maria = next(c for c in manifest.clips if c.file == "maria.opus").sha256
    state = tmp_path / "booth" / "state"
    with Nginx(publisher.repo.folder, tmp_path / "nginx") as nginx:
        (tmp_path / "booth").mkdir()
        cfg = write_config(
            tmp_path / "booth",
            state / "sets" / "current",
            sync__url=nginx.url,
            sync__root=publisher.root_json,
            sync__set="s",
            sync__interval=1,
            sync__jitter=0,
        )
        booth = HeadlessBooth(cfg, pulse.env)
        try:
            first = booth.wait_for("sync")
            assert (first["state"], first["version"]) == ("ok", 1)
            assert len(_files_with(state, maria)) == 2  # the cache and the set folder
            nginx.stop()  # the booth goes offline
            assert booth.wait_for("sync", 2, timeout=20)["state"] == "error"
            assert admin(publisher, "retire", "s", "maria", "--reason", "withdrawn") == 0
            assert admin(publisher, "publish", sample_set, "--set", "s") == 2  # refused
            time.sleep(2)  # a few sync rounds while offline: nothing changes
            assert booth.named("consent") == []
            nginx.start()  # back online
            consent = booth.wait_for("consent", timeout=30)
            assert f"cache/clips/{maria}.opus" in consent["removed"]
            assert consent["files"] == ["maria.opus"]
            deadline = time.monotonic() + 20
            while not any(e.get("version") == 2 for e in booth.named("sync")):
                assert time.monotonic() < deadline, booth.named("sync")
                time.sleep(0.1)
            assert _files_with(state, maria) == []
            booth.send("lift")
            assert booth.wait_for("clip_start")["clip"] != "maria.opus"
            booth.send("hangup")
            booth.wait_for("hangup")
        finally:
            assert booth.quit() == 0
    assert all(e["event"] != "clip_start" or e["clip"] != "maria.opus" for e in booth.events)


def test_new_set_dry_run_then_publish_and_assignments(
    publisher: Publisher, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "Spring stories"
    make_set(folder, {"ana_intro.wav": 0.5, "bo-story.flac": 0.5})
    (folder / "clipset.yaml").unlink()
    (folder / "notes.txt").write_text("not audio")
    assert main(["new-set", str(folder)]) == 0
    assert "with 2 clips" in capsys.readouterr().out
    text = (folder / "clipset.yaml").read_text()
    assert "name: Spring-stories" in text and "title: Ana intro" in text
    assert "expires:  # YYYY-MM-DD" in text and "notes.txt" not in text
    assert main(["new-set", str(folder)]) == 2
    assert "exists already" in capsys.readouterr().err

    before = publisher.destination().current_targets().signed.version
    assert admin(publisher, "publish", folder, "--set", "spring", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "dry run: spring would become version 1:" in out
    assert "+ ana_intro.opus  'Ana intro' - " in out and "nothing was uploaded" in out
    assert publisher.destination().current_targets().signed.version == before
    assert not (publisher.repo.targets_dir / "clips").exists()  # no clip was uploaded
    assert admin(publisher, "publish", folder, "--set", "spring") == 0
    capsys.readouterr()
    assert admin(publisher, "assign", "hall", "spring") == 0
    assert (
        capsys.readouterr().out == "booths in group hall now play set spring (at their next sync)\n"
    )
    assert admin(publisher, "assignments") == 0
    assert capsys.readouterr().out == "hall\tspring\n"
    assert admin(publisher, "sets") == 0
    assert capsys.readouterr().out == "spring\tversion 1\t2 clips\n"


def test_every_argument_has_help() -> None:
    import argparse

    from kiosk.admin.cli import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, where: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{where} {name}")
            elif not action.help:
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "kiosk-admin")
    assert missing == []


def test_a_booth_honours_the_register_over_a_manifest(
    publisher: Publisher, sample_set: Path, nginx: Nginx, tmp_path: Path
) -> None:
    """A set nobody republished still names a retired clip: the booth neither stages nor keeps
    it (the register is signed like the set, and wins)."""
    assert admin(publisher, "publish", sample_set, "--set", "t") == 0
    syncer, store = booth_syncer(tmp_path / "booth", nginx.url, publisher.root_json, "t")
    first = syncer.sync()
    assert sorted(p.name for p in first.folder.iterdir()) == [
        "bob.opus",
        "clipset.yaml",
        "maria.opus",
    ]
    store.activate(first.folder)
    purged: list[Purged] = []
    syncer.purged = purged.append
    # The register alone retires maria; set t keeps naming her.
    dest = publisher.destination()
    current = dest.current_targets()
    manifest = current_manifest(dest, "t")
    assert manifest is not None
    maria = next(c for c in manifest.clips if c.file == "maria.opus")
    gone = Retirement("", "", (maria.target,), "maria.opus", "T", "S", "legal", "ana", "now")
    targets = next_targets(current)
    put_register(dest, targets, ConsentRegister((gone,)))
    targets.sign(publisher.keys.signer("targets"))
    dest.publish(targets)

    again = syncer.sync()
    assert again.version == 1  # the same set version...
    assert (again.folder / "maria.opus").exists() is False  # ...without maria on disk
    assert [p.removed for p in purged] == [
        ("sets/t-v1/maria.opus", f"cache/clips/{maria.sha256}.opus")
    ]
    assert purged[0].active_files == ("maria.opus",)
    assert _files_with(tmp_path / "booth", maria.sha256) == []
