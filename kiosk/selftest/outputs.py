"""The optional outputs a person checks by eye and ear: the status lamp and the bell."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpiozero import GPIOZeroError

from kiosk.bell import Bell
from kiosk.config import BellConfig, StatusLedConfig
from kiosk.lamp import Look, StatusLamp
from kiosk.selftest.console import Console
from kiosk.selftest.report import Item, failed, passed, skipped


def check_lamp(config: StatusLedConfig, console: Console, pin_factory: Any = None) -> Item:
    """Light the lamp steadily and ask whether it is lit."""

    def light() -> Callable[[], None]:
        lamp = StatusLamp(config, pin_factory)
        lamp.show(Look.IDLE)
        return lamp.close

    fix = (
        f"check the LED's polarity (long leg to GPIO{config.pin} via the resistor, short leg "
        "to ground) and status_led.pin"
    )
    return _ask("status_led", config.pin, light, "Is the status lamp lit? [y/n]", fix, console)


def check_bell(config: BellConfig, console: Console, pin_factory: Any = None) -> Item:
    """Ring the bell once (quiet hours do not apply to a test) and ask whether it rang."""

    def ring() -> Callable[[], None]:
        bell = Bell(config, pin_factory)
        bell.sound()
        return bell.close

    fix = f"check the relay or driver on GPIO{config.pin}, the bell's own supply and bell.pin"
    return _ask("bell", config.pin, ring, "Did the bell ring? [y/n]", fix, console)


def _ask(
    name: str,
    pin: int | None,
    start: Callable[[], Callable[[], None]],
    question: str,
    fix: str,
    console: Console,
) -> Item:
    """Run `start` (it returns its own clean-up), ask `question`, judge the answer."""
    if pin is None:
        return skipped(name, f"none configured ({name}.pin is null)")
    try:
        close = start()
    except (GPIOZeroError, OSError, RuntimeError) as e:
        return failed(
            name,
            f"cannot open GPIO{pin}: {e}",
            "run this on the booth's Pi with the daemon stopped (sudo systemctl stop kiosk)",
        )
    try:
        answer = console.ask(question)
    finally:
        close()
    if answer is None:
        return skipped(name, "no answer (input closed)")
    if answer.startswith("y"):
        return passed(name, f"confirmed on GPIO{pin}")
    return failed(name, "the technician saw or heard nothing", fix)
