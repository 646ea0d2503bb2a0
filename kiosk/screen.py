"""The booth's caption screen and the simulator's window, drawn with pygame (never audio).

Runs on the process's main thread (SDL wants that); it only reads `Booth.snapshot` and, in the
simulator, moves the mock hook pin.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from kiosk.app import Booth, Snapshot

BG = (24, 26, 33)
FG = (236, 232, 221)
DIM = (140, 140, 150)
RED = (196, 40, 40)
SIZE = (800, 480)  # the official 7" Pi display


def run_screen(
    booth: Booth,
    toggle_hook: Callable[[], None] | None = None,
    fullscreen: bool = False,
    is_running: Callable[[], bool] = lambda: True,
    dial: Callable[[str], None] | None = None,
) -> None:
    """Draw until the window closes (or, on the booth, until the daemon stops).

    With `toggle_hook` (the simulator), space or a click lifts and hangs up the handset; with
    `dial`, keys 0-9 (and * #) dial.
    """
    pygame.display.init()
    pygame.font.init()
    flags = pygame.FULLSCREEN if fullscreen else 0
    surface = pygame.display.set_mode(SIZE, flags)
    pygame.display.set_caption("Customer phone booth")
    if fullscreen:
        pygame.mouse.set_visible(False)
    fonts = (pygame.font.Font(None, 44), pygame.font.Font(None, 32), pygame.font.Font(None, 26))
    shown: Snapshot | None = None
    try:
        while is_running():
            # Block for input, but wake a few times a second to pick up new state.
            event = pygame.event.wait(200)
            if event.type == pygame.QUIT or (
                event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)
            ):
                return
            if toggle_hook is not None and (
                (event.type == pygame.KEYDOWN and event.key == pygame.K_SPACE)
                or event.type == pygame.MOUSEBUTTONDOWN
            ):
                toggle_hook()
            key = getattr(event, "unicode", "") if event.type == pygame.KEYDOWN else ""
            if dial is not None and key and key in "0123456789*#":
                dial(key)
            snap = booth.snapshot
            if snap != shown:
                shown = snap
                _draw(surface, fonts, snap, toggle_hook is not None)
                pygame.display.flip()
    finally:
        pygame.quit()


def _draw(surf: Any, fonts: tuple[Any, Any, Any], snap: Snapshot, sim: bool) -> None:
    big, mid, small = fonts
    surf.fill(BG)
    _handset(surf, lifted=snap.state not in ("idle", "starting"))
    y = 300
    if snap.title:
        for text, font, colour in (
            (f"\u201c{snap.title}\u201d", big, FG),
            (snap.speaker, mid, DIM),
        ):
            img = font.render(text, True, colour)
            surf.blit(img, img.get_rect(center=(SIZE[0] // 2, y)))
            y += 48
    status = small.render(snap.status, True, DIM)
    surf.blit(status, status.get_rect(center=(SIZE[0] // 2, SIZE[1] - 60)))
    if sim:
        hint = small.render(
            "space or click: lift / hang up   -   0-9: dial   -   esc: quit", True, DIM
        )
        surf.blit(hint, hint.get_rect(center=(SIZE[0] // 2, SIZE[1] - 28)))


def _handset(surf: Any, lifted: bool) -> None:
    """A red handset resting on its cradle, or raised and tilted when lifted."""
    cx, base = SIZE[0] // 2, 230
    pygame.draw.rect(surf, (60, 60, 70), (cx - 150, base - 20, 300, 50), border_radius=12)
    rise, tilt = (70, -0.25) if lifted else (0, 0.0)
    cos, sin = math.cos(tilt), math.sin(tilt)
    top = base - 40 - rise
    body = [(cx + dx * cos - dy * sin, top + dx * sin + dy * cos) for dx, dy in _BODY]
    pygame.draw.polygon(surf, RED, body)
    for side in (-1, 1):
        pygame.draw.circle(
            surf, RED, (round(cx + side * 125 * cos), round(top + side * 125 * sin)), 34
        )


_BODY = ((-140, -30), (140, -30), (140, 0), (-140, 0))
