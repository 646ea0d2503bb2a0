"""The receiver: the audio card by name, a 1 kHz tone and a spoken sentence, "did you hear it?"."""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.audio.decode import Samples, decode
from kiosk.audio.mixer import Mixer
from kiosk.audio.output import AudioOutput, find_device
from kiosk.config import AudioConfig
from kiosk.errors import AudioError, DecodeError
from kiosk.selftest.console import Console
from kiosk.selftest.report import Item, failed, passed, skipped

TONE = "test-tone.ogg"  # 1 kHz, 1 s, -12 dBFS
SENTENCE = "self-test.ogg"
SENTENCE_TEXT = "This is the booth's self test. If you can hear this voice, the receiver works."
GAP_S = 0.3
RECEIVER_FIX = (
    "check the receiver's wires to the card's output, audio.gain_db, and the card's volume "
    "(alsamixer -c CARD)"
)


def check_card(config: AudioConfig) -> Item:
    """The configured output device exists (PortAudio's list, matched as the daemon does)."""
    import sounddevice as sd

    try:
        index = find_device(config.device, list(sd.query_devices()))
    except AudioError as e:
        return failed(
            "audio_card",
            str(e),
            "plug the USB sound card in, or set audio.device to one of the present devices",
        )
    return passed("audio_card", f"{config.device!r} is {sd.query_devices(index)['name']!r}")


def tone_and_sentence(prompts: Path, rate: int) -> Samples:
    """The tone, a short gap, then the sentence, as one mono float32 buffer at `rate`."""
    tone = decode(prompts / TONE, rate, max_seconds=30)
    sentence = decode(prompts / SENTENCE, rate, max_seconds=30)
    gap = np.zeros(round(GAP_S * rate), dtype=np.float32)
    return np.concatenate([tone, gap, sentence]).astype(np.float32)


def play(config: AudioConfig, samples: Samples) -> str:
    """Play `samples` once on the configured device through the booth's Mixer and AudioOutput.

    Returns the device's name; raises AudioError. Blocks until the last sample is out.
    """
    rate = config.rate
    block = max(1, round(rate * config.block_ms / 1000))
    events: queue.SimpleQueue[object] = queue.SimpleQueue()
    mixer = Mixer(
        max(block * 4, 8192),
        max(1, round(rate * config.fade_ms / 1000)),
        10 ** (config.gain_db / 20),
        events.put,
    )
    lost = object()
    output = AudioOutput(
        config.device,
        rate,
        config.channels,
        block,
        config.latency_ms / 1000,
        mixer,
        lambda: events.put(lost),
    )
    done = object()
    output.open()
    try:
        mixer.play(samples, done)
        try:
            event = events.get(timeout=len(samples) / rate + 10)
        except queue.Empty:
            raise AudioError(f"audio.device {config.device!r}: playback stalled") from None
        if event is lost:
            raise AudioError(f"audio.device {config.device!r}: the stream stopped (unplugged?)")
        time.sleep(config.latency_ms / 1000 + 0.1)  # the device's buffer drains before close
    finally:
        output.close()
    return output.device_name


def check_playback(config: AudioConfig, prompts: Path, player: Any = play) -> Item:
    """Play the tone and the sentence; PASS if the device took every sample."""
    try:
        samples = tone_and_sentence(prompts, config.rate)
    except DecodeError as e:
        return failed("audio_playback", f"bundled test sound {e}", "reinstall the booth")
    try:
        name = player(config, samples)
    except AudioError as e:
        return failed("audio_playback", str(e), "check the card (audio_card) and audio.rate")
    return passed("audio_playback", f"played a 1 kHz tone and a sentence on {name!r}")


def check_heard(console: Console) -> Item:
    """Ask the technician whether the receiver sounded."""
    answer = console.ask(
        f'Did you hear a tone, then a voice say "{SENTENCE_TEXT}" in the receiver? [y/n]'
    )
    if answer is None:
        return skipped("audio_heard", "no answer (input closed)")
    if answer.startswith("y"):
        return passed("audio_heard", "the technician heard the tone and the sentence")
    return failed("audio_heard", "the technician did not hear the receiver", RECEIVER_FIX)
