"""Read aloud with the real espeak-ng (Debian package espeak-ng): audio as WAV on stdout
(``espeak-ng --stdout``) instead of a sound card, so the tests run on a machine without one."""

import array
import logging
import os
import shutil
import time
import wave
from pathlib import Path

import pytest

from kiosk.hardware.speech import Speaker
from kiosk.i18n import VOICES

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed "
                                "(deploy/system-packages.sh installs it)")

# A sentence of the kiosk in each language, with the letters each language needs.
SENTENCES = {"de": "Bitte stecken Sie Ihre Gesundheitskarte in das Lesegerät.",
             "en": "Please insert your health insurance card.",
             "tr": "Lütfen sağlık sigortası kartınızı okuyucuya takın.",
             "fr": "Veuillez insérer votre carte d'assurance maladie."}


def samples(path: Path) -> array.array:
    """The 16-bit samples of a WAV espeak-ng wrote (its header holds no length when streamed: read all)."""
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return array.array("h", w.readframes(w.getnframes()))


def speak_to_file(tmp_path: Path, text: str, language: str, name: str = "out.wav") -> array.array:
    path = tmp_path / name
    with path.open("wb") as out:
        speaker = Speaker("espeak-ng --stdout", stdout=out)
        assert speaker.say(text, language)
        speaker.wait()
    return samples(path)


def children() -> dict[int, list[str]]:
    """This process's child processes the Speaker started and their argv, as any process on the box can
    read them (espeak-ng, or the test's wrapper script; other tests' children, such as a pcscd, are not
    counted)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        argv = [a.decode() for a in cmdline.split(b"\0") if a]
        if ppid == os.getpid() and argv and Path(argv[0]).name in ("espeak-ng", "sh", "speak"):
            found[int(entry.name)] = argv
    return found


def descendants(pid: int) -> set[int]:
    """The processes ``pid`` started, and theirs."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child in [c for c, p in parents.items() if p == parent and c not in found]:
            found.add(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its parent to reap it no longer does)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def eventually(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("language", sorted(VOICES))
def test_each_language_is_spoken_with_its_voice(tmp_path, language):
    sound = speak_to_file(tmp_path, SENTENCES[language], language)
    seconds = len(sound) / 22050
    assert seconds > 1.5, "a whole sentence, not a beep"
    assert max(abs(s) for s in sound) > 3000, "audible, not silence"


def test_the_text_goes_through_stdin_not_the_command_line(tmp_path):
    short = speak_to_file(tmp_path, "Ja.", "de", "short.wav")
    long = speak_to_file(tmp_path, "Ja. " + SENTENCES["de"] * 3, "de", "long.wav")
    assert len(long) > 5 * len(short), "the text reached espeak-ng"

    # A process that cannot get rid of its audio (a pipe nobody reads) keeps speaking: look at its argv.
    read_end, write_end = os.pipe()
    try:
        speaker = Speaker("espeak-ng --stdout", stdout=write_end)
        secret = "Zebulon Quaxmeier, geboren am 3. März 1931"
        assert speaker.say(secret * 20, "de")
        assert speaker.speaking()
        [argv] = children().values()
        assert argv[0].endswith("espeak-ng") and "--stdin" in argv and ["-v", "de"] == argv[argv.index("-v"):][:2]
        assert not any("Zebulon" in a or "Quaxmeier" in a or "1931" in a for a in argv)
        speaker.stop()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_stop_ends_a_long_utterance_and_a_new_one_replaces_the_old(tmp_path):
    read_end, write_end = os.pipe()
    try:
        speaker = Speaker("espeak-ng --stdout", stdout=write_end)
        speaker.say(SENTENCES["en"] * 50, "en")
        [first] = children()
        speaker.say(SENTENCES["fr"] * 50, "fr")      # a new tap: the first stops
        assert eventually(lambda: first not in children()), "killed and reaped (in the background)"
        [second] = children()
        assert speaker.speaking()
        speaker.stop()
        assert not speaker.speaking()
        assert eventually(lambda: children() == {}), "killed and reaped (in the background)"
        speaker.stop()      # nothing to stop: no error
    finally:
        os.close(read_end)
        os.close(write_end)


def test_stop_ends_what_a_wrapper_script_started_without_waiting_for_it(tmp_path):
    # A configured command that is a script: espeak-ng is its child (reading the text from the stdin it
    # inherits), piped into a player, here one that never plays and never ends (sleep 30).
    script = tmp_path / "speak"
    script.write_text('#!/bin/sh\nespeak-ng --stdout "$@" | sleep 30\n')
    script.chmod(0o755)
    speaker = Speaker(str(script))
    assert speaker.say(SENTENCES["de"] * 50, "de")
    [wrapper] = children()
    assert eventually(lambda: len(descendants(wrapper)) == 2), "sh started espeak-ng and the player"
    started = descendants(wrapper)
    assert all(running(pid) for pid in started)

    begin = time.monotonic()
    speaker.stop()
    took = time.monotonic() - begin
    assert took < 20, f"stop waited {took:.1f} s for the player to end by itself"
    assert not speaker.speaking()
    assert eventually(lambda: not any(running(pid) for pid in started)), "espeak-ng and the player were killed"
    assert eventually(lambda: children() == {}), "the script was reaped in the background: no zombie"
    print(f"stop() took {took * 1000:.1f} ms")


def test_a_missing_program_logs_one_warning_without_the_text(caplog):
    speaker = Speaker("/nonexistent/espeak-ng")
    assert not speaker.available
    with caplog.at_level(logging.WARNING, logger="kiosk.hardware.speech"):
        assert not speaker.say("Zebulon Quaxmeier", "de")
        assert not speaker.say("Zebulon Quaxmeier", "de")
    assert len(caplog.records) == 1
    assert "Zebulon" not in caplog.text and "espeak-ng" in caplog.text


def test_no_audio_device_logs_one_warning_without_the_text(caplog, monkeypatch):
    # No sound card (ALSA and PulseAudio pointed at nothing): espeak-ng exits 0 but complains on stderr.
    monkeypatch.setenv("ALSA_CONFIG_PATH", "/nonexistent/alsa.conf")
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/pulse")
    speaker = Speaker("espeak-ng")
    assert speaker.available
    with caplog.at_level(logging.WARNING, logger="kiosk.hardware.speech"):
        for _ in range(2):
            assert speaker.say("Zebulon Quaxmeier", "de")
            speaker.wait()
    assert len(caplog.records) == 1, caplog.text
    assert "Zebulon" not in caplog.text and "Quaxmeier" not in caplog.text


def test_the_speech_program_does_not_inherit_the_stores_key(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_STORE_KEY", "ab" * 32)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    seen = tmp_path / "env.txt"
    script = tmp_path / "speak.sh"
    script.write_text(f"#!/bin/sh\nenv > {seen}\ncat > /dev/null\n")
    script.chmod(0o755)
    speaker = Speaker(str(script))
    assert speaker.say("Hallo", "de")
    deadline = time.monotonic() + 10
    while not (seen.exists() and "PATH=" in seen.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    speaker.stop()
    env = seen.read_text()
    assert "PATH=" in env, "the program ran"
    assert "KIOSK_STORE_KEY" not in env and "CREDENTIALS_DIRECTORY" not in env
