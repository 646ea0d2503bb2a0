"""The install layout (kiosk.update.venvs.Layout) and systemd's health (parse_show)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.update.supervisor import Health, SupervisorError, parse_show
from kiosk.update.venvs import Layout


def venv(layout: Layout, version: str) -> None:
    (layout.venv(version) / "bin").mkdir(parents=True)
    (layout.venv(version) / "bin" / "python").write_text("")


def test_flip_points_current_at_a_version_by_a_relative_link(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert layout.running() is None
    venv(layout, "0.1.0")
    layout.flip("0.1.0")
    assert os.readlink(tmp_path / "current") == "venvs/0.1.0"
    assert layout.running() == "0.1.0" and layout.has("0.1.0") and not layout.has("0.2.0")
    venv(layout, "0.2.0")
    layout.flip("0.2.0")
    assert layout.running() == "0.2.0" and not (tmp_path / ".current.new").exists()


def test_clean_removes_half_built_venvs_and_a_stray_link(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    venv(layout, "0.1.0")
    (layout.venvs / ".building-0.2.0-abc" / "bin").mkdir(parents=True)
    os.symlink("venvs/0.2.0", tmp_path / ".current.new")
    assert sorted(layout.clean()) == [".building-0.2.0-abc", ".current.new"]
    assert sorted(p.name for p in layout.venvs.iterdir()) == ["0.1.0"]
    assert layout.clean() == []


def test_prune_keeps_current_and_what_it_is_asked_to(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    for version in ("0.1.0", "0.2.0", "0.3.0", "0.4.0"):
        venv(layout, version)
    layout.flip("0.4.0")
    assert layout.prune({"0.3.0"}) == ["0.1.0", "0.2.0"]
    assert sorted(p.name for p in layout.venvs.iterdir()) == ["0.3.0", "0.4.0"]


@pytest.mark.parametrize(
    ("text", "health"),
    [
        ("ActiveState=active\nSubState=running\nNRestarts=0\n", Health(True, 0)),
        ("ActiveState=activating\nSubState=start\nNRestarts=2\n", Health(False, 2)),
        ("ActiveState=failed\nSubState=failed\nNRestarts=5\n", Health(False, 5)),
    ],
)
def test_systemctl_show_gives_readiness_and_restarts(text: str, health: Health) -> None:
    assert parse_show(text) == health


def test_a_garbled_systemctl_show_is_an_error() -> None:
    with pytest.raises(SupervisorError, match="NRestarts"):
        parse_show("ActiveState=active\nNRestarts=many\n")
