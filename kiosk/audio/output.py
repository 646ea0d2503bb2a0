"""The one PortAudio output stream to the handset receiver, chosen by ALSA device name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sounddevice as sd

from kiosk.audio.mixer import Mixer
from kiosk.errors import AudioError

log = logging.getLogger(__name__)


def find_device(name: str, devices: list[dict[str, Any]]) -> int:
    """Index of the output device named `name`: exact match first, then a substring.

    Raises AudioError listing the output devices there are.
    """
    outputs = [(i, d) for i, d in enumerate(devices) if d.get("max_output_channels", 0) > 0]
    for i, d in outputs:
        if d["name"] == name:
            return i
    wanted = name.lower()
    for i, d in outputs:
        if wanted in str(d["name"]).lower():
            return i
    have = ", ".join(repr(d["name"]) for _, d in outputs) or "none"
    raise AudioError(f"audio.device: no output device matching {name!r} (present: {have})")


class AudioOutput:
    """Owns the stream; the PortAudio thread calls only `mixer.render`.

    `on_stopped` runs on the PortAudio thread when the stream ends by itself (device lost);
    it must only post an event. `pause()` closes the stream of an idle booth (no callbacks, no
    PortAudio thread); `resume()` opens it again, priming the buffer from the mixer, so the
    sound queued before it is the first thing written. Closed rather than stopped: starting a
    stopped stream whose device went away meanwhile hangs in PortAudio 19.6 (its callback
    thread never comes up), while opening one fails at once.
    """

    def __init__(
        self,
        device: str,
        rate: int,
        channels: int,
        block_frames: int,
        latency_s: float,
        mixer: Mixer,
        on_stopped: Callable[[], None],
    ) -> None:
        self.device = device
        self.rate = rate
        self.channels = channels
        self.block_frames = block_frames
        self.latency_s = latency_s
        self.mixer = mixer
        self._on_stopped = on_stopped
        self._stream: sd.OutputStream | None = None
        self._paused = False
        self.device_name = ""

    @property
    def is_open(self) -> bool:
        """Running, or paused on purpose (`resume()` opens it again)."""
        return self._stream is not None or self._paused

    @property
    def running(self) -> bool:
        """Open and calling back (not paused)."""
        return self._stream is not None

    def open(self, rescan: bool = False) -> None:
        """Open and start the stream. Raises AudioError naming the device."""
        if self._stream is not None:
            return
        self._stream = self._start(rescan)
        self._paused = False
        log.info("audio stream open on %r at %d Hz", self.device_name, self.rate)

    def _start(self, rescan: bool) -> sd.OutputStream:
        try:
            if rescan:
                # PortAudio lists devices once at init; re-init to see a re-plugged USB card.
                sd._terminate()
                sd._initialize()
            index = find_device(self.device, list(sd.query_devices()))
            self.device_name = str(sd.query_devices(index)["name"])
            stream = sd.OutputStream(
                device=index,
                samplerate=self.rate,
                channels=self.channels,
                dtype="float32",
                blocksize=self.block_frames,
                latency=self.latency_s,
                callback=self._callback,
                finished_callback=self._finished,
                prime_output_buffers_using_stream_callback=True,
            )
            stream.start()
        except AudioError:
            raise
        except (sd.PortAudioError, ValueError, OSError) as e:
            raise AudioError(f"audio.device {self.device!r}: cannot open: {e}") from e
        return stream

    def pause(self) -> None:
        """Close the stream, dropping what is buffered (silence); `is_open` stays True."""
        stream = self._stream
        if stream is None:
            return
        self._paused = True
        self._stream = None  # first: the finished callback must not report a lost device
        self.close_stream(stream)

    def resume(self) -> None:
        """Open a paused stream again. Raises AudioError naming the device (still paused)."""
        if self._stream is None and self._paused:
            self._stream = self._start(rescan=False)
            self._paused = False

    def detach(self) -> sd.OutputStream | None:
        """Forget the stream at once (is_open turns False); close it with `close_stream`."""
        stream, self._stream = self._stream, None
        self._paused = False
        return stream

    def close(self) -> None:
        """Abort and close the stream (safe to call twice)."""
        self.close_stream(self.detach())

    @staticmethod
    def close_stream(stream: sd.OutputStream | None) -> None:
        """Abort and close; may block if the audio thread is stuck, so callers may thread it."""
        if stream is None:
            return
        try:
            stream.abort(ignore_errors=True)
            stream.close(ignore_errors=True)
        except sd.PortAudioError as e:  # the device may already be gone
            log.warning("audio stream close: %s", e)

    def _callback(self, outdata: Any, frames: int, time: Any, status: sd.CallbackFlags) -> None:
        self.mixer.render(outdata, bool(status.output_underflow))

    def _finished(self) -> None:
        if self._stream is not None and not self._paused:
            self._on_stopped()
