#!/usr/bin/env python3
"""Generate docs/wiring.svg, the booth's wiring picture, deterministically.

The Raspberry Pi's 40-pin header is drawn upright as a pinout table: odd pins on the left,
even pins on the right, every pin's number and name between the two rows. Each module's
wires leave their pins outwards and run orthogonally in lanes of their own, placed so that
no wire crosses another or a label:

- the hook switch (GPIO17, pin 11, and GND, pin 9) sits left of the header;
- the status LED (GPIO24, pin 18, and GND, pin 20) and the bell's relay driver (GPIO23,
  pin 16, and GND, pin 30) sit right of it, the LED nested inside the bell's wires;
- the I2S amplifier sits below-left; its 5 V wire (pin 2) is the outermost lane, over the top
  of the header and down the far left, away from every signal; BCLK (pin 12) is the
  outermost lane on the right, outside the LED and the bell;
- the bell relay's 5 V (pin 4) is drawn as two labelled red flags, not as a wire: a wire from
  pin 4 to the relay would have to cross the amplifier's wires (their pins interleave);
- the dial's terminal strip sits left of the header, below the hook switch: seven GPIO pins
  and a GND on the inner row (pins 13-31) run straight to it. A booth has one dial: a rotary
  dial takes the first two terminals and GND, a 3x4 keypad the seven GPIO terminals.

Before writing, the script checks its own geometry (wires of different nets keep a
clearance, power wires a wider one; no wire crosses a text label) and refuses to write a
drawing that fails. tests/integration/test_wiring_svg.py checks the written file again.

Usage: python scripts/make_wiring.py [--out docs/wiring.svg] [--check]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "wiring.svg"

# The Raspberry Pi 40-pin header (Pi 2/3/4/5, Zero): physical pin -> function (BCM names).
PINOUT: dict[int, str] = {
    1: "3V3", 2: "5V", 3: "GPIO2", 4: "5V", 5: "GPIO3", 6: "GND",
    7: "GPIO4", 8: "GPIO14", 9: "GND", 10: "GPIO15", 11: "GPIO17", 12: "GPIO18",
    13: "GPIO27", 14: "GND", 15: "GPIO22", 16: "GPIO23", 17: "3V3", 18: "GPIO24",
    19: "GPIO10", 20: "GND", 21: "GPIO9", 22: "GPIO25", 23: "GPIO11", 24: "GPIO8",
    25: "GND", 26: "GPIO7", 27: "GPIO0", 28: "GPIO1", 29: "GPIO5", 30: "GND",
    31: "GPIO6", 32: "GPIO12", 33: "GPIO13", 34: "GND", 35: "GPIO19", 36: "GPIO16",
    37: "GPIO26", 38: "GPIO20", 39: "GND", 40: "GPIO21",
}  # fmt: skip

# BCM GPIO numbers, as kiosk.yaml and scripts/install.sh take them.
HOOK_GPIO = 17  # hook.pin, install.sh --pin (default 17)
LED_GPIO = 24  # status_led.pin, install.sh --led-pin 24 (the docs' example; no default)
BELL_GPIO = 23  # bell.pin, install.sh --bell-pin 23 (the docs' example; no default)
I2S_BCLK_GPIO, I2S_LRC_GPIO, I2S_DIN_GPIO = 18, 19, 21  # fixed by dtoverlay=max98357a
# The dial's defaults (kiosk.config.DialConfig): rotary pulse and off-normal, keypad rows and
# columns; the rotary's common goes to GND.
DIAL_PULSE_GPIO, DIAL_OFF_NORMAL_GPIO = 27, 22
DIAL_ROWS_GPIO = (27, 22, 10, 9)
DIAL_COLUMNS_GPIO = (11, 5, 6)
DIAL_GND = 25


def header_pin(gpio: int) -> int:
    """The physical header pin of a BCM GPIO number."""
    return next(pin for pin, name in PINOUT.items() if name == f"GPIO{gpio}")


HOOK_PIN, HOOK_GND = header_pin(HOOK_GPIO), 9
LED_PIN, LED_GND = header_pin(LED_GPIO), 20
BELL_PIN, BELL_GND, BELL_5V = header_pin(BELL_GPIO), 30, 4
BCLK_PIN, LRC_PIN, DIN_PIN = (header_pin(g) for g in (I2S_BCLK_GPIO, I2S_LRC_GPIO, I2S_DIN_GPIO))
AMP_5V, AMP_GND = 2, 39

# Colours: red is only ever 5 V, orange only 3V3, black only ground.
RED_5V, ORANGE_3V3, BLACK_GND = "#d50000", "#ef6c00", "#000000"
HOOK_C, AMP_C, LED_C, BELL_C = "#1565c0", "#7b1fa2", "#00897b", "#6d4c41"
DIAL_C = "#ad1457"
AUDIO_C, USB_C = "#455a64", "#78909c"

W, H = 1200, 930
FONT = "DejaVu Sans, Arial, sans-serif"
CHAR_EM = 0.62  # a generous average glyph width of DejaVu Sans, in em (labels, checks)
PROSE_EM = 0.56  # the average width of running text, for wrapping the notes

# The header, as a pinout table: pins on the outside, labels between the two rows.
PITCH = 20.0
Y0 = 122.0  # row 0 (pins 1 and 2)
XL, XR = 290.0, 470.0  # the odd (inner) row and the even (board-edge) row
CX = (XL + XR) / 2
HEADER_TOP, HEADER_BOTTOM = Y0 - 16, Y0 + 19 * PITCH + 16
BOARD = (XL - 34, 90.0, XR + 34, 664.0)  # x0, y0, x1, y1
LANE = 20.0  # the spacing of parallel wires of different nets
POWER_CLEARANCE = 20.0  # 5 V keeps at least this far from every other net
CLEARANCE = 12.0  # any two nets keep at least this far apart
NOTES_X, NOTES_W = 700.0, 490.0
# Lanes right of the header, from the inside out: the LED, the bell relay, then I2S BCLK.
BELL_X0, BELL_X1 = XR + 40, XR + 170  # the bell relay's box
BELL_LANE = BELL_X1 + LANE
BCLK_LANE = BELL_LANE + LANE
# Lanes left of the header, from the outside in: 5 V (2b), then the hook switch's wires.
POWER_LANE = 2 * LANE

Point = tuple[float, float]


def pin_xy(pin: int) -> Point:
    row = (pin - 1) // 2
    return (XL if pin % 2 else XR), Y0 + row * PITCH


@dataclass(frozen=True)
class Wire:
    net: str
    kind: str  # power, ground, signal, audio or usb
    color: str
    width: float
    points: tuple[Point, ...]
    pin: int | None = None  # the header pin the wire starts at


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    size: float = 11
    anchor: str = "start"  # start, middle or end
    fill: str = "#000"
    bold: bool = False
    pin: int | None = None

    def box(self) -> tuple[float, float, float, float]:
        """An approximate bounding box (x0, y0, x1, y1) from font size and length."""
        width = len(self.text) * self.size * CHAR_EM
        x0 = {"start": self.x, "middle": self.x - width / 2, "end": self.x - width}[self.anchor]
        return x0, self.y - 0.8 * self.size, x0 + width, self.y + 0.25 * self.size


class Drawing:
    def __init__(self) -> None:
        self.back: list[str] = []  # boards, boxes and symbols, under the wires
        self.wires: list[Wire] = []
        self.front: list[str] = []  # pads and terminals, over the wires
        self.labels: list[Label] = []

    def wire(
        self, net: str, kind: str, color: str, points: Sequence[Point], pin: int | None = None
    ) -> None:
        width = {"power": 5.0, "usb": 7.0}.get(kind, 3.0)
        self.wires.append(Wire(net, kind, color, width, tuple(points), pin))

    def from_pin(self, pin: int, net: str, kind: str, color: str, *moves: Point) -> None:
        """A wire from a header pin through `moves` (absolute points)."""
        self.wire(net, kind, color, [pin_xy(pin), *moves], pin)

    def label(
        self,
        x: float,
        y: float,
        text: str,
        size: float = 11,
        anchor: str = "start",
        fill: str = "#000",
        bold: bool = False,
        pin: int | None = None,
    ) -> None:
        self.labels.append(Label(x, y, text, size, anchor, fill, bold, pin))

    def terminal(self, x: float, y: float, color: str) -> None:
        self.front.append(f'<circle cx="{x:g}" cy="{y:g}" r="3.5" fill="{color}"/>')


def svg_label(lab: Label) -> str:
    attrs = [f'x="{lab.x:g}"', f'y="{lab.y:g}"', f'font-size="{lab.size:g}"']
    if lab.anchor != "start":
        attrs.append(f'text-anchor="{lab.anchor}"')
    if lab.fill != "#000":
        attrs.append(f'fill="{lab.fill}"')
    if lab.bold:
        attrs.append('font-weight="bold"')
    if lab.pin is not None:
        attrs.append(f'data-pin="{lab.pin}"')
    return f"<text {' '.join(attrs)}>{escape(lab.text)}</text>"


def svg_wire(w: Wire) -> str:
    d = " ".join(f"{'M' if i == 0 else 'L'}{x:g},{y:g}" for i, (x, y) in enumerate(w.points))
    pin = f' data-pin="{w.pin}"' if w.pin is not None else ""
    return (
        f'<path class="wire" data-net="{w.net}" data-kind="{w.kind}"{pin} d="{d}" fill="none" '
        f'stroke="{w.color}" stroke-width="{w.width:g}" stroke-linejoin="round" '
        f'stroke-linecap="round"/>'
    )


# --- the picture --------------------------------------------------------------------------


def draw_header(dr: Drawing) -> None:
    bx0, by0, bx1, by1 = BOARD
    dr.back.append(
        f'<rect x="{bx0:g}" y="{by0:g}" width="{bx1 - bx0:g}" height="{by1 - by0:g}" rx="14" '
        'fill="#2e7d32" stroke="#1b5e20" stroke-width="2"/>'
    )
    dr.back.append(
        f'<rect x="{XL - 16:g}" y="{HEADER_TOP:g}" width="{XR - XL + 32:g}" '
        f'height="{HEADER_BOTTOM - HEADER_TOP:g}" rx="6" fill="#212121"/>'
    )
    dr.back.append(  # the gap between the rows (a rect: only wires are lines and paths)
        f'<rect x="{CX - 0.5:g}" y="{HEADER_TOP + 6:g}" width="1" '
        f'height="{HEADER_BOTTOM - HEADER_TOP - 12:g}" fill="#555"/>'
    )
    dr.back.append(
        f'<rect x="{CX - 62:g}" y="{by1 - 38:g}" width="124" height="34" rx="3" fill="#b0bec5" '
        'stroke="#37474f"/>'
    )
    dr.label(CX, by1 - 16, "USB ports", 11, "middle")
    dr.label(CX, 582, "Raspberry Pi", 13, "middle", "#fff", True)

    used = {
        HOOK_PIN: HOOK_C, HOOK_GND: BLACK_GND, LED_PIN: LED_C, LED_GND: BLACK_GND,
        BELL_PIN: BELL_C, BELL_GND: BLACK_GND, BCLK_PIN: AMP_C, LRC_PIN: AMP_C,
        DIN_PIN: AMP_C, AMP_GND: BLACK_GND, DIAL_GND: BLACK_GND,
        **{header_pin(g): DIAL_C for g in (*DIAL_ROWS_GPIO, *DIAL_COLUMNS_GPIO)},
    }  # fmt: skip
    for pin, name in PINOUT.items():
        x, y = pin_xy(pin)
        left = pin % 2 == 1
        if name == "5V":
            pad, text_fill = RED_5V, "#ff8a80"
        elif name == "3V3":
            pad, text_fill = ORANGE_3V3, "#ffb74d"
        elif pin in used:
            pad, text_fill = used[pin], "#ffffff"
        else:
            pad, text_fill = "#9e9e9e", "#9e9e9e"
        bold = pin in used or name in ("5V", "3V3")
        if pin == 1:  # the square pad
            dr.front.append(
                f'<rect x="{x - 6:g}" y="{y - 6:g}" width="12" height="12" fill="{pad}" '
                f'stroke="#fff" stroke-width="1.5" data-pin="1"/>'
            )
        else:
            dr.front.append(
                f'<circle cx="{x:g}" cy="{y:g}" r="6" fill="{pad}" stroke="#fff" '
                f'stroke-width="1.5" data-pin="{pin}"/>'
            )
        number_fill = "#ffffff" if bold else "#bdbdbd"
        if left:
            dr.label(x + 12, y + 4, name, 11, "start", text_fill, bold, pin)
            dr.label(CX - 7, y + 4, str(pin), 11, "end", number_fill, bold, pin)
        else:
            dr.label(CX + 7, y + 4, str(pin), 11, "start", number_fill, bold, pin)
            dr.label(x - 12, y + 4, name, 11, "end", text_fill, bold, pin)


def draw_hook(dr: Drawing) -> None:
    """1. The hook switch, left of the header: GPIO17 (pin 11) and GND (pin 9)."""
    _, y_sig = pin_xy(HOOK_PIN)
    y_sw = pin_xy(HOOK_GND)[1] - 50  # the switch sits above its two pins
    a, b = 130.0, 210.0  # its terminals
    dr.from_pin(HOOK_GND, "gnd-hook", "ground", BLACK_GND, (b + LANE, pin_xy(HOOK_GND)[1]),
                (b + LANE, y_sw), (b, y_sw))  # fmt: skip
    dr.from_pin(HOOK_PIN, "hook", "signal", HOOK_C, (a - LANE, y_sig), (a - LANE, y_sw), (a, y_sw))
    dr.back.append(
        f'<polygon points="{a:g},{y_sw - 1.5:g} {a:g},{y_sw + 1.5:g} {b - 8:g},{y_sw - 20:g} '
        f'{b - 9:g},{y_sw - 23:g}" fill="#000"/>'
    )
    for x in (a, b):
        dr.front.append(f'<circle cx="{x:g}" cy="{y_sw:g}" r="5" fill="#000"/>')
    dr.label((a + b) / 2, y_sw - 30, "1  hook switch (cradle)", 12, "middle", HOOK_C, True)


def dial_terminals() -> list[tuple[int, str, str]]:
    """(header pin, net, terminal label) of the dial's strip, top to bottom."""
    out: list[tuple[int, str, str]] = []
    for i, gpio in enumerate(DIAL_ROWS_GPIO):
        role = {DIAL_PULSE_GPIO: " · pulse", DIAL_OFF_NORMAL_GPIO: " · off-normal"}.get(gpio, "")
        out.append((header_pin(gpio), f"dial-r{i + 1}", f"R{i + 1}{role}"))
    for i, gpio in enumerate(DIAL_COLUMNS_GPIO):
        out.append((header_pin(gpio), f"dial-c{i + 1}", f"C{i + 1}"))
    out.append((DIAL_GND, "gnd-dial", "GND · common"))
    return sorted(out)


def draw_dial(dr: Drawing) -> None:
    """5. The dial's terminal strip, left of the header below the hook: straight wires."""
    terminals = dial_terminals()
    x0, x1 = 60.0, 205.0
    y0 = pin_xy(terminals[0][0])[1] - 12
    y1 = pin_xy(terminals[-1][0])[1] + 30
    dr.back.append(
        f'<rect x="{x0:g}" y="{y0:g}" width="{x1 - x0:g}" height="{y1 - y0:g}" rx="5" '
        'fill="#fce4ec" stroke="#333"/>'
    )
    for pin, net, text in terminals:
        _, y = pin_xy(pin)
        ground = net.startswith("gnd")
        color = BLACK_GND if ground else DIAL_C
        dr.from_pin(pin, net, "ground" if ground else "signal", color, (x1, y))
        dr.terminal(x1, y, "#333")
        dr.label(x1 - 8, y + 4, text, 10, "end")
    dr.label(x0 + 6, y1 - 10, "5  dial strip", 12, "start", DIAL_C, True)
    for i, text in enumerate(("a rotary dial:", "R1, R2, GND", "or a keypad:", "R1-R4, C1-C3")):
        dr.label(x0 + 6, y0 + 86 + 14 * i, text, 9, "start", "#555")


def draw_led(dr: Drawing) -> None:
    """3. The status LED, right of the header, nested inside the bell's wires."""
    (_, y_sig), (_, y_gnd) = pin_xy(LED_PIN), pin_xy(LED_GND)
    y = y_gnd + 30  # the resistor and the LED, on one line below the two pins
    x_sig, x_gnd = XR + 35, XR + 20  # the signal's lane outside the ground's
    r0, r1 = x_sig + 20, x_sig + 60  # the resistor
    l0, l1 = r1 + 20, r1 + 38  # the LED: anode, cathode
    back = l1 + 27
    dr.from_pin(LED_PIN, "led", "signal", LED_C, (x_sig, y_sig), (x_sig, y), (r0, y))
    dr.wire("led-anode", "signal", LED_C, [(r1, y), (l0, y)])
    dr.from_pin(LED_GND, "gnd-led", "ground", BLACK_GND, (x_gnd, y_gnd), (x_gnd, y + 30),
                (back, y + 30), (back, y), (l1 + 3, y))  # fmt: skip
    dr.back.append(
        f'<rect x="{r0:g}" y="{y - 7:g}" width="{r1 - r0:g}" height="14" fill="#fff" '
        'stroke="#333" stroke-width="1.5"/>'
    )
    dr.back.append(
        f'<polygon points="{l0:g},{y - 10:g} {l0:g},{y + 10:g} {l1:g},{y:g}" fill="#fdd835" '
        'stroke="#333"/>'
    )
    dr.back.append(f'<rect x="{l1:g}" y="{y - 10:g}" width="3" height="20" fill="#333"/>')
    dr.label((r0 + r1) / 2, y - 14, "330 Ω", 11, "middle")
    dr.label((l0 + l1) / 2 + 2, y - 14, "LED", 11, "middle")
    dr.label(l0 - 4, y + 20, "+", 11, "middle")
    dr.label(l1 + 6, y + 20, "\N{MINUS SIGN}", 11, "middle")
    dr.label(x_sig + 5, y + 53, "3  status LED", 12, "start", LED_C, True)


def draw_bell(dr: Drawing) -> None:
    """4. The bell's relay driver: IN from GPIO23 (pin 16), GND (pin 30), VCC a 5 V flag."""
    (_, y_sig), (_, y_gnd) = pin_xy(BELL_PIN), pin_xy(BELL_GND)
    bx0, by0, bx1, by1 = BELL_X0, y_gnd + 18, BELL_X1, y_gnd + 98
    x_sig = BELL_LANE
    x_gnd = bx0 + 30
    dr.from_pin(BELL_PIN, "bell", "signal", BELL_C, (x_sig, y_sig), (x_sig, by0 + 22),
                (bx1, by0 + 22))  # fmt: skip
    dr.from_pin(BELL_GND, "gnd-bell", "ground", BLACK_GND, (x_gnd, y_gnd), (x_gnd, by0))
    dr.back.append(
        f'<rect x="{bx0:g}" y="{by0:g}" width="{bx1 - bx0:g}" height="{by1 - by0:g}" rx="5" '
        'fill="#d7ccc8" stroke="#333"/>'
    )
    for x, y in ((bx1, by0 + 22), (x_gnd, by0), (bx1 - 40, by1)):
        dr.terminal(x, y, "#333")
    dr.label(x_gnd, by0 + 15, "GND", 10, "middle")
    dr.label(bx1 - 6, by0 + 26, "IN", 10, "end")
    dr.label(bx1 - 40, by1 - 6, "VCC", 10, "middle")
    dr.label(bx0 + 8, by0 + 44, "4  bell relay", 12, "start", BELL_C, True)
    dr.label(bx0 + 8, by0 + 60, "(switches the bell)", 10)
    # VCC: a red flag naming its pin; a wire from pin 4 would cross the amplifier's wires.
    flag_y = by1 + 22
    dr.wire("5V", "power", RED_5V, [(bx1 - 40, by1), (bx1 - 40, flag_y)])
    dr.label(bx1 - 40, flag_y + 16, f"5V: header pin {BELL_5V}", 11, "middle", RED_5V, True)
    x4, y4 = pin_xy(BELL_5V)
    dr.from_pin(BELL_5V, "5V", "power", RED_5V, (x4 + 28, y4))
    dr.label(x4 + 36, y4 + 4, "5V → bell relay, box 4", 11, "start", RED_5V, True)


def draw_amp(dr: Drawing) -> None:
    """2b. The I2S amplifier, below-left; 5 V the outermost lane over the top and on the left."""
    ax0, ay0, ax1, ay1 = 90.0, 578.0, 250.0, 648.0
    (_, y_lrc), (_, y_gnd), (_, y_din) = pin_xy(LRC_PIN), pin_xy(AMP_GND), pin_xy(DIN_PIN)
    t_lrc, t_gnd, t_din = 140.0, 180.0, 220.0  # terminals on the top edge
    y_side = 612.0  # VIN on the left edge, BCLK on the right edge
    top = BOARD[1] - 12  # 5 V over the board
    x_5v = POWER_LANE
    x_bclk = BCLK_LANE  # outside the LED and the bell
    y_din_lane = HEADER_BOTTOM + 28
    dr.from_pin(AMP_5V, "5V", "power", RED_5V, (XR + 20, pin_xy(AMP_5V)[1]), (XR + 20, top),
                (x_5v, top), (x_5v, y_side), (ax0, y_side))  # fmt: skip
    dr.label(x_5v + 80, top - 6, f"5V from pin {AMP_5V} to the amp's VIN only (2b)", 11, "start",
             RED_5V, True)  # fmt: skip
    dr.from_pin(LRC_PIN, "i2s-lrc", "signal", AMP_C, (t_lrc, y_lrc), (t_lrc, ay0))
    dr.from_pin(AMP_GND, "gnd-amp", "ground", BLACK_GND, (t_gnd, y_gnd), (t_gnd, ay0))
    dr.from_pin(DIN_PIN, "i2s-din", "signal", AMP_C, (XR + 20, y_din), (XR + 20, y_din_lane),
                (t_din, y_din_lane), (t_din, ay0))  # fmt: skip
    dr.from_pin(BCLK_PIN, "i2s-bclk", "signal", AMP_C, (x_bclk, pin_xy(BCLK_PIN)[1]),
                (x_bclk, y_side), (ax1, y_side))  # fmt: skip
    dr.back.append(
        f'<rect x="{ax0:g}" y="{ay0:g}" width="{ax1 - ax0:g}" height="{ay1 - ay0:g}" rx="5" '
        'fill="#e1bee7" stroke="#333"/>'
    )
    for x, y in ((t_lrc, ay0), (t_gnd, ay0), (t_din, ay0), (ax0, y_side), (ax1, y_side)):
        dr.terminal(x, y, "#333")
    dr.label(t_lrc, ay0 + 14, "LRC", 10, "middle")
    dr.label(t_gnd, ay0 + 14, "GND", 10, "middle")
    dr.label(t_din, ay0 + 14, "DIN", 10, "middle")
    dr.label(ax0 + 6, y_side + 4, "VIN", 10)
    dr.label(ax1 - 6, y_side + 4, "BCLK", 10, "end")
    dr.label((ax0 + ax1) / 2, ay1 - 8, "2b  I2S amp", 12, "middle", AMP_C, True)
    # speaker out to the receiver
    ry0 = ay1 + 42
    for i, x in enumerate((150.0, 190.0)):
        dr.wire(f"amp-speaker-{i}", "audio", AUDIO_C, [(x, ay1), (x, ry0)])
    receiver(dr, 170, ry0)
    dr.label(198, ay1 + 25, "speaker out", 10)


def receiver(dr: Drawing, cx: float, top: float) -> None:
    dr.back.append(
        f'<rect x="{cx - 40:g}" y="{top:g}" width="80" height="34" rx="17" fill="#eee" '
        'stroke="#333" stroke-width="2"/>'
    )
    dr.label(cx, top + 21, "receiver", 11, "middle")


def draw_usb(dr: Drawing) -> None:
    """2a. The USB sound card, plugged into a USB port, below the board."""
    by1 = BOARD[3]
    cy0 = by1 + 36
    dr.wire("usb", "usb", USB_C, [(CX, by1 - 4), (CX, cy0)])
    dr.back.append(
        f'<rect x="{CX - 70:g}" y="{cy0:g}" width="140" height="44" rx="5" fill="#ffe0b2" '
        'stroke="#333"/>'
    )
    dr.label(CX, cy0 + 18, "2a  USB sound card", 12, "middle", "#e65100", True)
    dr.label(CX, cy0 + 35, "headphone out", 10, "middle")
    rx = CX + 130
    for i, dy in enumerate((14.0, 30.0)):
        dr.wire(f"usb-phones-{i}", "audio", AUDIO_C, [(CX + 70, cy0 + dy), (rx - 40, cy0 + dy)])
    receiver(dr, rx, cy0 + 5)


def draw_notes(dr: Drawing) -> list[str]:
    """The legend and the numbered notes, stacked in the right-hand column."""
    out: list[str] = []
    y = 68.0
    pad, size, line = 12.0, 12.0, 15.0
    chars = int((NOTES_W - 2 * pad) / (size * PROSE_EM))

    def box(title: str, body: Iterable[str], fill: str, stroke: str, extra: float = 0) -> float:
        nonlocal y
        lines = [wrapped for para in body for wrapped in textwrap.wrap(para, chars)]
        height = pad + 16 + extra + line * len(lines) + pad - 4
        out.append(
            f'<rect x="{NOTES_X:g}" y="{y:g}" width="{NOTES_W:g}" height="{height:g}" rx="8" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
        )
        dr.label(NOTES_X + pad, y + pad + 11, title, 13, "start", "#000", True)
        ty = y + pad + 16 + extra + line - 2
        for text in lines:
            dr.label(NOTES_X + pad, ty, text, size)
            ty += line
        top = y
        y += height + 10
        return top

    rows = 3
    top = box(
        "Legend",
        [
            "3V3 (pins 1 and 17, orange) is not used. The square pad is pin 1. Pin numbers "
            "count along the header (1-40); GPIOn is the BCM number that install.sh and "
            "kiosk.yaml take.",
        ],
        "#fafafa",
        "#757575",
        extra=rows * 18,
    )
    x0 = NOTES_X + pad

    def sample(x: float, ly: float, color: str, width: float) -> None:
        out.append(  # a sample, not a wire: a rect
            f'<rect x="{x:g}" y="{ly - 4 - width / 2:g}" width="30" height="{width:g}" '
            f'fill="{color}"/>'
        )

    ly = top + pad + 30
    sample(x0, ly, RED_5V, 5)
    dr.label(x0 + 40, ly, "5V power: only to the amp's VIN and a relay's VCC, never to a GPIO", 11)
    ly += 18
    sample(x0, ly, BLACK_GND, 3)
    dr.label(x0 + 40, ly, "GND (ground): any GND pin will do", 11)
    ly += 18
    x = x0
    modules = (
        (HOOK_C, "hook"),
        (AMP_C, "I2S amp"),
        (LED_C, "LED"),
        (BELL_C, "bell"),
        (DIAL_C, "dial"),
    )
    for color, name in modules:
        sample(x, ly, color, 3)
        dr.label(x + 36, ly, name, 11)
        x += 36 + len(name) * 11 * CHAR_EM + 8
    dr.label(x + 2, ly, "signals", 11)
    box(
        "1. Hook switch (required)",
        [
            f"One side to GPIO{HOOK_GPIO} (pin {HOOK_PIN}), the other to GND (pin {HOOK_GND}). "
            "No resistor: the Pi's internal pull-up is used (hook.pull_up: true). Another pin: "
            "install.sh --pin N (hook.pin). A normally closed switch (lifted = open): set "
            "hook.active: open in /etc/kiosk/kiosk.yaml.",
        ],
        "#e3f2fd",
        HOOK_C,
    )
    box(
        "2a. USB sound card (the usual choice)",
        [
            "Plug it into any USB port; its headphone/line output goes to the handset "
            "receiver (2 wires, polarity does not matter). Its name for --audio-card: "
            '`aplay -l`, e.g. "card 1: Device [USB Audio Device]" means --audio-card Device. '
            "Leave it out: the first USB card.",
        ],
        "#fff3e0",
        "#e65100",
    )
    box(
        "2b. Or an I2S amplifier board (e.g. MAX98357A) instead",
        [
            f"BCLK to GPIO{I2S_BCLK_GPIO} (pin {BCLK_PIN}), LRC to GPIO{I2S_LRC_GPIO} "
            f"(pin {LRC_PIN}), DIN to GPIO{I2S_DIN_GPIO} (pin {DIN_PIN}), VIN to 5V "
            f"(pin {AMP_5V}), GND to GND (pin {AMP_GND}); speaker out to the receiver. Add "
            "dtoverlay=max98357a to /boot/firmware/config.txt and reboot, then install with "
            "--audio-card MAX98357A (the name `aplay -l` shows).",
        ],
        "#f3e5f5",
        AMP_C,
    )
    box(
        "3. Status lamp (optional): an LED",
        [
            f"A GPIO pin (here GPIO{LED_GPIO}, pin {LED_PIN}) to a 330 ohm resistor to the "
            f"LED's long leg (+); its short leg (-) to GND (pin {LED_GND}). install.sh "
            f"--led-pin {LED_GPIO} (status_led.pin in kiosk.yaml); `kiosk selftest` blinks it.",
        ],
        "#e0f2f1",
        LED_C,
    )
    box(
        "4. Bell (optional): never wired straight to a GPIO pin",
        [
            f"A GPIO pin (here GPIO{BELL_GPIO}, pin {BELL_PIN}) to 1 kohm to an NPN "
            f"transistor's base (2N2222); emitter to GND (pin {BELL_GND}); collector to the "
            f"relay coil (-), coil (+) to 5V (pin {BELL_5V}), a 1N4148 diode across the coil. "
            "The relay switches the bell on its own supply. Or a ready-made 3.3 V relay "
            f"module: IN to the GPIO, VCC to 5V (pin {BELL_5V}), GND to GND (pin {BELL_GND}). "
            f"install.sh --bell-pin {BELL_GPIO} (bell.pin in kiosk.yaml).",
        ],
        "#efebe9",
        BELL_C,
    )
    dial_rows = ", ".join(f"GPIO{g}" for g in DIAL_ROWS_GPIO)
    dial_columns = ", ".join(f"GPIO{g}" for g in DIAL_COLUMNS_GPIO)
    box(
        "5. Dial (optional): a rotary dial or a 3x4 keypad",
        [
            f"Rotary: the pulse contact to R1 (GPIO{DIAL_PULSE_GPIO}, pin "
            f"{header_pin(DIAL_PULSE_GPIO)}), the off-normal contact to R2 "
            f"(GPIO{DIAL_OFF_NORMAL_GPIO}, pin {header_pin(DIAL_OFF_NORMAL_GPIO)}), both "
            f"contacts' common to GND (pin {DIAL_GND}); dial.kind: rotary. No off-normal "
            "contact: dial.off_normal_pin: null. Keypad: rows 1-2-3, 4-5-6, 7-8-9, *-0-# to "
            f"R1-R4 ({dial_rows}), columns 1-4-7-*, 2-5-8-0, 3-6-9-# to C1-C3 ({dial_columns}); no "
            "GND, no resistors; dial.kind: keypad. `kiosk selftest` asks you to dial 5.",
        ],
        "#fce4ec",
        DIAL_C,
    )
    if y > H:
        raise SystemExit(f"make_wiring: the notes end at y={y:g}, below the picture ({H})")
    return out


# --- the geometry check -------------------------------------------------------------------

Segment = tuple[Point, Point]


def segments(points: Sequence[Point]) -> list[Segment]:
    return list(itertools.pairwise(points))


def segment_distance(s: Segment, t: Segment) -> float:
    """The distance between two axis-parallel segments (0 when they touch or cross)."""
    (ax0, ay0), (ax1, ay1) = s
    (bx0, by0), (bx1, by1) = t
    dx = max(0.0, max(min(ax0, ax1), min(bx0, bx1)) - min(max(ax0, ax1), max(bx0, bx1)))
    dy = max(0.0, max(min(ay0, ay1), min(by0, by1)) - min(max(ay0, ay1), max(by0, by1)))
    return float((dx * dx + dy * dy) ** 0.5)


def segment_hits_box(s: Segment, box: tuple[float, float, float, float]) -> bool:
    (x0, y0), (x1, y1) = s
    bx0, by0, bx1, by1 = box
    return max(x0, x1) > bx0 and min(x0, x1) < bx1 and max(y0, y1) > by0 and min(y0, y1) < by1


def problems(dr: Drawing) -> list[str]:
    found: list[str] = []
    for i, a in enumerate(dr.wires):
        for x, y in a.points:
            if not (0 <= x <= NOTES_X - 10 and 0 <= y <= H):
                found.append(f"{a.net}: point {x:g},{y:g} is off the picture or in the notes")
        for b in dr.wires[i + 1 :]:
            if a.net == b.net:
                continue
            need = POWER_CLEARANCE if "power" in (a.kind, b.kind) else CLEARANCE
            if a.kind == b.kind == "audio":
                need = 14.0
            gap = min(
                segment_distance(s, t) for s in segments(a.points) for t in segments(b.points)
            )
            if gap < need:
                found.append(f"{a.net} and {b.net} are {gap:g} apart (need {need:g})")
        for lab in dr.labels:
            if any(segment_hits_box(s, lab.box()) for s in segments(a.points)):
                found.append(f"{a.net} crosses the label {lab.text!r}")
    return found


# --- output -------------------------------------------------------------------------------


def build() -> str:
    dr = Drawing()
    draw_header(dr)
    draw_hook(dr)
    draw_led(dr)
    draw_bell(dr)
    draw_amp(dr)
    draw_usb(dr)
    draw_dial(dr)
    notes = draw_notes(dr)
    dr.label(20, 30, "Booth wiring: Raspberry Pi 40-pin header (pin numbers and BCM GPIO names)",
             20, "start", "#000", True)  # fmt: skip
    dr.label(20, 52, "Header drawn upright, pin 1 (the square pad) at the end farthest from the "
             "USB ports; odd pins are the inner row, even pins the board's edge. Wire with the "
             "Pi unplugged.", 12, "start", "#555")  # fmt: skip
    found = problems(dr)
    if found:
        raise SystemExit("make_wiring: the layout is ambiguous:\n  " + "\n  ".join(found))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="{FONT}" font-size="13">',
        "<title>Customer phone booth: wiring</title>",
        "<!-- Generated by scripts/make_wiring.py; edit the script, not this file. -->",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        *dr.back,
        *notes,
        *(svg_wire(w) for w in dr.wires),
        *dr.front,
        *(svg_label(lab) for lab in dr.labels),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="fail if --out is not up to date")
    args = parser.parse_args(argv)
    svg = build()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != svg:
            print(f"{args.out} is out of date: run scripts/make_wiring.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(svg, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
