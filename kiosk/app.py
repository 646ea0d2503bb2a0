"""The composition root and the main loop: one thread owns the session and runs its effects.

Start order: status lamp and bell → prompts → mixer → clip library → session → hook switch →
dial → audio stream → READY.
Stop runs in reverse, in one `finally`. Every other thread (gpiozero, PortAudio, the decoder)
only puts events on `queue`.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.assets import assets_dir, load_prompts
from kiosk.audio.mixer import Mixer
from kiosk.audio.output import AudioOutput
from kiosk.bell import Bell, RingBell
from kiosk.clips.library import Library
from kiosk.clips.schedule import is_eligible
from kiosk.config import Config
from kiosk.dial.keypad import Keypad
from kiosk.dial.pulses import PulseDecoder
from kiosk.dial.rotary import RotaryDial, decoder_for
from kiosk.errors import AudioError
from kiosk.eventlog import EventSink
from kiosk.events import (
    AudioBack,
    AudioLost,
    ClipUnplayable,
    ConsentPurged,
    Dialed,
    DialEdge,
    Healed,
    HookEdge,
    HungUp,
    Lifted,
    Prepared,
    SetChanged,
    Sound,
    SoundFinished,
    SoundKind,
    SyncFailed,
    SyncReady,
    Tick,
    UpdateProgress,
)
from kiosk.fleet.fit import CONSENT_PATHS
from kiosk.fleet.status import BoothStatus
from kiosk.hook import Debouncer, HookSwitch
from kiosk.lamp import StatusLamp, look_for
from kiosk.live.cues import chime
from kiosk.live.events import (
    CallAnswered,
    CallAudio,
    CallClosed,
    CallIncoming,
    LivePresence,
    LiveStatus,
)
from kiosk.live.link import LiveLink
from kiosk.session import (
    Dial,
    DialSettings,
    Effect,
    Hangup,
    LiveSettings,
    Persist,
    Play,
    PrepareNewest,
    PrepareNext,
    Report,
    Session,
    SessionConfig,
    State,
    Stop,
)
from kiosk.stateschema import StateSchemaError
from kiosk.sync.store import SetStore
from kiosk.update.hookfile import HookFile

if TYPE_CHECKING:
    from kiosk.fleet.identity import Identity
    from kiosk.live.hub_client import HubLink
    from kiosk.sync.worker import SyncWorker
from kiosk.systemd import Notifier

log = logging.getLogger(__name__)

# Without a systemd watchdog we still check the audio thread this often.
HEALTH_S = 2.0


@dataclass(frozen=True)
class Snapshot:
    """What the screen shows; replaced whole by the main loop, read by the screen thread."""

    state: str = "starting"
    status: str = "starting"
    title: str = ""
    speaker: str = ""


class _Wake:
    """Posted to make the loop look at its flags (stop requested)."""


class _StreamClosed:
    """The closer thread finished closing a failed stream."""


class Booth:
    """The daemon. `run()` blocks until `request_stop()`; call it from the owning thread."""

    def __init__(
        self,
        config: Config,
        sinks: Sequence[EventSink],
        notifier: Notifier | None = None,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = dt.datetime.now,
        rng: random.Random | None = None,
        mixer_factory: Callable[..., Mixer] = Mixer,
    ) -> None:
        self.config = config
        self.sinks = list(sinks)
        self.notifier = notifier or Notifier(environ={})
        self.pin_factory = pin_factory
        self.clock = clock
        self.wall = wall
        self.rng = rng or random.Random()
        self.mixer_factory = mixer_factory
        self.queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.snapshot = Snapshot()
        self.ready = threading.Event()  # READY: the hook switch and the audio stream are open
        self.running = threading.Event()  # the main loop takes events (audio may be retrying)
        self._exit = False
        self._health_s = self.notifier.watchdog_interval_s or HEALTH_S
        self._debouncer = Debouncer(config.hook.debounce_ms / 1000)
        self._readied = False
        self._closer: threading.Thread | None = None
        self._retry_at: float | None = None
        self._backoff_s = 1.0
        self._next_health = 0.0
        self._last_callbacks = -1
        self._idle_stop_at: float | None = None  # stop the stream then, if still silent
        self.store: SetStore | None = None
        self.sync: SyncWorker | None = None
        self._pending_set: SyncReady | None = None
        self.sync_state = "off"
        self._sync_reason = ""
        self.update = UpdateProgress("idle")  # the sync thread's release state (kiosk.update)
        self.hook_file: HookFile | None = None  # update.hook_file, for the update helper
        self.live: LiveLink | HubLink | None = None
        self.live_status = LiveStatus(False, "starting")
        self.live_calls = 0  # calls live at the hub relay (presence)
        self._live_voice = False  # the mixer plays the hub relay's call
        self.fleet_status = BoothStatus()  # for the fleet thread's heartbeat; replaced whole
        self._last_lift: float | None = None
        self._hook_ok = False
        self._set_version: int | None = None
        self.lamp: StatusLamp | None = None
        self.bell: Bell | None = None
        self.dial: RotaryDial | Keypad | None = None
        self._pulses: PulseDecoder | None = None  # the rotary dial's decoder (main loop)

    # -- called from any thread ----------------------------------------------------------
    def post(self, event: object) -> None:
        self.queue.put(event)

    def post_report(self, fields: dict[str, Any]) -> None:
        """Publish an event through the main loop's sinks (from any thread)."""
        self.queue.put(Report(fields))

    def request_stop(self) -> None:
        self._exit = True
        self.queue.put(_Wake())

    # -- the owning thread -----------------------------------------------------------------
    def run(self) -> None:
        """Start every part, loop until asked to stop, then stop in reverse order."""
        cfg = self.config
        rate = cfg.audio.rate
        # The audio callback shares the GIL with the decoder and sync threads: hand it over
        # often, so a sync's hashing cannot hold the callback past a period (measured in bench).
        sys.setswitchinterval(0.001)
        hook: HookSwitch | None = None
        library: Library | None = None
        sync: SyncWorker | None = None
        live: LiveLink | HubLink | None = None
        self.audio: AudioOutput | None = None
        try:
            if cfg.status_led.pin is not None:
                self.lamp = StatusLamp(cfg.status_led, self.pin_factory)
            if cfg.bell.pin is not None:
                self.bell = Bell(cfg.bell, self.pin_factory)
            prompts = load_prompts(assets_dir(cfg.assets_dir), rate)
            block = max(1, round(rate * cfg.audio.block_ms / 1000))
            self.mixer = self.mixer_factory(
                max(block * 4, 8192),
                max(1, round(rate * cfg.audio.fade_ms / 1000)),
                10 ** (cfg.audio.gain_db / 20),
                self.post,
            )
            clips_path = Path(cfg.clips.path)
            if cfg.sync.url:
                try:
                    self.store = SetStore(Path(cfg.state_dir))
                except StateSchemaError as e:  # a newer version's store: play it, no sync
                    self._report({"event": "error", "t": self.clock(), "message": str(e)})
                    current = Path(cfg.state_dir) / "sets" / "current"
                    if (current / "clipset.yaml").is_file():
                        clips_path = current
                else:
                    active = self.store.active()
                    if active is not None:
                        clips_path = self.store.sets / "current"
                        self._set_version = SetStore.version_of(active)
            library = self.library = Library(
                clips_path,
                Path(cfg.state_dir),
                rate,
                cfg.clips.max_seconds,
                prompts["no_stories"],
                self.post,
                self.rng,
            )
            for problem in library.start():
                self._report({"event": "error", "t": self.clock(), "message": problem})
            self.session = Session(
                SessionConfig(cfg.clips.pause_s, cfg.max_clips_per_lift, cfg.offhook_timeout),
                prompts["end_tone"],
                prompts["hang_up"],
                is_eligible,
                self._live_settings() if cfg.live.enabled else None,
                self._dial_settings(prompts) if cfg.dial.kind != "none" else None,
            )
            self._run_effects(self.session.start())
            hook = self.hook = HookSwitch(cfg.hook, self.post, self.pin_factory, self.clock)
            self._debouncer.off_hook = hook.off_hook()
            self._hook_ok = True  # the pin is readable
            if cfg.sync.url and cfg.update.enabled:
                self.hook_file = HookFile(Path(cfg.update.hook_file))
                self.hook_file.write(not self._debouncer.off_hook)
            if cfg.dial.kind == "rotary":
                self._pulses = decoder_for(cfg.dial)
                self.dial = RotaryDial(cfg.dial, self.post, self.pin_factory, self.clock)
            elif cfg.dial.kind == "keypad":
                self.dial = Keypad(cfg.dial, self.post, self.pin_factory, self.clock)
            self.audio = AudioOutput(
                cfg.audio.device,
                rate,
                cfg.audio.channels,
                block,
                cfg.audio.latency_ms / 1000,
                self.mixer,
                lambda: self.post(AudioLost("the audio stream stopped (device lost?)")),
            )
            if self.store is not None:
                sync = self.sync = self._sync_worker(self.store)
                sync.on_hook.set()
            if cfg.live.enabled:
                live = self.live = self._live_link()
                if live is not None:
                    live.start()
            self._open_audio(self.clock())
            if sync is not None:
                sync.start()
            self._loop()
        finally:
            self.notifier.stopping()
            if live is not None:
                live.stop()
            if sync is not None:
                sync.stop()
            if self.audio is not None:
                self.audio.close()
            if self.dial is not None:
                self.dial.close()
            if hook is not None:
                hook.close()
            if library is not None:
                library.stop()
            if self.bell is not None:
                self.bell.close()
            if self.lamp is not None:
                self.lamp.close()

    def _loop(self) -> None:
        self.running.set()
        while not self._exit:
            now = self.clock()
            timeout = max(0.0, self._deadline() - now)
            try:
                event: object | None = self.queue.get(timeout=timeout)
            except queue.Empty:
                event = None
            now = self.clock()
            if event is not None:
                self._dispatch(event, now)
            self._on_time(now)
            self._publish_state()
            self._flush_sinks()

    def _deadline(self) -> float:
        times = [self._next_health]
        pulses = self._pulses.deadline() if self._pulses is not None else None
        deadlines = (self.session.deadline(), self._debouncer.settle_at, self._retry_at, pulses)
        for t in (*deadlines, self._idle_stop_at):
            if t is not None:
                times.append(t)
        return min(times)

    def _dispatch(self, event: object, now: float) -> None:
        match event:
            case HookEdge(off_hook=level, t=t):
                changed = self._debouncer.edge(level, t)
                if changed is not None:
                    self._feed(Lifted(t) if changed else HungUp(t), now)
            case DialEdge(contact=contact, active=active, t=t) if self._pulses is not None:
                for digit in self._pulses.edge(contact, active, t):
                    self._feed(Dialed(digit, "rotary", self._pulses.ended_at), now)
            case Dialed():
                self._feed(event, now)
            case ClipUnplayable(file=file):
                self.library.exclude(file)
                self._feed(event, now)
            case AudioLost(reason=reason):
                self._audio_failed(reason, now)
            case _StreamClosed():
                self._closer = None
                self.mixer.reset()
                self._live_voice = False  # a relayed call plays again once audio is back
            case SoundFinished() | Prepared() | CallAnswered() | CallClosed():
                self._feed(event, now)
            case CallAudio():
                self._feed(event, now)
                self._play_relayed_call()
            case LivePresence(calls=calls, new=new):
                self.live_calls = calls
                if new and self.bell is not None and self.session.state is State.IDLE:
                    rang = self.bell.ring(self.wall(), now)
                    self._report({"event": "bell", "t": now, "rang": rang, "why": "live call"})
            case CallIncoming(peer=peer):
                # Listen-only: refuse (486). While a dial of ours is open baresip's
                # call_max_calls 1 refuses it, and a hangup now could end our call instead.
                if self.live is not None and not self.session.call_open:
                    log.info("live: refusing an incoming call from %s", peer)
                    self.live.reject()
            case LiveStatus(up=up, reason=reason):
                if event != self.live_status:
                    self._report({"event": "live_status", "t": now, "up": up, "reason": reason})
                self.live_status = event
                self._feed(event, now)
            case Report(fields=fields):
                self._report(fields)
            case RingBell():
                if self.bell is not None:
                    rang = self.bell.ring(self.wall())
                    self._report({"event": "bell", "t": now, "rang": rang})
            case SyncReady():
                self._pending_set = event
                self._activate_pending(now)
            case ConsentPurged(removed=removed, active_files=files):
                for file in files:
                    self.library.exclude(file)
                n = CONSENT_PATHS  # one record stays small (kiosk.fleet.fit)
                for i in range(0, max(len(removed), len(files), 1), n):
                    part = {"removed": list(removed[i : i + n]), "files": list(files[i : i + n])}
                    self._report({"event": "consent", "t": now, **part})
            case Healed(set_name=set_name, files=files):
                for file in files:  # one event each: the hub counts them per booth
                    self._report({"event": "heal", "t": now, "set": set_name, "clip": file})
            case UpdateProgress(state=state, version=version, reason=reason):
                if (state, version, reason) != (
                    self.update.state,
                    self.update.version,
                    self.update.reason,
                ):
                    fields = {"state": state, "version": version, "reason": reason}
                    self._report({"event": "update", "t": now, **fields})
                    self.update = event
            case SyncFailed(state=state, reason=reason):
                if (state, reason) != (self.sync_state, self._sync_reason):
                    self._report({"event": "sync", "t": now, "state": state, "reason": reason})
                self.sync_state, self._sync_reason = state, reason

    def _on_time(self, now: float) -> None:
        settle_at = self._debouncer.settle_at
        if settle_at is not None and now >= settle_at:
            changed = self._debouncer.settle(self.hook.off_hook(), now)
            if changed is not None:
                self._feed(Lifted(now) if changed else HungUp(now), now)
        due = self._pulses.deadline() if self._pulses is not None else None
        # Only with no edge queued: a level must not be decided past an edge not yet seen (a
        # busy loop would count a queued bounce as a pulse). The next turn comes at once.
        if self._pulses is not None and due is not None and now >= due and self.queue.empty():
            for digit in self._pulses.settle(now):
                self._feed(Dialed(digit, "rotary", self._pulses.ended_at), now)
        deadline = self.session.deadline()
        if deadline is not None and now >= deadline:
            self._feed(Tick(now), now)
        if self._retry_at is not None and now >= self._retry_at and self._closer is None:
            self._open_audio(now)
        if self._idle_stop_at is not None and now >= self._idle_stop_at:
            self._idle_stop(now)
        if now >= self._next_health:
            self._next_health = now + self._health_s
            self._check_health(now)

    def _feed(self, event: object, now: float) -> None:
        if self.hook_file is not None and isinstance(event, Lifted | HungUp):
            self.hook_file.write(isinstance(event, HungUp))
        self._run_effects(self.session.handle(event, now, self.wall()))
        self._arm_idle_stop(now)
        if self.sync is not None:
            if self.session.state is State.IDLE:
                self.sync.on_hook.set()
                self._activate_pending(now)
            else:
                self.sync.on_hook.clear()

    def _sync_worker(self, store: SetStore) -> SyncWorker:
        # Imported here: TUF, cryptography and requests cost a booth without sync ~20 MB.
        from kiosk.sync.fetcher import Fetcher, FetchLimits
        from kiosk.sync.updater import Source, Syncer
        from kiosk.sync.worker import SyncWorker
        from kiosk.update.downloader import ReleaseDownloader, UpdateSource

        cfg = self.config.sync
        state_dir = Path(self.config.state_dir)
        source = Source(cfg.url, Path(cfg.root), cfg.set, cfg.group)
        fetcher = Fetcher(FetchLimits(sync_deadline_s=cfg.deadline_s))
        syncer = Syncer(source, store, fetcher, state_dir, reserve_bytes=cfg.reserve_mb << 20)
        releases = None
        if self.config.update.enabled:
            status_file = Path(self.config.update.status_file)
            releases = ReleaseDownloader(
                UpdateSource(cfg.url, cfg.group, status_file),
                fetcher,
                state_dir,
                reserve_bytes=cfg.reserve_mb << 20,
            )
        return SyncWorker(
            syncer, store, cfg.interval, cfg.jitter, self.post, self.rng, releases=releases
        )

    def _activate_pending(self, now: float) -> None:
        """Switch to a staged set, only while the handset is on the hook (never mid-clip)."""
        ready = self._pending_set
        if ready is None or self.store is None or self.session.state is not State.IDLE:
            return
        self._pending_set = None
        was = self.store.active()
        try:
            self.store.activate(ready.folder)
        except (OSError, ValueError) as e:
            self._report({"event": "sync", "t": now, "state": "error", "reason": str(e)})
            return
        self.sync_state, self._sync_reason = "ok", ""
        self._set_version = ready.version
        if was == ready.folder:
            return
        self.library.clips_path = self.store.sets / "current"
        for problem in self.library.load():
            self._report({"event": "error", "t": now, "message": problem})
        self._run_effects(self.session.handle(SetChanged(), now, self.wall()))
        self._report(
            {
                "event": "sync",
                "t": now,
                "state": "ok",
                "set": ready.set_name,
                "version": ready.version,
                "downloaded_bytes": ready.downloaded_bytes,
            }
        )

    def _run_effects(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Play(sound=sound):
                    self._live_voice = False
                    self.mixer.play(sound.samples, SoundFinished(sound))  # type: ignore[arg-type]
                    self._resume_audio()
                    if sound.clip is not None:
                        self.library.started(sound.clip.file)
                case Stop():
                    self._live_voice = False
                    self.mixer.stop()
                case PrepareNext():
                    self.library.prepare_next(self.wall())
                case PrepareNewest():
                    self.library.prepare_newest(self.wall())
                case Persist():
                    self.library.save()
                case Report(fields=fields):
                    self._report(fields)
                case Dial(call=call, uri=uri):
                    assert self.live is not None
                    self.live.dial(call, uri)
                case Hangup(call=call):
                    assert self.live is not None
                    self.live.hangup(call)
                    if self._live_voice:  # baresip stops its own playback; ours fades out
                        self._live_voice = False
                        self.mixer.stop()

    def _play_relayed_call(self) -> None:
        """The hub relay's call goes live: play its jitter buffer through our mixer."""
        live = self.live
        if live is None or isinstance(live, LiveLink) or self.session.state is not State.LIVE:
            return
        if not self._live_voice:
            self._live_voice = True
            self.mixer.play(live.samples(), None)  # type: ignore[arg-type]

    def _hub_identity(self) -> Identity | None:
        from kiosk.fleet import identity

        try:
            return identity.load(Path(self.config.state_dir))
        except StateSchemaError as e:  # a newer version's fleet.json: clips only
            self._report({"event": "error", "t": self.clock(), "source": "live", "message": str(e)})
            return None

    def _live_link(self) -> LiveLink | HubLink | None:
        """baresip's link, or the hub relay's (its client imported only then), or None when
        the booth is not enrolled (`kiosk enroll`): clips only."""
        cfg = self.config
        if cfg.live.source == "sip":
            return LiveLink(cfg.live, Path(cfg.state_dir) / "baresip", self.post)
        me = self._hub_identity()
        if me is None:
            reason = "live.source is hub but this booth is not enrolled (kiosk enroll)"
            self._report({"event": "error", "t": self.clock(), "source": "live", "message": reason})
            self.post(LiveStatus(False, "not enrolled"))
            return None
        from kiosk.live.hub_client import HubLink

        return HubLink(cfg.live, me, cfg.audio.rate, self.post)

    def _live_settings(self) -> LiveSettings:
        live, rate = self.config.live, self.config.audio.rate
        uri = live.monitor_uri
        if live.source == "hub":
            from kiosk.live.hub_client import hub_ws_url

            me = self._hub_identity()
            uri = hub_ws_url(me.hub) if me is not None else ""
        return LiveSettings(
            uri,
            live.answer_timeout,
            live.continue_,
            chime("connecting", rate),
            chime("call_ended", rate),
            live.source,
        )

    def _dial_settings(self, prompts: dict[SoundKind, Sound]) -> DialSettings:
        dial = self.config.dial
        return DialSettings(
            dial.map.action,
            dial.interrupt_live,
            dial.ask,
            dial.ask_after_s,
            dial.answer_s,
            prompts["guide"],
            prompts["rating"],
        )

    def _flush_sinks(self) -> None:
        """One commit per loop turn for sinks that batch (the durable outbox)."""
        for sink in self.sinks:
            flush = getattr(sink, "flush", None)
            if flush is None:
                continue
            try:
                flush()
            except Exception as e:  # disk full: the events stay buffered, the booth plays on
                log.error("event sink %r: %s", sink, e)

    def _report(self, fields: dict[str, Any]) -> None:
        if fields.get("event") == "lift":
            self._last_lift = self.wall().timestamp()
        for sink in self.sinks:
            try:
                sink.publish(fields)
            except Exception:  # a broken sink must not stop the booth
                log.exception("event sink %r failed", sink)

    # -- audio health and recovery --------------------------------------------------------
    def _open_audio(self, now: float) -> None:
        assert self.audio is not None
        try:
            self.audio.open(rescan=self._retry_at is not None)
        except AudioError as e:
            self._retry_at = now + self._backoff_s
            self._report({"event": "error", "t": now, "source": "audio", "message": str(e)})
            log.error("%s; retrying in %.0f s", e, self._backoff_s)
            if self.session.audio_ok:  # never opened yet: lifts must know audio is down
                self._feed(AudioLost(str(e)), now)
            if not self._readied:
                self.notifier.extend_timeout(self._backoff_s + 10)
            self._backoff_s = min(self._backoff_s * 2, self.config.audio.retry_max_s)
            return
        self._last_callbacks = -1
        self._next_health = now + self._health_s
        self._arm_idle_stop(now)
        if self._retry_at is not None:
            self._retry_at = None
            self._feed(AudioBack(self.audio.device_name), now)
            self._play_relayed_call()
        self._backoff_s = 1.0
        if not self._readied:
            self._readied = True
            self.notifier.ready(self.session.status())
            self.ready.set()

    def _check_health(self, now: float) -> None:
        """Feed the watchdog only while the audio thread runs or its recovery progresses."""
        assert self.audio is not None
        if self.audio.running:  # paused on purpose when idle: nothing to advance
            callbacks = self.mixer.stats.callbacks
            stalled = callbacks == self._last_callbacks
            self._last_callbacks = callbacks
            if stalled:
                self._audio_failed("the audio callback stalled", now)
                return
        elif self._closer is not None:
            return  # a stuck close must let the watchdog fire
        if self.live is not None and not self.live.healthy():
            return  # the thread that supervises baresip died: let systemd restart us
        self.notifier.watchdog()

    def _arm_idle_stop(self, now: float) -> None:
        """Plan the idle stop of a running stream while the handset is on the hook."""
        idle_s = self.config.audio.idle_stop_s
        running = self.audio is not None and self.audio.running
        if not running or idle_s <= 0 or self.session.state is not State.IDLE:
            self._idle_stop_at = None
        elif self._idle_stop_at is None:
            self._idle_stop_at = now + idle_s

    def _idle_stop(self, now: float) -> None:
        """Pause the stream of an idle booth: no callbacks, no wake-ups until the next sound."""
        assert self.audio is not None
        self._idle_stop_at = None
        if not self.mixer.silent:  # a fade still on its way out
            self._arm_idle_stop(now)
            return
        try:
            self.audio.pause()
        except AudioError as e:
            self._audio_failed(str(e), now)
            return
        log.debug("audio: stream paused after %g s of silence", self.config.audio.idle_stop_s)

    def _resume_audio(self) -> None:
        """Open the paused stream for a sound the mixer just queued (it primes the buffer)."""
        audio = self.audio
        if audio is None or not audio.is_open or audio.running:
            return
        self._last_callbacks = -1  # the next health check starts counting afresh
        try:
            audio.resume()
        except AudioError as e:  # handled by the loop, outside this effect list
            self.post(AudioLost(str(e)))

    def _audio_failed(self, reason: str, now: float) -> None:
        assert self.audio is not None
        if not self.audio.is_open:
            return
        self._report({"event": "error", "t": now, "source": "audio", "message": reason})
        log.error("audio: %s; reopening", reason)
        self._feed(AudioLost(reason), now)
        stream = self.audio.detach()

        def close() -> None:
            AudioOutput.close_stream(stream)
            self.post(_StreamClosed())

        self._closer = threading.Thread(target=close, name="audio-close", daemon=True)
        self._closer.start()
        self._retry_at = now + self._backoff_s

    # -- for the screen and systemd --------------------------------------------------------
    def _publish_state(self) -> None:
        status = self.session.status()
        if self.sync_state in ("stale", "error"):
            status += f"; content {self.sync_state}, playing the last good set"
        if self.live is not None and not self.live_status.up:
            if self.live_status.reason == "no live call":  # the hub relay: nothing to hear now
                status += "; no live call"
            else:
                status += f"; live calls unavailable ({self.live_status.reason})"
        playing = self.session.playing
        clip = playing.clip if playing is not None else None
        snap = Snapshot(
            self.session.state.value,
            status,
            clip.title if clip else "",
            clip.speaker if clip else "",
        )
        if snap != self.snapshot:
            self.snapshot = snap
            self.notifier.status(status)
        fleet = BoothStatus(
            self.library.clipset.name,
            self._set_version,
            self.sync_state,
            self._sync_reason,
            self._last_lift,
            self.audio is not None and self.audio.is_open and self._retry_at is None,
            self._hook_ok,
            self.update.state,
            self.update.version,
            self.update.reason,
            self.update.at,
        )
        if fleet != self.fleet_status:
            self.fleet_status = fleet
        if self.lamp is not None:
            audio_ok = self.session.audio_ok and self._retry_at is None
            off_hook, live_call = self.session.off_hook, self.live_calls > 0
            self.lamp.show(look_for(self._readied, audio_ok, off_hook, self.sync_state, live_call))
