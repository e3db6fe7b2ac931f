"""What a lobby display plays when a number is called: a chime, then the call read aloud in each of the
display's languages ("Number A 17, please go to Desk 2."), made on the server by the kiosk's speech engine
(``[speech] command``, espeak-ng) as WAV, so that any browser plays it as audio, a TV box too.

The sentence holds a number and a place, never a name; it reaches espeak-ng on stdin, as on the kiosk.
"""

from __future__ import annotations

import functools
import io
import math
import re
import shlex
import struct
import subprocess
import wave

from kiosk.i18n import Catalogs, speech_argv
from kiosk.messages import N_

SENTENCE = N_("Number {number}, please go to {counter}.")
TIMEOUT_S = 10.0
RATE = 22050


class NoSpeech(Exception):
    """The speech engine is not there or failed; the display shows the call without its voice."""


def spoken_number(number: str) -> str:
    """A number as it is said: ``A-017`` as "A 17" (a speech engine would say "minus zero one seven")."""
    match = re.fullmatch(r"([A-Za-z0-9]*?)-?0*(\d+)", number)
    return f"{match.group(1)} {match.group(2)}".strip() if match else number


def sentence(catalogs: Catalogs, language: str, number: str, counter: str) -> str:
    return catalogs.translator(language)(SENTENCE).format(number=spoken_number(number), counter=counter)


def speak(command: str, rate_wpm: int, language: str, text: str) -> bytes:
    """``text`` in ``language`` as WAV, from the speech engine. :raises NoSpeech"""
    argv = speech_argv([*shlex.split(command), "--stdout"], language, rate_wpm)
    try:
        done = subprocess.run(argv, input=text.encode("utf-8"), capture_output=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise NoSpeech(type(e).__name__) from None
    if done.returncode or not done.stdout.startswith(b"RIFF"):
        raise NoSpeech(f"exit {done.returncode}")
    return done.stdout


@functools.cache
def chime() -> bytes:
    """Two soft tones, high then low (a "ding-dong"), 1.1 s of 16-bit mono WAV, made once."""
    frames = bytearray()
    for frequency, start, length in ((784.0, 0.0, 0.6), (523.25, 0.45, 0.65)):
        first = int(start * RATE)
        needed = first + int(length * RATE)
        if len(frames) // 2 < needed:
            frames.extend(b"\0\0" * (needed - len(frames) // 2))
        for i in range(int(length * RATE)):
            t = i / RATE
            envelope = min(1.0, t / 0.01) * math.exp(-3.5 * t)
            value = int(9000 * envelope * math.sin(2 * math.pi * frequency * t))
            at = 2 * (first + i)
            mixed = struct.unpack_from("<h", frames, at)[0] + value
            struct.pack_into("<h", frames, at, max(-32768, min(32767, mixed)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(frames))
    return out.getvalue()
