"""Which wheels of a release this interpreter installs: one per distribution, the best fit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from packaging.tags import Tag, sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from kiosk.release.manifest import Wheel


class NoWheel(ValueError):
    """A distribution of the release has no wheel for this interpreter."""


def fits_python(release_python: str, running: tuple[int, int]) -> bool:
    """A release's `python` ("3.11"; "3" when all its wheels are pure) fits this interpreter."""
    major, minor = running
    return release_python in (f"{major}.{minor}", str(major))


def choose(wheels: Sequence[Wheel], tags: Iterable[Tag] | None = None) -> list[Wheel]:
    """The most specific compatible wheel of each distribution (packaging's tag order).

    Raises NoWheel naming the first distribution none of whose wheels fits.
    """
    rank = {tag: i for i, tag in enumerate(tags if tags is not None else sys_tags())}
    best: dict[str, tuple[int, Wheel]] = {}
    names: dict[str, str] = {}
    for wheel in wheels:
        name, _, _, wheel_tags = parse_wheel_filename(wheel.file)
        key = str(canonicalize_name(name))
        names[str(key)] = str(name)
        score = min((rank[t] for t in wheel_tags if t in rank), default=None)
        if score is not None and (key not in best or score < best[key][0]):
            best[key] = (score, wheel)
    for key in names:
        if key not in best:
            raise NoWheel(f"{names[key]}: no wheel in the release fits this booth's Python")
    return [best[key][1] for key in sorted(best)]
