"""The `kiosk` command line: run, simulate, check-config, sync, selftest."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.config import SITE_CONFIG, Config, DialConfig, load_config
from kiosk.errors import ConfigError
from kiosk.eventlog import EventSink, JsonLinesSink, LogSink
from kiosk.stateschema import StateSchemaError
from kiosk.systemd import Notifier, setup_logging

if TYPE_CHECKING:
    from kiosk.app import Booth
    from kiosk.fleet.worker import FleetWorker
    from kiosk.simulate import SimulatedDial, SimulatedHook

EX_CONFIG = 78  # sysexits.h: systemd shows it as "status=78/CONFIG"
log = logging.getLogger("kiosk")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk", description="The customer phone booth.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the booth daemon (systemd's ExecStart)")
    run.add_argument("--config", type=Path, help=f"config file (default {SITE_CONFIG})")
    check = sub.add_parser("check-config", help="validate a config file; exit 0 or 2")
    check.add_argument("file", nargs="?", type=Path, help=f"default {SITE_CONFIG}")
    sync = sub.add_parser("sync", help="one content sync now: fetch, verify, stage, activate")
    sync.add_argument("--config", type=Path, help=f"config file (default {SITE_CONFIG})")
    enr = sub.add_parser("enroll", help="join the fleet: a one-time token from the hub's admin")
    enr.add_argument("--hub", required=True, help="the hub's URL, e.g. https://hub.example.com")
    enr.add_argument(
        "--token-file",
        type=Path,
        help="a file holding the token from `kiosk-admin booth add` (- for standard input); "
        "or set KIOSK_ENROLL_TOKEN",
    )
    enr.add_argument("--token", help=argparse.SUPPRESS)  # old: shows the token in ps
    enr.add_argument("--insecure", action="store_true", help="allow a plain http:// hub")
    enr.add_argument("--config", type=Path, help=f"config file (default {SITE_CONFIG})")
    test = sub.add_parser("selftest", help="check the hardware, network and storage, item by item")
    test.add_argument("--config", type=Path, help=f"config file (default {SITE_CONFIG})")
    test.add_argument("--json", action="store_true", help="one JSON list of items on stdout")
    test.add_argument("--unattended", action="store_true", help="skip what needs a person")
    test.add_argument(
        "--hook-timeout", type=float, default=30.0, help="seconds per hook or dial step"
    )
    sim = sub.add_parser("simulate", help="the booth on this computer, with a pretend handset")
    sim.add_argument("--headless", action="store_true", help="commands on stdin, JSON on stdout")
    sim.add_argument("--config", type=Path, help="config file (default: built-in defaults)")
    sim.add_argument("--clips", type=Path, help="clip-set folder (default: the bundled sample)")
    sim.add_argument("--state-dir", type=Path, help="state folder (default: ~/.local/state)")
    sim.add_argument(
        "--no-receiver",
        action="store_true",
        help="without a sound card, keep retrying it instead of playing into a virtual receiver",
    )
    args = parser.parse_args(argv)
    if args.command == "check-config":
        return _check_config(args.file)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print("\n".join(e.problems), file=sys.stderr)
        return EX_CONFIG
    if args.command == "simulate":
        config = _simulator_config(config, args)
    setup_logging(config.log_level)
    if args.command == "run":
        return _run(config)
    if args.command == "sync":
        return _sync_once(config)
    if args.command == "enroll":
        from kiosk.credentials import CredentialError, check_hub_url, read_token
        from kiosk.fleet.enroll import USAGE, enroll_command

        try:
            check_hub_url(args.hub, args.insecure)
            token = read_token(
                flag=args.token,
                file=args.token_file,
                env=dict(os.environ),
                env_name="KIOSK_ENROLL_TOKEN",
            )
        except CredentialError as e:
            print(f"enroll: {e}", file=sys.stderr)
            return USAGE
        return enroll_command(Path(config.state_dir), args.hub, token)
    if args.command == "selftest":
        from kiosk.selftest.run import Limits, selftest_command

        limits = Limits(hook_timeout_s=args.hook_timeout, dial_timeout_s=args.hook_timeout)
        return selftest_command(config, args.json, args.unattended, limits)
    return _simulate(config, args.headless, not args.no_receiver)


def _check_config(file: Path | None) -> int:
    try:
        load_config(file)
    except ConfigError as e:
        print("\n".join(e.problems), file=sys.stderr)
        return 2
    print(f"{file or SITE_CONFIG}: ok")
    return 0


def _run(config: Config) -> int:
    try:
        with _booth(config, [LogSink()]) as booth:
            _stop_on_signals(booth.request_stop)
            return _run_booth(booth, config)
    except ConfigError as e:  # a damaged fleet.json
        print("\n".join(e.problems), file=sys.stderr)
        return EX_CONFIG


@contextlib.contextmanager
def _booth(config: Config, sinks: list[EventSink], pin_factory: Any = None) -> Iterator[Booth]:
    """The booth with its durable event queue and, once enrolled, the fleet thread uploading it."""
    from kiosk.app import Booth
    from kiosk.outbox import open_outbox

    outbox = open_outbox(Path(config.state_dir) / "outbox.sqlite3", config.fleet.max_events)
    try:
        booth = Booth(config, [*sinks, outbox], Notifier(), pin_factory=pin_factory)
        fleet = _fleet_worker(config, booth, outbox.path)
        if fleet is not None:
            outbox.on_commit = fleet.wake
            fleet.start()
        try:
            yield booth
        finally:
            if fleet is not None:
                fleet.stop()
    finally:
        outbox.close()


def _fleet_worker(config: Config, booth: Booth, outbox: Path) -> FleetWorker | None:
    """The fleet thread if `<state_dir>/fleet.json` exists (`kiosk enroll`)."""
    from kiosk.fleet import identity

    state_dir = Path(config.state_dir)
    try:
        me = identity.load(state_dir)
    except StateSchemaError as e:  # the booth plays on, without its hub
        log.error("%s; running without the hub", e)
        return None
    if me is None:
        return None
    # Imported only once enrolled: requests and TLS cost a booth ~10 MB of RSS.
    from kiosk.fleet.client import HubClient, HubLimits
    from kiosk.fleet.worker import FleetWorker

    log.info("enrolled with %s as booth %s", me.hub, me.booth_id)
    limits = HubLimits(config.fleet.timeout_s, config.fleet.timeout_s)
    follows = bool(config.sync.url and config.update.enabled)
    return FleetWorker(
        HubClient(me, limits),
        outbox,
        config.fleet,
        lambda: booth.fleet_status,
        state_dir,
        update_status_file=Path(config.update.status_file) if follows else None,
    )


def _run_booth(booth: Booth, config: Config) -> int:
    if config.display:
        import threading

        from kiosk.screen import run_screen

        thread = threading.Thread(target=booth.run, name="booth")
        thread.start()
        try:
            run_screen(booth, fullscreen=True, is_running=thread.is_alive)
        finally:
            booth.request_stop()
            thread.join()
        return 0
    booth.run()
    return 0


def _sync_once(config: Config) -> int:
    """One sync for an operator (with the daemon stopped): exit 0 ok, 1 stale or failed."""
    from kiosk.sync.fetcher import Fetcher, FetchLimits
    from kiosk.sync.store import SetStore
    from kiosk.sync.updater import Source, Syncer, SyncError

    cfg = config.sync
    if not cfg.url:
        print("sync.url is not set: nothing to sync from", file=sys.stderr)
        return EX_CONFIG
    try:
        store = SetStore(Path(config.state_dir))
    except StateSchemaError as e:
        print(e, file=sys.stderr)
        return EX_CONFIG
    source = Source(cfg.url, Path(cfg.root), cfg.set, cfg.group)
    fetcher = Fetcher(FetchLimits(sync_deadline_s=cfg.deadline_s))
    syncer = Syncer(
        source, store, fetcher, Path(config.state_dir), reserve_bytes=cfg.reserve_mb << 20
    )
    try:
        result = syncer.sync()
    except SyncError as e:
        syncer.close()
        active = store.active()
        print(f"sync {e.state}: {e.reason}", file=sys.stderr)
        print(f"still playing {active.name if active else 'nothing synced yet'}", file=sys.stderr)
        return 1
    syncer.close()
    store.activate(result.folder)
    store.collect()
    print(
        f"active: {result.set_name} version {result.version} "
        f"({result.downloaded_bytes} bytes downloaded)"
    )
    return 0


def _simulator_config(config: Config, args: argparse.Namespace) -> Config:
    from kiosk.assets import sample_set

    clips = config.clips
    if args.clips is not None or args.config is None:
        path = args.clips or sample_set(config.assets_dir)
        clips = dataclasses.replace(clips, path=str(path))
    state = args.state_dir
    if state is None and args.config is None:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        state = Path(base) / "kiosk-simulator"
    state_dir = str(state) if state is not None else config.state_dir
    dial = config.dial
    if dial.kind == "none":  # the simulator always has a dial: keys 0-9 press a keypad
        dial = _stand_in_keypad(config)
    return dataclasses.replace(config, clips=clips, state_dir=state_dir, dial=dial)


def _stand_in_keypad(config: Config) -> DialConfig:
    """A keypad on the default pins, moved off any pin the hook, the lamp or the bell uses."""
    used = {config.hook.pin, config.status_led.pin, config.bell.pin}
    dial_rows, dial_columns = config.dial.rows, config.dial.columns
    free = iter([p for p in range(28) if p not in used and p not in (*dial_rows, *dial_columns)])

    def moved(pins: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(next(free) if p in used else p for p in pins)

    rows, columns = moved(dial_rows), moved(dial_columns)
    return dataclasses.replace(config.dial, kind="keypad", rows=rows, columns=columns)


def _simulate(config: Config, headless: bool, stand_in: bool) -> int:

    from kiosk.simulate import virtual_receiver, with_virtual_device

    if not headless and not _has_display():
        print(
            "no display here: running headless instead (type lift, hangup, dial 3, "
            "sleep SECONDS or quit; JSON events on stdout)",
            file=sys.stderr,
        )
        headless = True
    receiver = virtual_receiver(config) if stand_in else None
    if receiver is not None:
        config = with_virtual_device(config)
    try:
        return _simulate_booth(config, headless)
    finally:
        if receiver is not None:
            receiver.stop()
            shutil.rmtree(receiver.dir, ignore_errors=True)
            print(
                f"what the receiver played: {Path(config.state_dir) / 'receiver.wav'}",
                file=sys.stderr,
            )


def _has_display() -> bool:
    """A window can open: X11 or Wayland, or an SDL driver chosen explicitly (e.g. dummy)."""
    return any(os.environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"))


def _simulate_booth(config: Config, headless: bool) -> int:
    from gpiozero.pins.mock import MockFactory

    from kiosk.simulate import SimulatedDial, SimulatedHook, run_headless

    factory = MockFactory()
    hook = SimulatedHook(factory, config.hook)
    dial = SimulatedDial(factory, config.dial)
    sinks: list[EventSink] = [LogSink()]
    if headless:
        sinks.append(JsonLinesSink(sys.stdout))
    with _booth(config, sinks, factory) as booth:
        _stop_on_signals(booth.request_stop)
        if headless:
            return run_headless(booth, hook, sys.stdin, dial=dial)
        return _simulate_window(booth, hook, dial)


def _simulate_window(booth: Booth, hook: SimulatedHook, dial: SimulatedDial) -> int:
    from kiosk.screen import run_screen
    from kiosk.simulate import start_booth

    thread = start_booth(booth)
    off_hook = False

    def toggle() -> None:
        nonlocal off_hook
        off_hook = not off_hook
        hook.set(off_hook)

    import threading

    def dial_key(key: str) -> None:  # off the window's thread: a rotary turn takes a second
        threading.Thread(target=dial.dial, args=(key,), name="sim-dial", daemon=True).start()

    booth.running.wait(10)
    hook.hangup()
    dial.rest()
    try:
        run_screen(booth, toggle_hook=toggle, is_running=thread.is_alive, dial=dial_key)
    finally:
        booth.request_stop()
        thread.join(timeout=10)
    return 0


def _stop_on_signals(stop: Callable[[], None]) -> None:
    def handler(signum: int, frame: object) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


if __name__ == "__main__":
    sys.exit(main())
