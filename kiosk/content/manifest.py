"""`sets/<name>/clipset.json`: a published set version, the clip metadata plus target paths.

Every clip names a content-addressed target (`clips/<sha256>.<ext>`) that the signed targets
metadata lists with its length and hash, so the manifest itself carries no trust.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field

import yaml

from kiosk.clips.clipset import Clip, _check_file, _check_name
from kiosk.errors import ConfigError
from kiosk.schema import Builder, limits
from kiosk.yamlfile import YamlDoc, parse_yaml

FORMAT = 1
_TARGET = re.compile(r"clips/([0-9a-f]{64})\.([a-z0-9]{1,8})")


def _check_target(path: str) -> str | None:
    return None if _TARGET.fullmatch(path) else f'expected "clips/<sha256>.<ext>", got "{path}"'


ASSIGNMENTS = "assignments.json"  # the signed target: booth group -> set


def set_target(name: str) -> str:
    """The target path of a set's manifest."""
    return f"sets/{name}/clipset.json"


@dataclass(frozen=True)
class ManifestClip:
    file: str = field(metadata=limits(check=_check_file))
    target: str = field(metadata=limits(check=_check_target))
    title: str
    speaker: str
    weight: float = field(default=1.0, metadata=limits(0.01, 100))
    not_before: dt.date | None = None
    expires: dt.date | None = None
    dayparts: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        m = _TARGET.fullmatch(self.target)
        assert m is not None  # validated on construction through the Builder
        return m.group(1)

    @property
    def ext(self) -> str:
        return self.target.rsplit(".", 1)[1]

    def clip(self) -> Clip:
        return Clip(
            self.file,
            self.title,
            self.speaker,
            self.weight,
            self.not_before,
            self.expires,
            self.dayparts,
        )


@dataclass(frozen=True)
class SetManifest:
    name: str = field(metadata=limits(check=_check_name))
    version: int = field(metadata=limits(1, 2**53))
    format: int = field(default=FORMAT, metadata=limits(FORMAT, FORMAT))
    published: str = ""
    clips: tuple[ManifestClip, ...] = ()

    def to_json(self) -> bytes:
        data = asdict(self)
        return json.dumps(data, separators=(",", ":"), sort_keys=True, default=str).encode()

    def clipset_yaml(self) -> str:
        """The core's clipset.yaml for the staged folder (files renamed to `file`)."""
        clips = []
        for c in self.clips:
            entry: dict[str, object] = {"file": c.file, "title": c.title, "speaker": c.speaker}
            if c.weight != 1.0:
                entry["weight"] = c.weight
            for key in ("not_before", "expires"):
                value = getattr(c, key)
                if value is not None:
                    entry[key] = value.isoformat()
            if c.dayparts:
                entry["dayparts"] = list(c.dayparts)
            clips.append(entry)
        header = f"# {self.name} version {self.version}, published {self.published}\n"
        return header + yaml.safe_dump({"name": self.name, "clips": clips}, sort_keys=False)


def parse_manifest(data: bytes, file: str) -> SetManifest:
    """Validate a manifest; raises ConfigError naming file, line and key.

    The JSON parser does the work; only a bad manifest is parsed again (as YAML) to find the
    lines for its error messages.
    """
    try:
        text = data.decode("utf-8")
        doc = YamlDoc(file, json.loads(text), {})
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError([f"{file}: not JSON: {e}"]) from e
    try:
        return _build(doc)
    except ConfigError:
        return _build(parse_yaml(text, file))


def _build(doc: YamlDoc) -> SetManifest:
    builder = Builder(doc)
    manifest = builder.build(SetManifest, doc.data)
    if manifest is not None:
        files = [c.file for c in manifest.clips]
        for i, name in enumerate(files):
            if files.index(name) != i:
                builder.fail(("clips", i, "file"), f'"{name}" is listed twice')
    if builder.problems or manifest is None:
        raise ConfigError(builder.problems or [f"{doc.file}: invalid manifest"])
    return manifest
