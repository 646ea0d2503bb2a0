import itertools
import random
from collections import Counter
from pathlib import Path

from kiosk.clips.rotation import Rotation, RotationStore

FILES = ["a", "b", "c", "d", "e"]


def draw(
    rot: Rotation, n: int, weights: dict[str, float] | None = None, play: bool = True
) -> list[str]:
    """Draw `n` clips; with `play`, each also starts playing (as the booth reports)."""
    w = weights or {}
    out = []
    for _ in range(n):
        pick = rot.next(FILES, lambda f: w.get(f, 1.0), lambda f: True) or ""
        if play:
            rot.played(pick)
        out.append(pick)
    return out


def test_every_clip_before_any_repeat_and_never_twice_running() -> None:
    for seed in range(50):
        played = draw(Rotation(rng=random.Random(seed)), 50)
        for start in range(0, 50, 5):
            assert sorted(played[start : start + 5]) == FILES
        assert all(x != y for x, y in itertools.pairwise(played))


def test_weights_change_the_share_but_everyone_plays_each_cycle() -> None:
    played = draw(Rotation(rng=random.Random(1)), 6000, {"a": 3.0, "b": 1.5})
    counts = Counter(played)
    assert set(counts) == set(FILES)
    # Extras that could only play back to back are dropped, so weight 3 lands near 2.2 here.
    assert 2.0 < counts["a"] / counts["c"] < 3.1
    assert 1.3 < counts["b"] / counts["c"] < 1.7
    assert all(x != y for x, y in itertools.pairwise(played))


def test_weight_two_plays_twice_per_cycle_when_it_can_be_separated() -> None:
    played = draw(Rotation(rng=random.Random(7)), 6000, {"a": 2.0, "b": 2.0})
    counts = Counter(played)
    assert 1.9 < counts["a"] / counts["c"] <= 2.0
    assert all(x != y for x, y in itertools.pairwise(played))


def test_ineligible_clips_are_skipped() -> None:
    rot = Rotation(rng=random.Random(2))
    picks = [rot.next(FILES, lambda f: 1.0, lambda f: f in ("b", "d")) for _ in range(10)]
    assert set(picks) == {"b", "d"}
    assert rot.next(FILES, lambda f: 1.0, lambda f: False) is None


def test_a_single_clip_repeats_rather_than_silence() -> None:
    rot = Rotation(rng=random.Random(3))
    assert [rot.next(["x"], lambda f: 1.0, lambda f: True) for _ in range(3)] == ["x"] * 3


def test_place_is_remembered_across_restarts(tmp_path: Path) -> None:
    store = RotationStore(tmp_path / "rotation" / "set.json")
    rot = Rotation(rng=random.Random(4))
    first = draw(rot, 2)
    store.save(rot)
    resumed = store.load(random.Random(99))
    rest = draw(resumed, 3)
    assert sorted(first + rest) == FILES


def test_corrupt_state_starts_a_fresh_cycle(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b"\x00garbage")
    rot = RotationStore(path).load(random.Random(5))
    assert sorted(draw(rot, 5)) == FILES


def test_removed_clips_leave_the_queue() -> None:
    rot = Rotation(rng=random.Random(6))
    draw(rot, 1)
    assert all(rot.next(["a", "b"], lambda f: 1.0, lambda f: True) in ("a", "b") for _ in range(6))


def test_a_drawn_but_unplayed_clip_comes_first_after_a_restart(tmp_path: Path) -> None:
    store = RotationStore(tmp_path / "r.json")
    rot = Rotation(rng=random.Random(8))
    first = draw(rot, 1)[0]
    ahead = draw(rot, 1, play=False)[0]  # decoded ahead of the next lift, never heard
    store.save(rot)
    resumed = store.load(random.Random(9))
    assert resumed.last == first
    assert draw(resumed, 1) == [ahead]
