"""The optional outputs a person checks by eye and ear: the status lamp and the bell."""

from __future__ import annotations

from typing import Any

from gpiozero import GPIOZeroError

from kiosk.bell import Bell
from kiosk.config import BellConfig, StatusLedConfig
from kiosk.lamp import Look, StatusLamp
from kiosk.selftest.console import Console
from kiosk.selftest.report import Item, failed, passed, skipped

STOP_DAEMON = "run this on the booth's Pi with the daemon stopped (sudo systemctl stop kiosk)"


def check_lamp(config: StatusLedConfig, console: Console, pin_factory: Any = None) -> Item:
    """Light the lamp steadily and ask whether it is lit."""
    if config.pin is None:
        return skipped("status_led", "no status lamp (status_led.pin is null)")
    try:
        lamp = StatusLamp(config, pin_factory)
    except (GPIOZeroError, OSError, RuntimeError) as e:
        return failed("status_led", f"cannot open GPIO{config.pin}: {e}", STOP_DAEMON)
    try:
        lamp.show(Look.IDLE)
        answer = console.ask("Is the status lamp lit? [y/n]")
    finally:
        lamp.close()
    wiring = (
        f"check the LED's polarity (long leg to GPIO{config.pin} via the resistor, short leg "
        "to ground) and status_led.pin"
    )
    return _judge("status_led", answer, f"lit on GPIO{config.pin}", wiring)


def check_bell(config: BellConfig, console: Console, pin_factory: Any = None) -> Item:
    """Ring the bell once (quiet hours do not apply to a test) and ask whether it rang."""
    if config.pin is None:
        return skipped("bell", "no bell (bell.pin is null)")
    try:
        bell = Bell(config, pin_factory)
    except (GPIOZeroError, OSError, RuntimeError) as e:
        return failed("bell", f"cannot open GPIO{config.pin}: {e}", STOP_DAEMON)
    try:
        bell.sound()
        answer = console.ask("Did the bell ring? [y/n]")
    finally:
        bell.close()
    wiring = f"check the relay or driver on GPIO{config.pin}, the bell's own supply and bell.pin"
    return _judge("bell", answer, f"rang on GPIO{config.pin}", wiring)


def _judge(name: str, answer: str | None, ok: str, fix: str) -> Item:
    if answer is None:
        return skipped(name, "no answer (input closed)")
    if answer.startswith("y"):
        return passed(name, ok)
    return failed(name, "the technician saw or heard nothing", fix)
