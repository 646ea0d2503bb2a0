"""SetStore on a real filesystem: the cache, staged set folders, the atomic switch, collect."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from kiosk.clips.clipset import load_clipset
from kiosk.sync.store import SetStore, StagedClip

SHA = "ab" * 32


class Killed(BaseException):
    """Stands for a kill -9 or a power cut: nothing after it runs, not even except clauses."""


def cache(store: SetStore, data: bytes, ext: str = "opus") -> str:
    """Put `data` into the cache the way the updater does (a verified part, committed)."""
    sha = hashlib.sha256(data).hexdigest()
    if store.clip_path(sha, ext).exists():  # the updater downloads only what is missing
        return sha
    part = store.partial_path(sha)
    part.write_bytes(data)
    store.commit_clip(part, sha, ext)
    return sha


def manifest(name: str, files: list[str]) -> str:
    lines = [f"# {name}", f"name: {name}", "clips:"]
    for f in files:
        lines += [f"  - file: {f}", f"    title: Title {f}", "    speaker: Someone"]
    return "\n".join(lines) + "\n"


def stage(store: SetStore, version: int, clips: dict[str, bytes], name: str = "lobby") -> Path:
    """Cache the clips' bytes and stage them as `name` version `version`."""
    staged = [StagedClip(file, cache(store, data), "opus") for file, data in clips.items()]
    return store.stage(name, version, staged, manifest(name, list(clips)))


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def store(tmp_path: Path) -> SetStore:
    return SetStore(tmp_path / "state")


def test_a_new_store_has_its_folders_and_no_active_set(store: SetStore) -> None:
    assert store.clips.is_dir() and store.partial.is_dir() and store.sets.is_dir()
    assert store.active() is None and store.previous() is None
    assert store.rollback() is None


def test_commit_clip_moves_a_download_into_the_cache(store: SetStore) -> None:
    sha = cache(store, b"clip bytes")
    assert store.clip_path(sha, "opus").read_bytes() == b"clip bytes"
    assert list(store.partial.iterdir()) == []


def test_stage_builds_a_complete_folder_of_hard_links(store: SetStore) -> None:
    folder = stage(store, 1, {"a.opus": b"aaa", "b.opus": b"bbbb"})
    assert folder == store.sets / "lobby-v1"
    assert names(folder) == ["a.opus", "b.opus", "clipset.yaml"]
    assert (folder / "clipset.yaml").read_text() == manifest("lobby", ["a.opus", "b.opus"])
    for file, data in (("a.opus", b"aaa"), ("b.opus", b"bbbb")):
        cached = store.clip_path(hashlib.sha256(data).hexdigest(), "opus")
        assert (folder / file).read_bytes() == data
        assert (folder / file).stat().st_ino == cached.stat().st_ino  # a hard link, no copy
        assert cached.stat().st_nlink == 2
    clipset = load_clipset(folder)
    assert clipset.name == "lobby" and [c.file for c in clipset.clips] == ["a.opus", "b.opus"]
    assert names(store.sets) == ["lobby-v1"]  # no staging leftover
    assert store.staged("lobby", 1) == folder and store.staged("lobby", 2) is None


def test_one_cached_clip_serves_two_files_and_two_sets(store: SetStore) -> None:
    v1 = stage(store, 1, {"a.opus": b"same", "b.opus": b"same"})
    v2 = stage(store, 2, {"c.opus": b"same"})
    assert len(list(store.clips.iterdir())) == 1
    assert {(v1 / "a.opus").stat().st_ino, (v2 / "c.opus").stat().st_ino} == {
        store.clip_path(hashlib.sha256(b"same").hexdigest(), "opus").stat().st_ino
    }


def test_staging_a_version_again_builds_a_new_folder_beside_the_old(store: SetStore) -> None:
    """The updater stages a version again only when the old folder's content is corrupt."""
    first = stage(store, 1, {"a.opus": b"aaa"})
    store.activate(first)
    again = stage(store, 1, {"a.opus": b"aaa"})
    assert again.name == "lobby-v1-r2" and store.staged("lobby", 1) == again
    assert store.active() == first and names(first) == ["a.opus", "clipset.yaml"]
    assert SetStore.version_of(again) == 1
    assert stage(store, 1, {"a.opus": b"aaa"}).name == "lobby-v1-r3"


def test_discard_removes_every_link_to_a_corrupt_clip(store: SetStore) -> None:
    v1 = stage(store, 1, {"a.opus": b"aaa", "b.opus": b"bbb"})
    v2 = stage(store, 2, {"a.opus": b"aaa"})
    store.activate(v1)
    removed = store.discard(v1 / "a.opus")
    assert len(removed) == 3  # the cache entry and both set folders' links
    assert names(v1) == ["b.opus", "clipset.yaml"] and names(v2) == ["clipset.yaml"]
    assert store.clip_path(hashlib.sha256(b"aaa").hexdigest(), "opus").exists() is False
    assert store.discard(v1 / "a.opus") == []


def test_stage_with_a_clip_missing_from_the_cache_fails_and_leaves_nothing(
    store: SetStore,
) -> None:
    sha = cache(store, b"aaa")
    clips = [StagedClip("a.opus", sha, "opus"), StagedClip("b.opus", SHA, "opus")]
    with pytest.raises(OSError):
        store.stage("lobby", 1, clips, manifest("lobby", ["a.opus", "b.opus"]))
    assert names(store.sets) == [] and store.staged("lobby", 1) is None


def test_stage_replaces_an_incomplete_folder_under_the_final_name(store: SetStore) -> None:
    leftover = store.sets / "lobby-v1"
    leftover.mkdir()
    (leftover / "junk.opus").write_bytes(b"junk")
    assert store.staged("lobby", 1) is None
    folder = stage(store, 1, {"a.opus": b"aaa"})
    assert folder == leftover and names(folder) == ["a.opus", "clipset.yaml"]


def test_activate_sets_current_and_previous(store: SetStore) -> None:
    v1 = stage(store, 1, {"a.opus": b"aaa"})
    v2 = stage(store, 2, {"b.opus": b"bbb"})
    store.activate(v1)
    assert (store.active(), store.previous()) == (v1, None)
    assert os.readlink(store.sets / "current") == "lobby-v1"  # relative: the state dir can move
    store.activate(v2)
    assert (store.active(), store.previous()) == (v2, v1)
    assert load_clipset(store.sets / "current").clips[0].file == "b.opus"
    store.activate(v2)  # already active: previous stays
    assert (store.active(), store.previous()) == (v2, v1)
    assert sorted(p.name for p in store.sets.iterdir() if p.name.startswith(".")) == []


def test_rollback_swaps_current_and_previous(store: SetStore) -> None:
    v1 = stage(store, 1, {"a.opus": b"aaa"})
    store.activate(v1)
    assert store.rollback() == v1 and store.previous() is None  # nothing to go back to
    v2 = stage(store, 2, {"b.opus": b"bbb"})
    store.activate(v2)
    assert store.rollback() == v1
    assert (store.active(), store.previous()) == (v1, v2)
    assert store.rollback() == v2


def test_collect_removes_leftovers_and_keeps_current_previous_and_keep(store: SetStore) -> None:
    v1 = stage(store, 1, {"a.opus": b"aaa", "shared.opus": b"shared"})
    v2 = stage(store, 2, {"b.opus": b"bbb", "shared.opus": b"shared"})
    v3 = stage(store, 3, {"c.opus": b"ccc"})
    v4 = stage(store, 4, {"d.opus": b"ddd", "shared.opus": b"shared"})
    other = stage(store, 1, {"e.opus": b"eee"}, name="hall")
    store.activate(v1)
    store.activate(v2)
    staging = store.sets / ".staging-lobby-v5-0123abcd"
    staging.mkdir()
    (staging / "f.opus").write_bytes(b"fff")
    cache(store, b"unreferenced")
    sha = {d: hashlib.sha256(d).hexdigest() for d in (b"aaa", b"bbb", b"ccc", b"ddd", b"eee")}

    removed = store.collect(keep=[v4])

    assert names(store.sets) == ["current", "lobby-v1", "lobby-v2", "lobby-v4", "previous"]
    assert {v3.name, other.name, staging.name} <= set(removed)
    cached = {p.name for p in store.clips.iterdir()}
    expect = {f"{sha[d]}.opus" for d in (b"aaa", b"bbb", b"ddd")}
    assert cached == expect | {f"{hashlib.sha256(b'shared').hexdigest()}.opus"}
    assert f"cache/clips/{sha[b'ccc']}.opus" in removed
    assert f"cache/clips/{hashlib.sha256(b'unreferenced').hexdigest()}.opus" in removed
    assert (store.active(), store.previous()) == (v2, v1)
    inodes = {p.stat().st_ino for p in store.clips.iterdir()}
    for folder in (v1, v2, v4):  # still complete, still hard links into the cache
        for clip in load_clipset(folder).clips:
            assert (folder / clip.file).stat().st_ino in inodes

    # Without `keep`, the staged version 4 goes too; what current and previous use stays.
    store.collect()
    assert names(store.sets) == ["current", "lobby-v1", "lobby-v2", "previous"]
    assert {p.name for p in store.clips.iterdir()} == cached - {f"{sha[b'ddd']}.opus"}
    assert store.collect() == []


def test_collect_on_an_empty_store_removes_nothing(store: SetStore) -> None:
    assert store.collect() == []


@pytest.mark.parametrize(
    ("sha256", "ext"),
    [
        ("xyz", "opus"),
        (SHA.upper(), "opus"),
        (SHA[:-1], "opus"),
        (SHA + "0", "opus"),
        ("../" + SHA[3:], "opus"),
        (SHA, "OPUS"),
        (SHA, "op/us"),
        (SHA, ""),
        (SHA, "abcdefghi"),
    ],
)
def test_bad_clip_names_are_rejected(store: SetStore, sha256: str, ext: str) -> None:
    with pytest.raises(ValueError):
        store.clip_path(sha256, ext)
    if ext == "opus":
        with pytest.raises(ValueError):
            store.partial_path(sha256)
        with pytest.raises(ValueError):
            store.commit_clip(store.partial / "x.part", sha256, ext)


def test_a_bad_clip_name_in_a_set_is_rejected_before_anything_is_built(store: SetStore) -> None:
    with pytest.raises(ValueError):
        store.stage("lobby", 1, [StagedClip("a.opus", "../../etc/passwd", "opus")], "x")
    assert names(store.sets) == []


def test_activating_anything_but_a_complete_set_folder_is_rejected(
    store: SetStore, tmp_path: Path
) -> None:
    v1 = stage(store, 1, {"a.opus": b"aaa"})
    store.activate(v1)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(v1, elsewhere)
    empty = store.sets / "lobby-v2"
    empty.mkdir()
    (empty / "a.opus").write_bytes(b"aaa")
    nested = v1 / "sub"
    nested.mkdir()
    (nested / "clipset.yaml").write_text(manifest("lobby", []))
    for folder in (elsewhere, empty, store.sets / "lobby-v9", nested, store.sets):
        with pytest.raises(ValueError):
            store.activate(folder)
    assert (store.active(), store.previous()) == (v1, None)


def test_crash_leftovers_do_not_change_the_active_set(store: SetStore) -> None:
    v1 = stage(store, 1, {"a.opus": b"aaa"})
    store.activate(v1)
    # Killed while staging version 2: a dot-folder, complete or not.
    staging = store.sets / ".staging-lobby-v2-0123abcd"
    staging.mkdir()
    (staging / "b.opus").write_bytes(b"bb")
    (staging / "clipset.yaml").write_text(manifest("lobby", ["b.opus"]))
    # Killed inside activate(): a temp symlink made, not yet renamed over `current`.
    os.symlink(staging.name, store.sets / ".current.89abcdef")
    os.symlink(staging.name, store.sets / ".previous.89abcdef")
    # Killed in a download: a part file.
    (store.partial / f"{SHA}.part").write_bytes(b"half")
    assert (store.active(), store.previous()) == (v1, None)
    assert store.staged("lobby", 2) is None
    assert load_clipset(store.sets / "current").clips[0].file == "a.opus"

    removed = store.collect()
    assert staging.name in removed and not staging.exists()
    assert (store.active(), store.previous()) == (v1, None)
    # The next sync stages version 2 for real, and activates it.
    v2 = stage(store, 2, {"b.opus": b"bbb"})
    store.activate(v2)
    assert (store.active(), store.previous()) == (v2, v1)


def test_a_current_link_to_an_incomplete_folder_counts_as_no_active_set(store: SetStore) -> None:
    half = store.sets / "lobby-v1"
    half.mkdir()
    os.symlink(half.name, store.sets / "current")
    assert store.active() is None
    os.symlink("lobby-v7", store.sets / "previous")  # dangling
    assert store.previous() is None


def test_an_interrupted_collect_never_leaves_a_half_deleted_set_under_its_name(
    store: SetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rmtree is not atomic: killed mid-way, a folder may keep clipset.yaml and lose clips.

    Under its final name such a folder would look complete to staged() and activate().
    """
    v1 = stage(store, 1, {"a.opus": b"aaa", "b.opus": b"bbb"})
    v2 = stage(store, 2, {"c.opus": b"ccc"})
    v3 = stage(store, 3, {"d.opus": b"ddd"})
    store.activate(v2)
    store.activate(v3)

    def torn_rmtree(path: Path, *args: Any, **kwargs: Any) -> None:
        for f in Path(path).iterdir():
            if f.name != "clipset.yaml":
                f.unlink()
        raise Killed

    with monkeypatch.context() as m:
        m.setattr(shutil, "rmtree", torn_rmtree)
        with pytest.raises(Killed):
            store.collect()
    assert not (v1 / "a.opus").exists()
    assert store.staged("lobby", 1) is None
    with pytest.raises(ValueError):
        store.activate(v1)
    assert (store.active(), store.previous()) == (v3, v2)
    store.collect()  # the next collect finishes the job
    assert names(store.sets) == ["current", "lobby-v2", "lobby-v3", "previous"]
    assert len(list(store.clips.iterdir())) == 2


def test_a_set_folder_names_its_version(tmp_path: Path) -> None:
    store = SetStore(tmp_path)
    assert SetStore.version_of(Path(store.folder_name("lobby-v2", 17))) == 17
    assert SetStore.version_of(tmp_path / "lobby") is None
