"""The consent register and set history formats, the booth's purge, the admin's options."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from kiosk.admin.options import add_common, resolve
from kiosk.content.consent import ConsentRegister, Retirement, parse_register
from kiosk.content.history import SetHistory, Version, diff_clips, parse_history
from kiosk.content.manifest import ManifestClip
from kiosk.errors import ConfigError
from kiosk.sync.consent import purge
from kiosk.sync.store import SetStore, StagedClip

SHA = "a" * 64


def retirement(**changes: object) -> Retirement:
    fields: dict[str, object] = {
        "source_sha256": "1" * 64,
        "source_key": "2" * 64,
        "targets": (f"clips/{SHA}.opus",),
        "file": "maria.opus",
        "title": "Hello",
        "speaker": "Maria",
        "reason": "withdrawn",
        "by": "ana",
        "at": "2026-11-30T10:00:00+00:00",
        "sets": ("s",),
    }
    fields.update(changes)
    return Retirement(**fields)  # type: ignore[arg-type]


def test_register_round_trip_and_lookups() -> None:
    register = ConsentRegister((retirement(),))
    again = parse_register(register.to_json())
    assert again == register
    assert again.retired_sha256s() == {SHA}
    assert again.find_source("1" * 64, "x") is not None
    assert again.find_source("x", "2" * 64) is not None
    assert again.find_source("x", "y") is None
    assert again.find_person("HELLO", "maria") is not None
    assert again.find_person("Hello", "Bob") is None


def test_register_errors_name_file_and_key() -> None:
    doc = json.loads(ConsentRegister((retirement(),)).to_json())
    doc["retired"][0]["targets"] = ["clips/nothex.opus"]
    doc["retired"][0]["reason"] = 3
    doc["retired"].append({"file": "x", "colour": "red"})
    with pytest.raises(ConfigError) as e:
        parse_register(json.dumps(doc).encode(), "consent.json")
    assert e.value.problems == [
        "consent.json: retired[0].reason: expected text",
        "consent.json: retired[1]: unknown keys ['colour']",
    ]
    doc["retired"] = [doc["retired"][0] | {"reason": "ok"}]
    with pytest.raises(ConfigError, match=r'retired\[0\].targets: "clips/nothex.opus"'):
        parse_register(json.dumps(doc).encode(), "consent.json")
    with pytest.raises(ConfigError, match=r"consent\.json: expected an object with format 1"):
        parse_register(b"[]", "consent.json")


def clip(file: str, sha: str = SHA, title: str = "T") -> ManifestClip:
    return ManifestClip(file=file, target=f"clips/{sha}.opus", title=title, speaker="S")


def test_diff_clips() -> None:
    old = [clip("a.opus"), clip("b.opus"), clip("c.opus")]
    new = [clip("a.opus"), clip("b.opus", "b" * 64, "New"), clip("d.opus")]
    assert diff_clips(old, new) == [
        "~ b.opus  new audio, title",
        "+ d.opus  'T' - S",
        "- c.opus  'T' - S",
    ]


def test_history_round_trip_and_errors() -> None:
    history = SetHistory("s").add(Version(1, "2026-11-30", "ana", "publish", "", SHA, 10, 2))
    assert parse_history(history.to_json(), "h.json") == history
    assert history.find(1) is not None and history.find(2) is None
    with pytest.raises(ConfigError, match=r"h.json: versions\[0\].clips: expected a number"):
        bad = json.loads(history.to_json())
        bad["versions"][0]["clips"] = "2"
        parse_history(json.dumps(bad).encode(), "h.json")


def test_purge_removes_every_copy(tmp_path: Path) -> None:
    store = SetStore(tmp_path)
    data = {"maria": b"maria's voice", "bob": b"bob's voice"}
    shas = {k: hashlib.sha256(v).hexdigest() for k, v in data.items()}
    for name, sha in shas.items():
        part = store.partial_path(sha)
        part.write_bytes(data[name])
        store.commit_clip(part, sha, "opus")
    clips = [StagedClip(f"{n}.opus", s, "opus") for n, s in shas.items()]
    v1 = store.stage("s", 1, clips, "name: s\n")
    v2 = store.stage("s", 2, clips[1:], "name: s\n")
    store.activate(v1)
    store.activate(v2)  # v1 is `previous`
    other = store.stage("t", 1, clips, "name: t\n")
    (other / "maria.opus").unlink()  # a copy instead of a hard link (another file system)
    (other / "maria.opus").write_bytes(data["maria"])
    store.activate(other)  # active: t-v1, previous: s-v2
    store.partial_path(shas["maria"]).write_bytes(b"maria's")  # an interrupted download
    waits: list[str] = []
    done = purge(store, {shas["maria"]}, lambda: waits.append("quiet"))
    assert waits == ["quiet"]  # deleting waits for the hook
    assert sorted(done.removed) == sorted(
        [
            "sets/s-v1",
            "sets/t-v1/maria.opus",
            f"cache/clips/{shas['maria']}.opus",
            f"cache/partial/{shas['maria']}.part",
        ]
    )
    assert done.active_files == ("maria.opus",)
    left = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert data["maria"] not in left and b"maria's" not in left
    assert data["bob"] in left
    assert purge(store, {shas["maria"]}, lambda: waits.append("again")).removed == ()
    assert waits == ["quiet"]  # nothing to delete: no wait for the hook


def parse(argv: list[str], env: dict[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("sets")
    add_common(parser)
    args = parser.parse_args(argv)
    resolve(args, env)
    return args


def test_options_after_the_subcommand_env_and_config(tmp_path: Path) -> None:
    conf = tmp_path / "config.yaml"
    conf.write_text("hub_url: http://conf\ntoken: from-conf\nadmin: conf-admin\n")
    env = {"KIOSK_ADMIN_CONFIG": str(conf), "XDG_CONFIG_HOME": str(tmp_path)}
    args = parse(["sets"], env)
    assert (args.hub, args.repo, args.token, args.admin) == (
        "http://conf",
        None,
        "from-conf",
        "conf-admin",
    )
    assert args.keys == tmp_path / "kiosk-admin" / "keys"
    env |= {"KIOSK_HUB_URL": "http://env", "KIOSK_HUB_TOKEN": "from-env"}
    args = parse(["sets"], env)
    assert (args.hub, args.token) == ("http://env", "from-env")
    args = parse(["sets", "--repo", "/r", "--token", "given", "--as", "ana"], env)
    assert (args.hub, args.repo, args.token, args.admin) == (None, Path("/r"), "given", "ana")
    with pytest.raises(ConfigError, match="give one destination"):
        parse(["--hub", "http://x", "sets", "--repo", "/r"], env)
    conf.write_text("hub: http://typo\n")
    with pytest.raises(ConfigError, match=r"config.yaml: unknown key 'hub' \(known: hub_url"):
        parse(["sets"], env)
    with pytest.raises(ConfigError, match="no such config file"):
        parse(["sets", "--config", str(tmp_path / "none.yaml")], env)
