from pathlib import Path

import pytest
import yaml

from kiosk.cli import main
from kiosk.config import Config, load_config, parse_config
from kiosk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_documented_defaults_match_the_code() -> None:
    assert load_config(ROOT / "config" / "kiosk.yaml") == Config()
    documented = yaml.safe_load((ROOT / "config" / "kiosk.yaml").read_text())
    assert set(documented) == set(Config.__dataclass_fields__)


def test_example_config_is_valid() -> None:
    cfg = load_config(ROOT / "config" / "kiosk.example.yaml")
    assert cfg.hook.pin == 27 and cfg.hook.active == "open" and cfg.hook.pull_up is True


def test_partial_file_overlays_defaults() -> None:
    cfg = parse_config("hook:\n  pin: 4\naudio:\n  gain_db: -3\n")
    assert cfg.hook.pin == 4 and cfg.hook.active == "closed"
    assert cfg.audio.gain_db == -3.0 and cfg.audio.device == "default"


def test_error_names_file_line_and_key() -> None:
    text = "# site\nhook:\n  pull_up: true\n" + "\n" * 8 + "  pin: GPIO17x\n"
    with pytest.raises(ConfigError) as e:
        parse_config(text, "/etc/kiosk/kiosk.yaml")
    assert e.value.problems == [
        '/etc/kiosk/kiosk.yaml:12: hook.pin: expected an integer 0-27, got "GPIO17x"'
    ]


def test_every_problem_is_listed_with_suggestions() -> None:
    text = "hook:\n  pinn: 4\naudio:\n  gain_db: 20\nmax_clips_per_lift: zero\nbogus: 1\n"
    with pytest.raises(ConfigError) as e:
        parse_config(text, "k.yaml")
    problems = "\n".join(e.value.problems)
    assert "k.yaml:2: hook.pinn: unknown key (did you mean 'pin'?)" in problems
    assert "k.yaml:4: audio.gain_db: expected a number from -60 to 6, got 20" in problems
    assert 'k.yaml:5: max_clips_per_lift: expected an integer 1-1000, got "zero"' in problems
    assert "k.yaml:6: bogus: unknown key" in problems
    assert len(e.value.problems) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hook: [1, 2]\n", "k.yaml:1: hook: expected a mapping, got a list"),
        ("hook:\n  active: maybe\n", "k.yaml:2: hook.active: expected one of open, closed"),
        ("hook:\n  pull_up: 1\n", "k.yaml:2: hook.pull_up: expected true or false, got 1"),
        ("hook: {pin: 3\n", "k.yaml:2: invalid YAML"),
        ("audio:\n  fade_ms: 20\n", "k.yaml:2: audio.fade_ms: expected a number 5-10, got 20"),
        ("sync:\n  reserve_mb: -1\n", "k.yaml:2: sync.reserve_mb: expected an integer"),
    ],
)
def test_bad_values(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "k.yaml")
    assert e.value.problems[0].startswith(message)


def test_empty_file_means_defaults() -> None:
    assert parse_config("", "k.yaml") == Config()


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("hook:\n  pin: 22\n")
    assert main(["check-config", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("hook:\n  pin: 99\n")
    assert main(["check-config", str(bad)]) == 2
    assert f"{bad}:2: hook.pin: expected an integer 0-27, got 99" in capsys.readouterr().err


def test_run_with_bad_config_exits_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nonsense: true\n")
    assert main(["run", "--config", str(bad)]) == 78


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "missing.yaml")
    assert "missing.yaml: cannot read" in e.value.problems[0]


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config("hook:\n  pin: 4\nhook:\n  pin: 5\n", "k.yaml")
    assert e.value.problems == ["k.yaml:3: hook: duplicate key (first on line 1)"]
