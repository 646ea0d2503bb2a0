"""The booth's config: typed schema with documented defaults, load and validate.

`config/kiosk.yaml` documents these defaults (a unit test keeps the two equal); a site file
such as /etc/kiosk/kiosk.yaml overlays them key by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kiosk.clips.clipset import check_dayparts
from kiosk.errors import ConfigError
from kiosk.fleet.fit import MAX_BATCH_EVENTS
from kiosk.schema import Builder, limits, yaml_key
from kiosk.yamlfile import YamlDoc, dotted, load_yaml, parse_yaml

SITE_CONFIG = Path("/etc/kiosk/kiosk.yaml")
# Hard ceiling on receiver gain: a handset is pressed to an ear, so no config may go louder.
GAIN_CEILING_DB = 6.0


def _sip_uri(value: str) -> str | None:
    if value and not value.startswith(("sip:", "sips:")):
        return f'expected a SIP URI (sip:user@host), got "{value}"'
    return None


@dataclass(frozen=True)
class HookConfig:
    """The hook switch on a GPIO pin (BCM numbering)."""

    pin: int = field(default=17, metadata=limits(0, 27))
    pull_up: bool = True
    # Contact state that means "handset lifted": closed (normally open switch) or open.
    active: Literal["open", "closed"] = "closed"
    debounce_ms: float = field(default=25.0, metadata=limits(1, 500))


@dataclass(frozen=True)
class AudioConfig:
    """The one output stream to the handset receiver."""

    device: str = "default"
    gain_db: float = field(default=0.0, metadata=limits(-60, GAIN_CEILING_DB))
    rate: int = field(default=48000, metadata=limits(8000, 192000))
    channels: int = field(default=1, metadata=limits(1, 8))
    # 2.5 ms blocks and a 7.5 ms buffer: hang-up -> silence p95 under 20 ms (docs/benchmarks.md)
    block_ms: float = field(default=2.5, metadata=limits(1, 50))
    latency_ms: float = field(default=7.5, metadata=limits(1, 500))
    fade_ms: float = field(default=5.0, metadata=limits(5, 10))
    retry_max_s: float = field(default=30.0, metadata=limits(1, 600))
    # Close the stream after this long on the hook in silence (a lift opens it); 0 = never.
    idle_stop_s: float = field(default=10.0, metadata=limits(0, 86400))


@dataclass(frozen=True)
class ClipsConfig:
    """Where the active clip set lives and how clips are spaced."""

    path: str = "/var/lib/kiosk/sets/current"
    max_seconds: float = field(default=180.0, metadata=limits(1, 1800))
    pause_s: float = field(default=1.5, metadata=limits(0, 60))


@dataclass(frozen=True)
class SyncConfig:
    """Content sync from the signed repository (the hub, nginx or a CDN)."""

    url: str = ""  # repository root URL; empty: no sync, play clips.path as it is
    root: str = "/etc/kiosk/root.json"  # the trusted root metadata shipped with the booth
    set: str = ""  # follow this set, or
    group: str = ""  # the set the signed assignments.json gives this booth group
    interval: float = field(default=300.0, metadata=limits(1, 86400))  # seconds
    jitter: float = field(default=0.2, metadata=limits(0, 1))  # +- this share of the interval
    deadline_s: float = field(default=900.0, metadata=limits(10, 86400))
    reserve_mb: int = field(default=200, metadata=limits(0, 1_000_000))  # left free on the disk


@dataclass(frozen=True)
class UpdateConfig:
    """Software updates (docs/updates.md): the daemon downloads and stages releases at each
    sync (only when sync.url is set); a root helper applies them."""

    enabled: bool = True
    status_file: str = "/var/lib/kiosk-update/status.json"  # the helper's, read-only here
    hook_file: str = "/run/kiosk/hook"  # "on" or "off", for the helper
    # The helper's health gate (docs/updates.md): a new version must send READY within
    # ready_timeout_s, then run probation_s without a restart, or it is rolled back.
    ready_timeout_s: float = field(default=60.0, metadata=limits(1, 3600))
    probation_s: float = field(default=120.0, metadata=limits(0, 86400))
    # The longest the helper waits for the handset on the hook before it switches; then it
    # reports `staged` and ends, and the daemon requests again at a sync while on the hook.
    switch_wait_s: float = field(default=600.0, metadata=limits(1, 86400))


def _sip_word(value: str) -> str | None:
    # baresip's account line has no quoting: these would end the field or the line.
    bad = sorted({c for c in value if c in ';<>",\\' or c.isspace()})
    return f"must not contain {' '.join(map(repr, bad))}" if bad else None


@dataclass(frozen=True)
class LiveAccountConfig:
    """The SIP identity the booth dials with (digest auth; registers if `registrar` is set)."""

    user: str = field(default="booth", metadata=limits(check=_sip_word))
    password: str = field(default="", metadata=limits(check=_sip_word))
    # e.g. pbx.example.com or 10.0.0.5:5060; "" = no registration
    registrar: str = field(default="", metadata=limits(check=_sip_word))
    transport: Literal["udp", "tcp", "tls"] = "udp"


@dataclass(frozen=True)
class LiveConfig:
    """Live calls: baresip dials a listen-only monitor extension (docs/live-calls.md), or the
    hub relays cloud contact-center calls (`source: hub`, docs/live-hub.md)."""

    enabled: bool = False
    source: Literal["sip", "hub"] = "sip"
    legs: Literal["both", "customer"] = "both"  # hub: both legs mixed, or the customer's only
    min_age_s: float = field(default=5.0, metadata=limits(0, 3600))  # hub: skip the greeting
    hub_buffer_ms: int = field(default=80, metadata=limits(20, 1000))  # hub: jitter buffer
    monitor_uri: str = field(default="", metadata=limits(check=_sip_uri))
    account: LiveAccountConfig = field(default_factory=LiveAccountConfig)
    answer_timeout: float = field(default=1.5, metadata=limits(0.2, 30))  # seconds
    continue_: bool = field(default=False, metadata=yaml_key("continue"))
    codecs: tuple[Literal["pcmu", "pcma", "g722", "opus"], ...] = ("pcmu", "pcma")
    net_interface: str = "127.0.0.1"  # interface name or IP address SIP and RTP bind to
    sip_port: int = field(default=5060, metadata=limits(1, 65535))
    ctrl_port: int = field(default=4444, metadata=limits(1, 65535))  # on 127.0.0.1 only
    player_device: str = "default"  # ALSA PCM baresip plays into (dmix, shared with clips)
    jitter_ms: int = field(default=20, metadata=limits(20, 500))
    ptime_ms: int = field(default=10, metadata=limits(5, 40))  # baresip's ALSA period
    rtp_timeout_s: int = field(default=5, metadata=limits(1, 60))
    baresip: str = "baresip"  # the binary
    retry_max_s: float = field(default=30.0, metadata=limits(1, 600))


@dataclass(frozen=True)
class FleetConfig:
    """Heartbeats and event uploads to the hub, once enrolled (`kiosk enroll`)."""

    heartbeat_interval: float = field(default=60.0, metadata=limits(5, 86400))  # seconds
    upload_interval: float = field(default=10.0, metadata=limits(0.01, 3600))  # seconds
    batch_size: int = field(default=500, metadata=limits(1, MAX_BATCH_EVENTS))  # per upload
    max_events: int = field(default=50_000, metadata=limits(100, 10_000_000))  # queue bound
    retry_max_s: float = field(default=300.0, metadata=limits(1, 86400))
    timeout_s: float = field(default=20.0, metadata=limits(1, 600))


@dataclass(frozen=True)
class StatusLedConfig:
    """The optional status lamp (README: "Status lamp"); no pin, no lamp."""

    pin: int | None = field(default=None, metadata=limits(0, 27))
    pwm: bool = False  # a PWMLED (dimmable) instead of an on/off LED


@dataclass(frozen=True)
class BellConfig:
    """The optional bell that draws people in when a live call starts; no pin, no bell."""

    pin: int | None = field(default=None, metadata=limits(0, 27))
    quiet_hours: tuple[str, ...] = field(
        default=("20:00-08:00",), metadata=limits(check=check_dayparts)
    )
    ring_s: float = field(default=2.0, metadata=limits(0.1, 30))
    min_interval_s: float = field(default=600.0, metadata=limits(0, 86400))  # between rings


DialAction = Literal["live", "next", "newest", "guide", "none"]


@dataclass(frozen=True)
class DialMap:
    """What each digit does (docs/dial.md); YAML keys are the digits, e.g. `"3": newest`."""

    d0: DialAction = field(default="guide", metadata=yaml_key("0"))
    d1: DialAction = field(default="live", metadata=yaml_key("1"))
    d2: DialAction = field(default="next", metadata=yaml_key("2"))
    d3: DialAction = field(default="newest", metadata=yaml_key("3"))
    d4: DialAction = field(default="none", metadata=yaml_key("4"))
    d5: DialAction = field(default="none", metadata=yaml_key("5"))
    d6: DialAction = field(default="none", metadata=yaml_key("6"))
    d7: DialAction = field(default="none", metadata=yaml_key("7"))
    d8: DialAction = field(default="none", metadata=yaml_key("8"))
    d9: DialAction = field(default="none", metadata=yaml_key("9"))

    def action(self, digit: str) -> DialAction:
        """The action of "0".."9"; "none" for anything else (the keypad's * and #)."""
        value: DialAction = getattr(self, f"d{digit}", "none") if digit.isdigit() else "none"
        return value


@dataclass(frozen=True)
class DialConfig:
    """The dial: a rotary dial (pulse and off-normal contacts) or a 3x4 keypad, or none."""

    kind: Literal["rotary", "keypad", "none"] = "none"
    pull_up: bool = True  # for every dial pin, as hook.pull_up
    # rotary: the pulse contact (normally closed; opens N times for digit N, 10 for 0)
    pulse_pin: int = field(default=27, metadata=limits(0, 27))
    pulse_active: Literal["open", "closed"] = "open"  # contact state during a pulse (break)
    # closed while the dial is away from rest; null: a digit ends after gap_ms without pulses
    off_normal_pin: int | None = field(default=22, metadata=limits(0, 27))
    off_normal_active: Literal["open", "closed"] = "closed"
    debounce_ms: float = field(default=5.0, metadata=limits(0.5, 20))  # shorter = bounce
    gap_ms: float = field(default=300.0, metadata=limits(100, 2000))  # no off-normal contact
    # keypad: a 3x4 matrix, rows driven low at rest, columns read with pull-ups
    rows: tuple[int, ...] = (27, 22, 10, 9)
    columns: tuple[int, ...] = (11, 5, 6)
    map: DialMap = field(default_factory=DialMap)
    interrupt_live: bool = False  # true: a mapped digit also ends a live call
    # "If this changed how you see our customers, dial 1." after a clip or call heard this long
    ask: bool = True
    ask_after_s: float = field(default=20.0, metadata=limits(0, 3600))
    answer_s: float = field(default=8.0, metadata=limits(1, 120))  # wait after the prompt


@dataclass(frozen=True)
class Config:
    """Everything the booth daemon reads from kiosk.yaml."""

    hook: HookConfig = field(default_factory=HookConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    clips: ClipsConfig = field(default_factory=ClipsConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    update: UpdateConfig = field(default_factory=UpdateConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    status_led: StatusLedConfig = field(default_factory=StatusLedConfig)
    bell: BellConfig = field(default_factory=BellConfig)
    dial: DialConfig = field(default_factory=DialConfig)
    max_clips_per_lift: int = field(default=3, metadata=limits(1, 1000))
    offhook_timeout: float = field(default=300.0, metadata=limits(5, 86400))
    state_dir: str = "/var/lib/kiosk"
    assets_dir: str = ""
    display: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"


def load_config(path: Path | None = None) -> Config:
    """Defaults overlaid by `path`, or by /etc/kiosk/kiosk.yaml if it exists.

    Raises ConfigError listing every problem as `file:line: key.path: message`.
    """
    if path is None:
        if not SITE_CONFIG.exists():
            return Config()
        path = SITE_CONFIG
    return _build(load_yaml(path))


def parse_config(text: str, file: str = "<config>") -> Config:
    """Validate config given as YAML text (used by tests and the simulator's overrides)."""
    return _build(parse_yaml(text, file))


def _build(doc: YamlDoc) -> Config:
    _digit_keys(doc.data)
    builder = Builder(doc)
    config = builder.build(Config, doc.data)
    live = config.live if config is not None else None
    if live is not None and live.enabled and live.source == "sip" and not live.monitor_uri:
        builder.fail(
            ("live", "monitor_uri"), "required when live.enabled is true and live.source is sip"
        )
    if config is not None and config.live.ctrl_port - config.live.sip_port in (0, 1):
        message = "must differ from sip_port and sip_port + 1 (baresip's SIP over TLS)"
        builder.fail(("live", "ctrl_port"), message)
    if config is not None:
        _check_pins(builder, config)
    if builder.problems or config is None:
        raise ConfigError(builder.problems or [f"{doc.file}: invalid config"])
    return config


def _digit_keys(data: object) -> None:
    """`dial.map` written as `1: live` (YAML integers) means the digit "1"."""
    dial = data.get("dial") if isinstance(data, dict) else None
    digits = dial.get("map") if isinstance(dial, dict) else None
    if isinstance(digits, dict):
        for key in [k for k in digits if isinstance(k, int) and not isinstance(k, bool)]:
            digits[str(key)] = digits.pop(key)


def _check_pins(builder: Builder, config: Config) -> None:
    """The hook, the status lamp, the bell and the dial each need GPIO pins of their own."""
    owner = {config.hook.pin: "hook.pin"}
    pins: list[tuple[tuple[str | int, ...], int | None]] = [
        (("status_led", "pin"), config.status_led.pin),
        (("bell", "pin"), config.bell.pin),
    ]
    dial = config.dial
    if dial.kind == "rotary":
        pins += [(("dial", "pulse_pin"), dial.pulse_pin)]
        pins += [(("dial", "off_normal_pin"), dial.off_normal_pin)]
    elif dial.kind == "keypad":
        for name, wanted, group in (("rows", 4, dial.rows), ("columns", 3, dial.columns)):
            if len(group) != wanted:
                builder.fail(("dial", name), f"a 3x4 keypad needs {wanted} pins, got {len(group)}")
            pins += [(("dial", name, i), pin) for i, pin in enumerate(group)]
    for path, pin in pins:
        if pin is None:
            continue
        if not 0 <= pin <= 27:
            builder.fail(path, f"expected a BCM GPIO number 0-27, got {pin}")
        elif pin in owner:
            builder.fail(path, f"GPIO{pin} is already {owner[pin]}")
        owner[pin] = dotted(path)
