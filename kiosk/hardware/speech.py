"""Read aloud: the text of a screen spoken by espeak-ng, in the patient's language.

The text goes to espeak-ng on its standard input, never on its command line: every process on the
box can read another's argv (``/proc/<pid>/cmdline``), and a screen may hold a patient's name. The
speaker never blocks the UI: each utterance is a subprocess fed and reaped by a short-lived thread.
A new utterance stops the one before; ``stop`` (at every wipe and screen change) ends it, with
anything the program started, and returns at once. A kiosk without espeak-ng or without an audio
device keeps working: it logs one warning, with nothing of what was to be spoken, and stays silent.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import subprocess
import threading
from typing import IO

from kiosk.i18n import speech_argv

log = logging.getLogger(__name__)

_POLL_S = 0.25      # how often the speech thread looks whether its utterance was stopped


class Speaker:
    """Speaks one text at a time through ``command`` (espeak-ng, or anything that takes its options).

    :param command: the program and any options of its own, split like a shell would but run without
        one, e.g. ``"espeak-ng"`` or ``"espeak-ng --stdout"`` (audio as WAV on stdout instead of a device)
    :param rate_wpm: speaking rate (words per minute; espeak-ng's own default is 175)
    :param stdout: where the program's standard output goes (default: discarded)
    """

    def __init__(self, command: str = "espeak-ng", *, rate_wpm: int = 150, stdout: IO | int | None = None):
        self.argv = shlex.split(command)
        self.rate_wpm = rate_wpm
        self.stdout = subprocess.DEVNULL if stdout is None else stdout
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._warned = False

    @property
    def available(self) -> bool:
        """Whether the program can be found (the read-aloud buttons show only then)."""
        return bool(self.argv) and shutil.which(self.argv[0]) is not None

    def command_line(self, language: str) -> list[str]:
        """The argv of one utterance: voice and rate, input as UTF-8 on stdin; never the text itself."""
        return speech_argv(self.argv, language, self.rate_wpm)

    def say(self, text: str, language: str) -> bool:
        """Start speaking ``text`` in ``language`` (stopping what is being spoken); returns at once.

        Returns False when nothing could be started (no text, or the program is missing)."""
        self.stop()
        if not text.strip():
            return False
        try:
            process = subprocess.Popen(self.command_line(language), stdin=subprocess.PIPE, stdout=self.stdout,
                                       stderr=subprocess.PIPE, close_fds=True, start_new_session=True,
                                       env=_without_secrets(os.environ))
        except OSError as e:
            self._warn(f"read aloud is unavailable: {self.argv[0] if self.argv else 'no command'} cannot be "
                       f"started ({type(e).__name__})")
            return False
        thread = threading.Thread(target=self._feed, args=(process, text.encode("utf-8")), name="speech",
                                  daemon=True)
        with self._lock:
            self._process, self._thread = process, thread
        thread.start()
        return True

    def speaking(self) -> bool:
        """Whether an utterance is still running."""
        with self._lock:
            return self._process is not None and self._process.poll() is None

    def wait(self) -> None:
        """Block until the current utterance has ended (for tools and tests; the kiosk never waits)."""
        thread = self._thread
        if thread is not None:
            thread.join()

    def stop(self) -> None:
        """End the current utterance at once (nothing happens when there is none); never waits for it.

        The program runs in a session of its own (``start_new_session``), so the whole process group is
        killed: a configured wrapper (``sh -c 'espeak-ng --stdout "$@" | aplay' --``) and espeak-ng under
        it end together. The speech thread reaps it in the background."""
        with self._lock:
            process, self._process = self._process, None
            thread, self._thread = self._thread, None
        if process is not None and (process.returncode is None or (thread is not None and thread.is_alive())):
            # While its thread runs, the group may still speak even when the program itself has ended.
            _kill_group(process)

    def _feed(self, process: subprocess.Popen, data: bytes) -> None:
        """Give the text to the program and wait for it to end (on the speech thread); after ``stop``,
        reap it without waiting for its pipes (a process that left the group may still hold them)."""
        errors, pending = b"", data
        try:
            while True:
                try:
                    _, errors = process.communicate(pending, timeout=_POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    pending = None          # communicate keeps what it has not written yet
                    if self._stopped(process):
                        break
        except (OSError, ValueError):       # killed while reading its input
            pass
        stopped = self._stopped(process)
        if stopped:
            for pipe in (process.stdin, process.stderr):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
        process.wait()
        # espeak-ng exits 0 without an audio device but says so on stderr; what it says is not logged,
        # only that it failed (it holds no text, but nothing spoken may reach the log).
        if not stopped and (process.returncode or (errors or b"").strip()):
            self._warn(f"read aloud failed: {self.argv[0]} ended with code {process.returncode} and an error "
                       "message (no audio device?)")

    def _stopped(self, process: subprocess.Popen) -> bool:
        with self._lock:
            return self._process is not process

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(message)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL ``process``'s process group (its pid: it leads a session of its own)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):   # the group has ended already
        pass


def _without_secrets(environ) -> dict:
    """The environment for the speech program: without the store's key (KIOSK_STORE_KEY, as `sudo kiosk run`
    hands it on) or the folder of systemd credentials, which a program that only speaks has no use for."""
    return {k: v for k, v in environ.items() if k not in ("KIOSK_STORE_KEY", "CREDENTIALS_DIRECTORY")}
