"""docs/wiring.svg, checked as a picture a person wires a booth from.

Geometry, from the SVG alone: no two wires of different nets cross, touch or run closer than
a clearance (5 V keeps a wider one), no wire passes through a text label (boxes estimated
from font size and string length) or over a pin it does not connect to, and every wire that
ends on a header pin ends on a pin of its kind (5 V only on 5V pins, never on a GPIO). The
header's labels match the Raspberry Pi pinout and the code's defaults. Then headless Chromium
renders the file into test-artifacts/wiring.png, which must show the drawing.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.config import DialConfig, HookConfig

ROOT = Path(__file__).resolve().parents[2]
SVG = ROOT / "docs" / "wiring.svg"
ARTIFACTS = ROOT / "test-artifacts"
NS = "{http://www.w3.org/2000/svg}"

CHAR_EM = 0.6  # the average glyph width of DejaVu Sans, in em
CLEARANCE = 8.0  # wires of different nets keep at least this far apart
POWER_CLEARANCE = 16.0  # and a 5 V wire this far from any other net

# Raspberry Pi 40-pin header facts, written out here independently of the generator.
PINOUT_FACTS = {
    1: "3V3", 2: "5V", 4: "5V", 6: "GND", 9: "GND", 11: "GPIO17", 12: "GPIO18", 14: "GND",
    16: "GPIO23", 17: "3V3", 18: "GPIO24", 20: "GND", 25: "GND", 30: "GND", 34: "GND",
    35: "GPIO19", 39: "GND", 40: "GPIO21",
}  # fmt: skip

Point = tuple[float, float]
Segment = tuple[Point, Point]


@dataclass(frozen=True)
class Wire:
    net: str
    kind: str
    points: list[Point]

    def segments(self) -> list[Segment]:
        return list(itertools.pairwise(self.points))


@dataclass(frozen=True)
class Label:
    text: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class Pad:
    pin: int
    x: float
    y: float
    r: float


def path_points(d: str) -> list[list[Point]]:
    """The polylines of a path made of M, L, H and V commands (absolute or relative)."""
    tokens = re.findall(r"[MLHVZmlhvz]|-?\d*\.?\d+(?:e-?\d+)?", d)
    if re.search(r"[ACQSTacqst]", d):
        raise AssertionError(f"a curved wire cannot be checked: {d!r}")
    lines: list[list[Point]] = []
    x = y = 0.0
    command = "M"
    i = 0
    while i < len(tokens):
        if tokens[i].isalpha():
            command = tokens[i]
            i += 1
            if command in "Zz":
                if lines and lines[-1]:
                    lines[-1].append(lines[-1][0])
                continue
        rel = command.islower()
        c = command.upper()
        if c in "ML":
            dx, dy = float(tokens[i]), float(tokens[i + 1])
            i += 2
            x, y = (x + dx, y + dy) if rel else (dx, dy)
            if c == "M":
                lines.append([])
                command = "l" if rel else "L"
        elif c == "H":
            x = x + float(tokens[i]) if rel else float(tokens[i])
            i += 1
        else:
            y = y + float(tokens[i]) if rel else float(tokens[i])
            i += 1
        lines[-1].append((x, y))
    return lines


def parse(svg_text: str) -> tuple[list[Wire], list[Label], list[Pad]]:
    """Every path, polyline and line is a wire; its net is data-net, else its own."""
    root = ET.fromstring(svg_text)
    wires: list[Wire] = []
    labels: list[Label] = []
    pads: list[Pad] = []

    def walk(element: ET.Element, size: float, anchor: str) -> None:
        size = float(element.get("font-size", size))
        anchor = element.get("text-anchor", anchor)
        tag = element.tag.removeprefix(NS)
        index = len(wires)
        net, kind = element.get("data-net", f"#{index}"), element.get("data-kind", "?")
        if tag == "path":
            wires.extend(Wire(net, kind, pts) for pts in path_points(element.get("d", "")))
        elif tag == "line":
            pts = [(float(element.get(f"x{n}", 0)), float(element.get(f"y{n}", 0))) for n in "12"]
            wires.append(Wire(net, kind, pts))
        elif tag == "polyline":
            numbers = [float(v) for v in re.findall(r"-?\d*\.?\d+", element.get("points", ""))]
            wires.append(Wire(net, kind, list(zip(numbers[::2], numbers[1::2], strict=True))))
        elif tag == "text":
            text = "".join(element.itertext())
            x, y = float(element.get("x", 0)), float(element.get("y", 0))
            width = len(text) * size * CHAR_EM
            x0 = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
            labels.append(Label(text, (x0, y - 0.8 * size, x0 + width, y + 0.2 * size)))
        elif element.get("data-pin") is not None and tag in ("circle", "rect"):
            if tag == "circle":
                cx, cy, r = (float(element.get(a, 0)) for a in ("cx", "cy", "r"))
            else:
                r = float(element.get("width", 0)) / 2
                cx, cy = float(element.get("x", 0)) + r, float(element.get("y", 0)) + r
            pads.append(Pad(int(element.get("data-pin", 0)), cx, cy, r))
        for child in element:
            walk(child, size, anchor)

    walk(root, 16.0, "start")
    return wires, labels, pads


def point_segment(p: Point, s: Segment) -> float:
    (x0, y0), (x1, y1) = s
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - x0) * dx + (p[1] - y0) * dy) / length2))
    return math.hypot(p[0] - (x0 + t * dx), p[1] - (y0 + t * dy))


def cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def segment_distance(s: Segment, t: Segment) -> float:
    """0 when the segments cross or touch, else the shortest distance between them."""
    d1, d2 = cross(t[0], t[1], s[0]), cross(t[0], t[1], s[1])
    d3, d4 = cross(s[0], s[1], t[0]), cross(s[0], s[1], t[1])
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return 0.0
    return min(point_segment(s[0], t), point_segment(s[1], t), point_segment(t[0], s),
               point_segment(t[1], s))  # fmt: skip


def segment_hits_box(s: Segment, box: tuple[float, float, float, float]) -> bool:
    """Does the segment pass through the box's inside (sampled finely)?"""
    x0, y0, x1, y1 = box
    (ax, ay), (bx, by) = s
    steps = max(1, int(math.hypot(bx - ax, by - ay)))
    for k in range(steps + 1):
        x, y = ax + (bx - ax) * k / steps, ay + (by - ay) * k / steps
        if x0 < x < x1 and y0 < y < y1:
            return True
    return False


def layout_problems(svg_text: str) -> list[str]:
    wires, labels, pads = parse(svg_text)
    found: list[str] = []
    for i, a in enumerate(wires):
        for b in wires[i + 1 :]:
            if a.net == b.net:
                continue
            need = POWER_CLEARANCE if "power" in (a.kind, b.kind) else CLEARANCE
            gap = min(segment_distance(s, t) for s in a.segments() for t in b.segments())
            if gap < need:
                found.append(f"wires {a.net} and {b.net} are {gap:.1f} apart (need {need:g})")
        for label in labels:
            if any(segment_hits_box(s, label.box) for s in a.segments()):
                found.append(f"wire {a.net} crosses the label {label.text!r}")
        ends = (a.points[0], a.points[-1])
        for pad in pads:
            box = (pad.x - pad.r, pad.y - pad.r, pad.x + pad.r, pad.y + pad.r)
            ends_here = any(math.hypot(x - pad.x, y - pad.y) < 0.5 for x, y in ends)
            if not ends_here and any(segment_hits_box(s, box) for s in a.segments()):
                found.append(f"wire {a.net} runs over pin {pad.pin}")
    return found


def pin_names(svg_text: str) -> dict[int, str]:
    """The header's label for each pin: the data-pin text that is not the pin's number."""
    names: dict[int, str] = {}
    for element in ET.fromstring(svg_text).iter(f"{NS}text"):
        pin, text = element.get("data-pin"), "".join(element.itertext())
        if pin is not None and text != pin:
            names[int(pin)] = text
    return names


def test_the_checker_sees_a_crossing_a_label_and_5v_beside_a_signal() -> None:
    bad = (
        '<svg xmlns="http://www.w3.org/2000/svg" font-size="11">'
        '<path data-net="5V" data-kind="power" d="M0,100 L200,100"/>'
        '<path data-net="hook" data-kind="signal" d="M100,0 V200"/>'
        '<path data-net="led" data-kind="signal" d="M0,110 H50"/>'
        '<text x="150" y="104">GPIO17</text>'
        "</svg>"
    )
    found = layout_problems(bad)
    assert "wires 5V and hook are 0.0 apart (need 16)" in found
    assert "wires 5V and led are 10.0 apart (need 16)" in found
    assert "wire 5V crosses the label 'GPIO17'" in found


def test_no_wire_crosses_another_net_a_label_or_a_pin() -> None:
    assert layout_problems(SVG.read_text(encoding="utf-8")) == []


def test_header_labels_match_the_pinout_and_the_code() -> None:
    svg_text = SVG.read_text(encoding="utf-8")
    names = pin_names(svg_text)
    assert sorted(names) == list(range(1, 41))
    assert {pin: names[pin] for pin in PINOUT_FACTS} == PINOUT_FACTS
    install_sh = (ROOT / "scripts" / "install.sh").read_text(encoding="utf-8")
    assert re.search(r"\bpin=17\b", install_sh) and HookConfig().pin == 17
    # each wire's net starts at the pin the docs name
    wires_at = {
        (element.get("data-net"), int(element.get("data-pin", 0)))
        for element in ET.fromstring(svg_text).iter(f"{NS}path")
        if element.get("data-pin")
    }
    assert {
        ("hook", 11), ("gnd-hook", 9), ("led", 18), ("gnd-led", 20), ("bell", 16),
        ("gnd-bell", 30), ("i2s-bclk", 12), ("i2s-lrc", 35), ("i2s-din", 40), ("gnd-amp", 39),
        ("5V", 2), ("5V", 4), ("dial-r1", 13), ("dial-r2", 15), ("dial-r3", 19),
        ("dial-r4", 21), ("dial-c1", 23), ("gnd-dial", 25), ("dial-c2", 29), ("dial-c3", 31),
    } == wires_at  # fmt: skip
    assert names[11] == f"GPIO{HookConfig().pin}"
    dial = DialConfig()  # the strip's terminals are the dial's defaults
    assert (names[13], names[15]) == (f"GPIO{dial.pulse_pin}", f"GPIO{dial.off_normal_pin}")
    assert [names[p] for p in (13, 15, 19, 21)] == [f"GPIO{g}" for g in dial.rows]
    assert [names[p] for p in (23, 29, 31)] == [f"GPIO{g}" for g in dial.columns]


def test_wires_end_only_on_pins_of_their_kind() -> None:
    svg_text = SVG.read_text(encoding="utf-8")
    wires, _, pads = parse(svg_text)
    names = pin_names(svg_text)
    allowed = {"power": ("5V",), "ground": ("GND",), "signal": ("GPIO",)}
    touched = 0
    for wire in wires:
        for x, y in (wire.points[0], wire.points[-1]):
            for pad in pads:
                if math.hypot(x - pad.x, y - pad.y) <= pad.r:
                    touched += 1
                    assert wire.kind in allowed, f"a {wire.kind} wire ends on pin {pad.pin}"
                    assert names[pad.pin].startswith(allowed[wire.kind]), (
                        f"{wire.net} ({wire.kind}) ends on pin {pad.pin} ({names[pad.pin]})"
                    )
    assert touched == 20


def test_the_drawing_is_what_the_script_makes() -> None:
    script = ROOT / "scripts" / "make_wiring.py"
    run = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr


def test_chromium_renders_the_drawing(tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("install Debian's chromium (scripts/dev.sh does)")
    ARTIFACTS.mkdir(exist_ok=True)
    png = ARTIFACTS / "wiring.png"
    png.unlink(missing_ok=True)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}", "--window-size=1200,930", SVG.as_uri(),
        ],
        capture_output=True, timeout=120, env=env, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert png.exists(), "chromium wrote no screenshot"
    print(f"screenshot: {png}")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    pygame = pytest.importorskip("pygame")
    import numpy as np

    image = pygame.image.load(str(png))
    assert image.get_size() == (1200, 930)
    rgb = np.frombuffer(pygame.image.tobytes(image, "RGB"), dtype=np.uint8).reshape(930, 1200, 3)
    not_white = np.any(rgb < 245, axis=2).mean()
    assert 0.15 < not_white < 0.8, f"{not_white:.0%} of the screenshot is drawn"
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 100
    red_5v = np.all(rgb == (0xD5, 0x00, 0x00), axis=2).sum()
    assert red_5v > 2000, "the 5 V wire is not drawn"
