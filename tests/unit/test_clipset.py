import datetime as dt
from pathlib import Path

import pytest

from kiosk.clips.clipset import load_clipset
from kiosk.clips.schedule import is_eligible
from kiosk.errors import ClipSetError

ROOT = Path(__file__).resolve().parents[2]


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "clipset.yaml").write_text(text)
    return folder


def test_bundled_sample_set_is_valid() -> None:
    clipset = load_clipset(ROOT / "kiosk" / "data" / "sample-set")
    assert clipset.name == "sample" and len(clipset.clips) >= 5
    assert all(clipset.path_of(c).is_file() for c in clipset.clips)


def test_full_clip_entry(tmp_path: Path) -> None:
    clipset = load_clipset(
        write(
            tmp_path,
            "name: lobby-emea\nclips:\n  - file: maria.ogg\n    title: I almost cancelled\n"
            '    speaker: "Maria"\n    weight: 2\n    not_before: 2026-12-01\n'
            '    expires: 2027-06-30\n    dayparts: ["08:00-18:00"]\n',
        )
    )
    clip = clipset.clips[0]
    assert clip.weight == 2.0 and clip.not_before == dt.date(2026, 12, 1)
    assert clip.expires == dt.date(2027, 6, 30) and clip.dayparts == ("08:00-18:00",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("clips: []\n", ":1: name: required key is missing"),
        ("name: x\nclips:\n  - file: a.ogg\n    title: t\n", ":3: clips[0].speaker: required"),
        (
            "name: x\nclips:\n  - file: a.txt\n    title: t\n    speaker: s\n",
            ':3: clips[0].file: unsupported audio type "a.txt"',
        ),
        (
            "name: x\nclips:\n  - file: ../a.ogg\n    title: t\n    speaker: s\n",
            ":3: clips[0].file: expected a file name inside the set folder",
        ),
        (
            "name: x\nclips:\n  - {file: a.ogg, title: t, speaker: s, expires: soon}\n",
            ':3: clips[0].expires: expected a date (YYYY-MM-DD), got "soon"',
        ),
        (
            "name: x\nclips:\n  - {file: a.ogg, title: t, speaker: s, dayparts: [8-18]}\n",
            ':3: clips[0].dayparts: expected "HH:MM-HH:MM" ranges',
        ),
        (
            "name: x\nclips:\n  - {file: a.ogg, title: t, speaker: s}\n"
            "  - {file: a.ogg, title: u, speaker: s}\n",
            ':4: clips[1].file: "a.ogg" is listed twice',
        ),
        (
            "name: x\nclips:\n  - {file: a.ogg, title: t, speaker: s, weight: 0}\n",
            ":3: clips[0].weight: expected a number 0.01-100, got 0",
        ),
        ("name: x\nclips:\n  - {file: a.ogg, title: t, speaker: s, colour: red}\n", "colour"),
    ],
)
def test_bad_manifest_names_file_line_and_key(tmp_path: Path, body: str, message: str) -> None:
    folder = write(tmp_path / "set", body)
    with pytest.raises(ClipSetError) as e:
        load_clipset(folder)
    assert any(message in p for p in e.value.problems), e.value.problems
    assert all(p.startswith(str(folder / "clipset.yaml")) for p in e.value.problems)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ClipSetError, match=r"missing clipset\.yaml"):
        load_clipset(tmp_path)


def _clip(**kw: object) -> object:
    from kiosk.clips.clipset import Clip

    return Clip(file="a.ogg", title="t", speaker="s", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "when", "expected"),
    [
        ({}, dt.datetime(2026, 1, 1, 3, 0), True),
        ({"expires": dt.date(2027, 6, 30)}, dt.datetime(2027, 6, 30, 23, 59), True),
        ({"expires": dt.date(2027, 6, 30)}, dt.datetime(2027, 7, 1, 0, 0), False),
        ({"not_before": dt.date(2026, 12, 1)}, dt.datetime(2026, 11, 30, 12), False),
        ({"not_before": dt.date(2026, 12, 1)}, dt.datetime(2026, 12, 1, 0, 0), True),
        ({"dayparts": ("08:00-18:00",)}, dt.datetime(2026, 1, 1, 8, 0), True),
        ({"dayparts": ("08:00-18:00",)}, dt.datetime(2026, 1, 1, 18, 0), False),
        ({"dayparts": ("22:00-02:00",)}, dt.datetime(2026, 1, 1, 1, 30), True),
        ({"dayparts": ("22:00-02:00",)}, dt.datetime(2026, 1, 1, 12, 0), False),
        ({"dayparts": ("06:00-07:00", "12:00-13:00")}, dt.datetime(2026, 1, 1, 12, 30), True),
    ],
)
def test_eligibility(kw: dict[str, object], when: dt.datetime, expected: bool) -> None:
    assert is_eligible(_clip(**kw), when) is expected  # type: ignore[arg-type]
