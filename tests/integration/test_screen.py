"""The pygame caption screen on SDL's dummy video driver: keys toggle the hook, state is drawn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"
pygame = pytest.importorskip("pygame")

from kiosk.app import Snapshot  # noqa: E402
from kiosk.screen import SIZE, _draw, run_screen  # noqa: E402


class FakeBooth:
    """The screen reads only `snapshot`."""

    snapshot = Snapshot("playing", "playing: I almost cancelled", "I almost cancelled", "Maria")


def test_space_and_click_toggle_the_hook_and_escape_quits() -> None:
    toggles: list[int] = []
    calls = [0]
    script: list[Any] = [
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE),
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(10, 10)),
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE),
    ]

    def running() -> bool:
        calls[0] += 1
        if script:
            pygame.event.post(script.pop(0))
        return calls[0] < 50

    run_screen(FakeBooth(), toggle_hook=lambda: toggles.append(1), is_running=running)  # type: ignore[arg-type]
    assert toggles == [1, 1]
    assert calls[0] < 50  # escape ended it, not the guard


def test_caption_screen_draws_title_and_speaker(tmp_path: Path) -> None:
    pygame.font.init()
    surface = pygame.Surface(SIZE)
    fonts = (pygame.font.Font(None, 44), pygame.font.Font(None, 32), pygame.font.Font(None, 26))
    _draw(surface, fonts, FakeBooth.snapshot, sim=True)
    idle = pygame.Surface(SIZE)
    _draw(idle, fonts, Snapshot("idle", "idle"), sim=True)
    pygame.image.save(surface, str(tmp_path / "screen.png"))
    assert pygame.image.tostring(surface, "RGB") != pygame.image.tostring(idle, "RGB")
    # The handset is red, and raised when lifted: compare the row where it rests on the hook.
    assert surface.get_at((SIZE[0] // 2, 178))[:3] != idle.get_at((SIZE[0] // 2, 178))[:3]
