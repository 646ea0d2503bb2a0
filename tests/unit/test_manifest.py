import pytest

from kiosk.content.manifest import ManifestClip, SetManifest, parse_manifest
from kiosk.errors import ConfigError

SHA = "ab" * 32


def test_round_trip_and_the_generated_clipset_yaml() -> None:
    clip = ManifestClip(file="a.opus", target=f"clips/{SHA}.opus", title="T", speaker="S")
    manifest = SetManifest(name="lobby", version=3, clips=(clip,))
    again = parse_manifest(manifest.to_json(), "sets/lobby/clipset.json")
    assert again == manifest and again.clips[0].sha256 == SHA and again.clips[0].ext == "opus"
    assert "name: lobby" in manifest.clipset_yaml() and "file: a.opus" in manifest.clipset_yaml()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "x.json: not JSON"),
        (
            b'{"name": "lobby",\n "version": 1,\n "clips": [{"file": "a.opus",\n'
            b' "target": "clips/../../etc/passwd", "title": "t", "speaker": "s"}]}',
            'x.json:4: clips[0].target: expected "clips/<sha256>.<ext>"',
        ),
        (b'{"name": "lobby", "version": 0}', "x.json:1: version: expected an integer"),
        (
            b'{"name": "lobby", "version": 1, "clips": [{"file": "a.opus", "target": "clips/'
            + SHA.encode()
            + b'.opus\\n", "title": "t", "speaker": "s"}]}',
            "clips[0].target",
        ),
    ],
)
def test_bad_manifests_name_file_line_and_key(body: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_manifest(body, "x.json")
    assert any(message in p for p in e.value.problems), e.value.problems
