"""A day of check-ins in minutes, with every fault the project knows, and nothing lost.

Two kiosks of one site check in the day's patients side by side through the real screens (offscreen, driven
by touches as in bench_checkins.py), each as a child process that is killed with SIGKILL and started again
on the same encrypted store, each beside its own `kiosk sync` process (as kiosk-sync.service runs beside
kiosk.service): kiosk A delivers over FHIR R4 to a real FHIR server (tests/support/fhirserver.py) and reads cards
with the real PcscReader through pcscd and the vpcd virtual reader; kiosk B delivers HL7 v2 over MLLP to a
real receiver (tests/support/mllppeer.py) and has the simulated reader. Each prints tickets on a loopback network
printer (tests/support/fakeprinter.py). Between the kiosks and the hospital sits a TCP proxy (tests/support/faultproxy.py).

The fault schedule, by the share of the day's patients checked in (the hospital's, for the site) or of the
kiosk's own (the rest): the hospital system down for an hour (1/24 of the day: connections refused, open ones
reset), connection resets, slow answers (within and beyond the kiosk's timeout), FHIR 503 and 429 with
Retry-After, a 500 after the server committed, a 422 refusal, MLLP AR, AE, an ACK never sent and a connection
dropped after receipt; a kiosk killed at random moments, while it saves an admission (before and after the
commit), while it prints and while it delivers (its answer held back at the hospital), `kiosk sync` killed the
same way; the printer out of paper (staff then reprint with `kiosk print`), offline, switched off and silent;
kiosk B's reader unplugged and kiosk A's pcscd restarted (patients then type their name); the kiosk's clock
stepped three hours ahead and back (tests/support/clockstep.c, LD_PRELOADed into the kiosk's processes: their wall
clock only, as an NTP step); the disk nearly full (RLIMIT_FSIZE on the kiosk's processes, which the kernel
enforces on every file they write).

Time is compressed: "an hour" is 1/24 of the day's patients, and the hospital's retry pauses
(`hospital.retry_max_s`, 300 s on a real kiosk) are 1 s (a day of 600 patients takes about half an hour here, so
1 s here is about 40 s of a real day); answers time out after 2 s, printer steps after 1 s.

At the end the faults stop, the kiosks deliver what they hold, they are stopped, and `kiosk sync --once
--retry-refused` sends what the hospital refused (what staff do once the cause is fixed). Then, from the
sources of truth (the stores, the FHIR server's Encounters per admission identifier, the MLLP receiver's
messages per MSH-10 and PV1-19, the printers' bytes):

- lost: a patient who reached the done screen whose admission is not in the store, or a stored admission
  that is not at the hospital;
- duplicated: an admission the hospital holds more than once (resends the receiver recognised are counted
  apart);
- every stored admission's ticket printed, reprinted, sent to a printer that gave no status (with its
  printer_no_status incident), or a printer incident open for it;
- no personal data of any patient (distinctive names, birth dates in every format, KVNR, street, also
  JSON-, URL- and HL7-escaped, as tests/ops/test_phi_logs.py) in any process's stdout or stderr or in any file
  but the store's;
- memory: the kiosk's resident memory (/proc/self/statm after a garbage collection, at the start of every
  patient) over its longest stretch without a kill, from its 5th patient on.

The baseline is the same day, the same patients, kiosks and parts, without the faults: check-ins per minute
with faults against without is the price of the faults; the max outbox age (from the admission's commit to
its arrival at the hospital, on this process's clock; refused ones left out) stands beside the day without.

    .venv/bin/python benchmarks/bench_soak.py [--patients N] [--seed S] [--no-baseline] [--keep DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests" / "support"
MARK = "SOAK "                       # the child's protocol lines on its stdout
KIOSK = str(Path(sys.executable).parent / "kiosk")
KVNR_SYSTEM = "http://fhir.de/sid/gkv/kvid-10"
LANGUAGES = ("de", "en", "tr", "fr")
STORE_FILES = ("kiosk.db", "kiosk.db-wal", "kiosk.db-shm")
RETRY_MAX_S = 1.0                    # hospital.retry_max_s: 300 s of a real day, compressed
HOSPITAL_TIMEOUT_S = 2.0
PRINTER_TIMEOUT_S = 1.0
EVENT_TIMEOUT_S = 180.0              # a child that says nothing for this long has hung: the soak fails
SETTLE_S = 120.0                     # after the day, for the kiosks to deliver what they hold
WARM_UP = 5                          # patients of a life before its memory counts

sys.path.insert(0, str(TESTS))
import pcsc_service  # noqa: E402
from needles import date_formats, encodings  # noqa: E402


# --- the patients ------------------------------------------------------------------------------------

SYLLABLES = ("zor", "quv", "vex", "ryn", "thal", "brix", "oqu", "yss", "kev", "drul", "mirz", "plo", "xan",
             "vug", "jesk", "wim", "zaf", "qel")


def make_patients(count: int, seed: int) -> list[dict]:
    """``count`` patients with distinctive made-up names (three syllables of letters rare in words and
    logs), a birth date, a KVNR with a valid check digit and a street: the needles of the privacy check."""
    from kiosk.hardware.cards.egk import kvnr_check_digit_ok
    rng = random.Random(seed)

    def word(syllables: int) -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(syllables)).capitalize()

    def kvnr() -> str:
        stem = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + "".join(rng.choice("0123456789") for _ in range(8))
        return next(stem + d for d in "0123456789" if kvnr_check_digit_ok(stem + d))

    return [{"family": word(3), "given": word(3), "birth": (date(1930, 1, 1) + timedelta(days=rng.randrange(27000))
                                                          ).isoformat(),
             "kvnr": kvnr(), "street": word(2) + "weg", "house": str(rng.randint(1, 99)),
             "language": LANGUAGES[n // 2 % len(LANGUAGES)]} for n in range(count)]   # each kiosk: every language


def card_json(p: dict) -> dict:
    """The patient's eGK as `kiosk read-card --json` gives it (what the simulated reader plays)."""
    return {"card": "egk", "atr": "3BD396FF81B1FE451F078081052D",
            "patient": {"resourceType": "Patient", "identifier": [{"system": KVNR_SYSTEM, "value": p["kvnr"]}],
                        "name": [{"family": p["family"], "given": [p["given"]]}], "gender": "female",
                        "birthDate": p["birth"],
                        "address": [{"line": [f"{p['street']} {p['house']}"], "postalCode": "42103",
                                     "city": "Wuppertal", "country": "D"}]},
            "coverage": {"resourceType": "Coverage", "status": "active", "subscriberId": p["kvnr"],
                         "period": {"start": "2020-01-01"},
                         "payor": [{"identifier": {"system": "http://fhir.de/sid/arge-ik/iknr", "value": "109500969"},
                                    "display": "Test GKV Sozialversicherung"}]},
            "warnings": []}


def needles(patients: list[dict]) -> set[str]:
    texts = {t for p in patients for t in (p["family"], p["given"], p["kvnr"], p["street"], *date_formats(p["birth"]))}
    return {form.casefold() for text in texts for form in encodings(text)}


# --- the hospital: a FHIR server and an MLLP receiver behind fault proxies ----------------------------

class _Messages(list):
    """MllpPeer.messages, telling the hospital of each message as it arrives."""

    def __init__(self, hospital: Hospital):
        super().__init__()
        self.hospital = hospital

    def append(self, text: str) -> None:
        super().append(text)
        self.hospital.mllp_received(text)


class Hospital:
    def __init__(self):
        from faultproxy import FaultProxy
        from fhirserver import FhirServer
        from mllppeer import MllpPeer
        self.lock = threading.Lock()
        self.fhir = FhirServer()
        self.fhir_arrivals: dict[str, float] = {}       # X-Request-Id -> when SEKMET first committed it
        self.fhir_posts = collections.Counter()          # X-Request-Id -> transactions SEKMET committed
        self.committed = threading.Event()
        self.fhir._faults.app = self._recorder(self.fhir._faults.app)
        self.peer = MllpPeer().__enter__()
        self.peer.messages = _Messages(self)
        self.mllp_arrivals: dict[str, float] = {}        # MSH-10 -> when it first arrived
        self.mllp_script: list[str] = []                 # answers for the next messages (then AA)
        self.received = threading.Event()
        self.fhir_proxy = FaultProxy(self.fhir.port)
        self.mllp_proxy = FaultProxy(self.peer.port)

    @property
    def fhir_url(self) -> str:
        return f"http://127.0.0.1:{self.fhir_proxy.port}/fhir"

    @property
    def mllp_url(self) -> str:
        return f"mllp://127.0.0.1:{self.mllp_proxy.port}"

    def _recorder(self, app):
        """An ASGI layer inside the fault layer: it sees the transactions SEKMET commits."""
        async def record(scope, receive, send):
            if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != "/fhir":
                return await app(scope, receive, send)
            request_id = dict(scope["headers"]).get(b"x-request-id", b"").decode()
            status = 0

            async def watch(message):
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await app(scope, receive, watch)
            if 200 <= status < 300:
                with self.lock:
                    self.fhir_posts[request_id] += 1
                    self.fhir_arrivals.setdefault(request_id, time.monotonic())
                self.committed.set()
        return record

    def mllp_received(self, text: str) -> None:
        import hl7
        control_id = str(hl7.parse(text).segment("MSH")(10))
        with self.lock:
            self.mllp_arrivals.setdefault(control_id, time.monotonic())
            self.peer.answer = self.mllp_script.pop(0) if self.mllp_script else "AA"
        self.received.set()

    def answer_next(self, *answers: str) -> None:
        with self.lock:
            self.mllp_script.extend(answers)

    def all_well(self) -> list[str]:
        """Every fault off; returns the faults that were set up but never met a request (no traffic came)."""
        unused = []
        for name, proxy in (("FHIR", self.fhir_proxy), ("MLLP", self.mllp_proxy)):
            proxy.up()
            proxy.delay(0)
            with proxy._lock:
                if proxy._resets_left:
                    unused.append(f"{proxy._resets_left} {name} connection reset(s)")
                proxy._resets_left = 0
        with self.fhir._faults.lock:
            unused += [f"FHIR answer {f.status}" for f in self.fhir._faults.failures]
            self.fhir._faults.failures.clear()
        self.fhir.release()
        with self.lock:
            unused += [f"MLLP answer {a}" for a in self.mllp_script]
            self.mllp_script.clear()
            self.peer.answer = "AA"
        self.peer.release()
        return unused

    def close(self) -> None:
        self.fhir_proxy.close()
        self.mllp_proxy.close()
        self.fhir.stop()
        self.peer.__exit__(None, None, None)


def lock_holder(path: Path) -> int | None:
    """The process holding the flock on ``path`` (the outbox worker delivering right now), from /proc/locks."""
    try:
        inode = path.stat().st_ino
    except FileNotFoundError:
        return None
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
            return int(parts[4])
    return None


# --- one kiosk: its child process (the app), its `kiosk sync`, its printer, clock and disk ------------

def _hooked_printer():
    from fakeprinter import NetPrinter

    class Printer(NetPrinter):
        """A loopback printer that can call ``armed`` once a job's bytes arrive (to kill the kiosk mid-print)."""
        armed = None

        def feed(self, chunk):
            answer = super().feed(chunk)
            if self.armed is not None and len(chunk) > 16:
                armed, self.armed = self.armed, None
                armed()
            return answer

    return Printer().__enter__()


@dataclass
class Kiosk:
    name: str                            # the transport: fhir | hl7v2
    kiosk_id: str
    reader: str                          # pcsc | simulated
    folder: Path
    hospital: Hospital
    key: str
    patients: list[dict]
    rng: random.Random
    clockstep: Path                      # the wall-clock shim (tests/support/clockstep.c, built)
    done: dict = field(default_factory=dict)          # patient -> admission id
    saved_at: dict = field(default_factory=dict)      # admission id -> when the child reported its commit
    desk: list = field(default_factory=list)          # patients sent to the desk (the check-in not saved)
    typed: int = 0                                    # patients who typed their name (no card read)
    retried: int = 0                                  # patients who started again after a kill
    lives: list = field(default_factory=list)         # per life of the child: [(patient, RSS MiB)]
    faults: collections.Counter = field(default_factory=collections.Counter)
    reprinted: list = field(default_factory=list)     # `kiosk print` runs: exit codes
    crashes: list = field(default_factory=list)       # the app ended without being killed
    stuck: list = field(default_factory=list)         # the driver waited in vain for a screen
    started: float = 0.0
    finished: float = 0.0

    def __post_init__(self):
        for sub in ("data", "home", "tmp", "logs"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.data = self.folder / "data"
        self.printer = _hooked_printer()
        self.clock = self.folder / "clock"
        self.set_clock(0)
        url = self.hospital.fhir_url if self.name == "fhir" else self.hospital.mllp_url
        reader = f'kind = "pcsc"\nnames = ["{pcsc_service.VPCD_READER}"]' if self.reader == "pcsc" else 'kind = "simulated"'
        self.config = self.folder / "kiosk.toml"
        self.config.write_text(
            f'[kiosk]\nid = "{self.kiosk_id}"\ndata_dir = "{self.data}"\n'
            f'languages = {json.dumps(list(LANGUAGES))}\n[reader]\n{reader}\n'
            f'[printer.ticket]\nuri = "{self.printer.uri}"\ntimeout_s = {PRINTER_TIMEOUT_S}\n'
            f'[hospital]\ntransport = "{self.name}"\nurl = "{url}"\ntimeout_s = {HOSPITAL_TIMEOUT_S}\n'
            f'retry_max_s = {RETRY_MAX_S}\nappointment_lookup_s = 1.0\n[log]\nlevel = "debug"\n', encoding="utf-8")
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(self.folder / "home"), "TMPDIR": str(self.folder / "tmp"),
                    "KIOSK_STORE_KEY": self.key, "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
                    "LD_PRELOAD": str(self.clockstep), "CLOCKSTEP_FILE": str(self.clock),
}
        self.child: subprocess.Popen | None = None
        self.events: queue.Queue = queue.Queue()
        self.life = 0
        self.fsize_limit: int | None = None
        self.stopping = False
        self.unplugged = False
        self.current: int | None = None       # the patient at the screen
        self.planned_done = False             # the kill planned for this patient happened
        self.sync: subprocess.Popen | None = None
        self.sync_starts = 0
        self._sync_thread = threading.Thread(target=self._supervise_sync, name=f"sync-{self.name}", daemon=True)
        self.lock_path = self.data / "kiosk.db.sync-lock"

    # --- the app in its child process ---

    def start(self) -> None:
        """Start the kiosk (again, after a kill: as systemd would) and wait for its first screen."""
        self.life += 1
        self.lives.append([])
        self.events = events = queue.Queue()
        with open(self.folder / "logs" / "kiosk.stderr", "ab") as stderr:
            child = subprocess.Popen([sys.executable, __file__, "--child", str(self.config)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr, env=self.env, text=True, bufsize=1)
        self.child = child
        self._limit(child.pid)
        threading.Thread(target=self._listen, args=(child, events), daemon=True).start()
        ready = self._next(events)
        if ready["ev"] != "ready":
            raise RuntimeError(f"kiosk {self.name} did not start: {self.stderr_tail()}")

    def _listen(self, child: subprocess.Popen, events: queue.Queue) -> None:
        with open(self.folder / "logs" / "kiosk.stdout", "a", encoding="utf-8") as capture:
            for line in child.stdout:
                capture.write(line)
                if line.startswith(MARK):
                    event = json.loads(line[len(MARK):])
                    if event["ev"] == "saved":
                        self.saved_at.setdefault(event["admission"], time.monotonic())
                    events.put(event)
        child.wait()
        events.put({"ev": "exit", "code": child.returncode})

    def _next(self, events: queue.Queue) -> dict:
        try:
            return events.get(timeout=EVENT_TIMEOUT_S)
        except queue.Empty:
            raise RuntimeError(f"kiosk {self.name} said nothing for {EVENT_TIMEOUT_S:.0f} s: {self.stderr_tail()}") \
                from None

    def stderr_tail(self) -> str:
        text = (self.folder / "logs" / "kiosk.stderr").read_text(errors="replace")
        return "\n".join(text.splitlines()[-40:])

    def send(self, command: dict) -> bool:
        try:
            self.child.stdin.write(json.dumps(command) + "\n")
            self.child.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            return False

    def kill(self, why: str, pid: int | None = None) -> bool:
        """SIGKILL the kiosk app (or, with ``pid``, the kiosk process of this kiosk that has it)."""
        targets = {self.child.pid if self.child else -1: "kiosk", self.sync.pid if self.sync else -1: "sync"}
        pid = pid or (self.child.pid if self.child else None)
        if pid not in targets or pid == -1:
            return False
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        self.faults[f"{targets[pid]} killed {why}"] += 1
        return True

    def check_in(self, n: int, how: str, kill: str | None) -> str:
        """Patient ``n`` checks in; returns done, desk or killed."""
        p = self.patients[n]
        life, self.current, self.planned_done = self.life, n, False

        def planned(why: str) -> None:
            if self.life == life and self.current == n and self.kill(why):
                self.planned_done = True
        if kill == "print":
            self.printer.armed = lambda: planned("while printing")
        elif kill == "random":
            threading.Timer(self.rng.uniform(0.2, 2.5), planned, ("at a random moment",)).start()
        sent = self.send({"cmd": "patient", "n": n, "how": how, "patient": p, "card": card_json(p),
                          "kill": kill if kill in ("during_save", "after_save") else None})
        while sent:
            event = self._next(self.events)
            if event["ev"] == "done":
                self.current = None
                self.printer.armed = None
                self.done[n] = event["admission"]
                self.lives[-1].append((n, event["rss"]))
                self.typed += event["read"] == "typed"
                return "done"
            if event["ev"] == "desk":
                self.current = None
                self.printer.armed = None
                self.desk.append(n)
                self.typed += event["read"] == "typed"
                return "desk"
            if event["ev"] == "killing":
                self.faults[f"kiosk killed {event['why']}"] += 1
                self.planned_done = True
            if event["ev"] == "stuck":
                self.stuck.append(event["what"])
            if event["ev"] == "exit":
                if event["code"] != -signal.SIGKILL:
                    self.crashes.append(f"{self.kiosk_id} patient {n}: exit {event['code']}")
                break
        self.printer.armed = None
        self.current = None
        self.child.wait()
        return "killed"

    # --- its kiosk sync, restarted when it ends (Restart= of kiosk-sync.service) ---

    def _supervise_sync(self) -> None:
        while not self.stopping:
            with open(self.folder / "logs" / "sync.stdout", "ab") as out, \
                    open(self.folder / "logs" / "sync.stderr", "ab") as err:
                self.sync = subprocess.Popen([KIOSK, "sync", "--config", str(self.config)], stdout=out, stderr=err,
                                             env=self.env)
            self.sync_starts += 1
            self._limit(self.sync.pid)
            self.sync.wait()
            if not self.stopping:
                time.sleep(0.2)

    def start_sync(self) -> None:
        self._sync_thread.start()

    # --- clock and disk ---

    def set_clock(self, offset_s: int) -> None:
        """Step the wall clock of this kiosk's processes (the shim reads the file at most once a second)."""
        temp = self.clock.with_suffix(".new")
        temp.write_text(f"{offset_s}\n")
        temp.replace(self.clock)

    def disk_nearly_full(self, full: bool) -> None:
        """The kernel refuses to grow any file of the kiosk's processes beyond what the store's write-ahead log
        is now (RLIMIT_FSIZE): the next admissions may or may not fit."""
        wal = self.data / "kiosk.db-wal"
        self.fsize_limit = (wal.stat().st_size if wal.exists() else 0) if full else None
        for proc in (self.child, self.sync):
            if proc is not None and proc.poll() is None:
                self._limit(proc.pid)

    def _limit(self, pid: int) -> None:
        limit = resource.RLIM_INFINITY if self.fsize_limit is None else self.fsize_limit
        try:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        except (ProcessLookupError, PermissionError):
            pass

    # --- staff ---

    def reprint_failed_tickets(self) -> None:
        """Staff refill the paper and reprint every ticket whose job failed (`kiosk print --admission`)."""
        store = self.open_store()
        try:
            ids = sorted({i["admission_id"] for i in store.incidents("unresolved")
                          if i["kind"] == "printer_fault" and (i["detail"] or "").startswith("ticket:")})
        finally:
            store.close()
        for admission_id in ids:
            done = subprocess.run([KIOSK, "print", "ticket", "--admission", admission_id, "--printer", self.printer.uri,
                                   "--config", str(self.config)], capture_output=True, text=True, env=self.env,
                                  timeout=120)
            with open(self.folder / "logs" / "print.out", "a", encoding="utf-8") as out:
                out.write(done.stdout + done.stderr)
            self.reprinted.append(done.returncode)

    def open_store(self):
        from kiosk.store import Store
        return Store(self.data / "kiosk.db", key=self.key, kiosk_id=self.kiosk_id, migrate=False)

    # --- the end of the day ---

    def stop(self) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.send({"cmd": "quit"})
            try:
                self.child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        if self.sync is not None and self.sync.poll() is None:
            self.sync.terminate()
        self._sync_thread.join(30)
        self.printer.__exit__(None, None, None)

    def final_drain(self) -> list[int]:
        """`kiosk sync --once --retry-refused` until it says nothing is left (at most five runs)."""
        codes = []
        for _ in range(5):
            done = subprocess.run([KIOSK, "sync", "--once", "--retry-refused", "--config", str(self.config)],
                                  capture_output=True, text=True, env=self.env, timeout=300)
            with open(self.folder / "logs" / "drain.out", "a", encoding="utf-8") as out:
                out.write(done.stdout + done.stderr)
            codes.append(done.returncode)
            if done.returncode == 0:
                break
            time.sleep(RETRY_MAX_S)
        return codes


# --- the day -----------------------------------------------------------------------------------------

@dataclass
class Site:
    kiosks: list[Kiosk]
    hospital: Hospital
    total: int
    pcscd: object | None
    faults_on: bool
    progress: int = 0
    faults: collections.Counter = field(default_factory=collections.Counter)
    notes: list = field(default_factory=list)

    def __post_init__(self):
        self.lock = threading.Lock()
        self.work: queue.Queue = queue.Queue()
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self.schedule = sorted(self.site_schedule(), key=lambda s: s[0]) if self.faults_on else []
        self.worker = threading.Thread(target=self._work, name="site-faults", daemon=True)
        self.worker.start()

    def site_schedule(self):
        h, f = self.hospital, self.faults
        hour = 1 / 24

        def count(name, action):
            def run():
                action()
                f[name] += 1
            return run

        def down():
            h.fhir_proxy.down()
            h.mllp_proxy.down()

        def up():
            h.fhir_proxy.up()
            h.mllp_proxy.up()

        def resets():
            h.fhir_proxy.reset_next(2)
            h.mllp_proxy.reset_next(2)

        def slow(seconds):
            def run():
                h.fhir_proxy.delay(seconds)
                h.mllp_proxy.delay(seconds)
            return run

        return [
            (0.08, count("FHIR 503 with Retry-After: 1 (3 answers)", lambda: h.fhir.fail_next(503, retry_after=1, times=3, method="POST"))),
            (0.10, count("MLLP AR, the receiver busy (2 answers)", lambda: h.answer_next("AR", "AR"))),
            (0.14, count("FHIR 500 after the server committed", lambda: h.fhir.fail_next(500, after_commit=True, method="POST"))),
            (0.16, count("MLLP connection dropped after receipt", lambda: h.answer_next("drop"))),
            (0.20, count("hospital system down for an hour (1/24 of the day)", down)),
            (0.20 + hour, up),
            (0.30, count("connections reset as requests arrive (2 per transport)", resets)),
            (0.33, count("slow answers within the timeout (0.5 s) for 1/48 of the day", slow(0.5))),
            (0.33 + hour / 2, slow(0)),
            (0.37, count("slow answers beyond the timeout (2.5 s) for 1/96 of the day", slow(2.5))),
            (0.37 + hour / 4, slow(0)),
            (0.42, count("FHIR 429 with Retry-After: 2", lambda: h.fhir.fail_next(429, retry_after=2, method="POST"))),
            (0.47, count("FHIR 422 refusal (set aside, sent again at the end)", lambda: h.fhir.fail_next(422, method="POST"))),
            (0.50, count("MLLP AE refusal (set aside, sent again at the end)", lambda: h.answer_next("AE"))),
            (0.52, count("MLLP ACK never sent (the kiosk times out)", lambda: h.answer_next("silent"))),
            (0.70, self.apart(self.kill_during_fhir_delivery)),
            (0.72, self.apart(self.kill_during_mllp_delivery)),
        ]

    def apart(self, action):
        """``action`` on a thread of its own (it waits for traffic): the faults after it are not held up."""
        def run():
            thread = threading.Thread(target=lambda: _guard(self.errors, action), daemon=True)
            self.threads.append(thread)
            thread.start()
        return run

    def advance(self) -> None:
        """One more patient of the day has finished (either kiosk): start the site's faults now due."""
        with self.lock:
            self.progress += 1
            share = self.progress / self.total
            while self.schedule and self.schedule[0][0] <= share:
                self.work.put(self.schedule.pop(0)[1])

    def _work(self) -> None:
        while True:
            action = self.work.get()
            if action is None:
                return
            try:
                action()
            except BaseException as e:      # reported at the end: a fault that could not be injected
                self.errors.append(e)

    def finish(self) -> None:
        for _, action in self.schedule:      # a day cut short: what is left still runs (the ends of outages)
            self.work.put(action)
        self.schedule = []
        self.work.put(None)
        self.worker.join(120)
        for thread in self.threads:
            thread.join(120)

    def _kiosk(self, name: str) -> Kiosk:
        return next(k for k in self.kiosks if k.name == name)

    def _kill_holder(self, kiosk: Kiosk) -> bool:
        pid = lock_holder(kiosk.lock_path)
        return pid is not None and kiosk.kill("while delivering (its answer held back)", pid)

    def kill_during_fhir_delivery(self) -> None:
        h, kiosk = self.hospital, self._kiosk("fhir")
        for _ in range(3):                   # a committed transaction whose answer is held, then its sender killed
            h.committed.clear()
            h.fhir.hold_responses()
            try:
                if h.committed.wait(20) and self._kill_holder(kiosk):
                    return
            finally:
                h.fhir.release()
        self.notes.append("no FHIR delivery to kill the sender of")

    def kill_during_mllp_delivery(self) -> None:
        h, kiosk = self.hospital, self._kiosk("hl7v2")
        h.received.clear()
        h.answer_next("hold")
        try:
            if h.received.wait(20) and self._kill_holder(kiosk):
                return
            self.notes.append("no MLLP delivery to kill the sender of")
        finally:
            h.peer.release()
            with h.lock:
                h.peer.answer = "AA"


def kiosk_schedule(kiosk: Kiosk, site: Site, n: int) -> list[tuple[int, object]]:
    """The kiosk's own faults, as (patient index, action) pairs."""
    f = kiosk.faults
    at = lambda share: min(n - 1, int(share * n))            # noqa: E731
    after = lambda share, patients: min(n - 1, at(share) + patients)    # noqa: E731

    def printer(state, name):
        def run():
            kiosk.printer.state = state
            f[name] += 1
        return run

    def ready():
        kiosk.printer.state = "ready"

    def switched_off():
        kiosk.printer.power_off()
        f["printer switched off"] += 1

    def back_on_and_reprinted():
        kiosk.printer.power_on()
        kiosk.printer.state = "ready"
        threading.Thread(target=kiosk.reprint_failed_tickets, daemon=True).start()

    def kill_sync():
        if kiosk.sync is not None:
            kiosk.kill("at a random moment", kiosk.sync.pid)

    def clock(offset, name=None):
        def run():
            kiosk.set_clock(offset)
            if name:
                f[name] += 1
        return run

    def disk(full):
        def run():
            kiosk.disk_nearly_full(full)
            if full:
                f["disk nearly full (RLIMIT_FSIZE)"] += 1
        return run

    step = max(1, n // 40)                  # patients per printer fault, one after the other from 10 % on
    plan = [
        (at(0.10), printer("paper_out", "printer out of paper")),
        (at(0.10) + step, printer("offline", "printer offline")),
        (at(0.10) + 2 * step, switched_off),
        (at(0.10) + 3 * step, back_on_and_reprinted),      # then staff reprint every ticket that failed
        (at(0.62), printer("silent", "printer silent (no status)")),
        (after(0.62, 1), ready),
        (at(0.70), clock(3 * 3600, "clock stepped 3 h ahead, then back")),
        (at(0.85), clock(0)),
        (at(0.90), disk(True)),
        (after(0.90, 2), disk(False)),
        (at(0.30), kill_sync),
    ]

    def reader(plugged):
        def run():
            kiosk.unplugged = not plugged
            kiosk.send({"cmd": "plug_in" if plugged else "unplug"})
            if not plugged:
                f["card reader unplugged"] += 1
        return run

    if kiosk.reader == "simulated":
        plan += [(at(0.26), reader(False)), (after(0.26, 2), reader(True))]
    elif site.pcscd is not None and getattr(site.pcscd, "started_here", False):
        def restart():
            f["pcscd restarted"] += 1
            try:
                site.pcscd.restart()
            except BaseException as e:
                site.errors.append(e)
        plan.append((at(0.26), lambda: threading.Thread(target=restart, daemon=True).start()))
    elif kiosk.reader == "pcsc":
        site.notes.append("pcscd not restarted: the pcscd running was not started by this run")
    return sorted(plan, key=lambda p: p[0])


# When the kiosk app is killed (shares of its patients), and how; two more at random moments of random patients
# from 0.55 on, and one while it delivers (the site's schedule). The first 55 % of the day, with the hospital's
# and the printer's faults, run without a kill: the kiosk's memory is measured over that stretch.
KILLS_FROM = 0.55
KILLS = {0.55: "during_save", 0.60: "after_save", 0.65: "print"}


def run_kiosk(kiosk: Kiosk, site: Site) -> None:
    n = len(kiosk.patients)
    plan = kiosk_schedule(kiosk, site, n) if site.faults_on else []
    kills = {}
    if site.faults_on:
        kills = {min(n - 1, int(share * n)): kind for share, kind in KILLS.items()}
        for _ in range(2):
            kills.setdefault(kiosk.rng.randrange(int(KILLS_FROM * n), n), "random")
    kiosk.start()
    kiosk.start_sync()
    kiosk.started = time.monotonic()
    carried = None
    for i in range(n):
        while plan and plan[0][0] <= i:
            action = plan.pop(0)[1]
            action()
        how = "vpcd" if kiosk.reader == "pcsc" else "name" if kiosk.unplugged else "card"
        kill = kills.pop(i, None) or carried
        carried = None
        while True:
            outcome = kiosk.check_in(i, how, kill)
            if kill and not kiosk.planned_done:
                carried, kill = kill, None   # not done yet (the patient went another way): the next patient
            kill = None
            if outcome != "killed":
                break
            kiosk.start()
            if i in kiosk.done:              # killed after the done screen: the patient has their ticket
                break
            kiosk.retried += 1               # the patient starts again on the fresh screen
        site.advance()
    kiosk.finished = time.monotonic()


def soak(patients: int, seed: int = 18, *, faults: bool = True, pcscd=None, keep: Path | None = None) -> dict:
    """Run the day; returns its figures and checks (see the module docstring)."""
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    clockstep = folder / "clockstep.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(clockstep), str(TESTS / "clockstep.c"), "-ldl"],
                   check=True)
    people = make_patients(patients, seed)
    hospital = Hospital()
    rng = random.Random(seed)
    kiosks = [Kiosk("fhir", "lobby-a", "pcsc" if pcscd is not None else "simulated", folder / "lobby-a", hospital,
                    secrets.token_hex(32), people[0::2], random.Random(rng.random()), clockstep),
              Kiosk("hl7v2", "lobby-b", "simulated", folder / "lobby-b", hospital, secrets.token_hex(32),
                    people[1::2], random.Random(rng.random()), clockstep)]
    site = Site(kiosks, hospital, patients, pcscd, faults)
    errors = []
    try:
        threads = [threading.Thread(target=lambda k=k: _guard(errors, run_kiosk, k, site), name=f"day-{k.name}")
                   for k in kiosks]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ended = time.monotonic()
        site.finish()
        site.notes += [f"set up but never met a request: {u}" for u in hospital.all_well()]
        for k in kiosks:
            k.set_clock(0)
            k.disk_nearly_full(False)
            k.printer.state = "ready"
        if errors or site.errors:
            raise (errors + site.errors)[0]
        settled = _settle(kiosks, SETTLE_S)
        for k in kiosks:
            k.stop()
        drains = {k.name: k.final_drain() for k in kiosks}
        figures = _figures(kiosks, hospital, site, people, ended - began, settled, drains)
    finally:
        for k in kiosks:
            if not k.stopping:
                k.stop()
        hospital.close()
        if keep:
            shutil.copytree(folder, keep, dirs_exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def _guard(errors: list, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as e:
        errors.append(e)


def _settle(kiosks: list[Kiosk], deadline_s: float) -> bool:
    """Wait until no admission is pending in either outbox (refused ones aside); False if it did not happen."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        pending = 0
        for k in kiosks:
            store = k.open_store()
            try:
                pending += store.outbox_count(k.name, "pending")
            finally:
                store.close()
        if not pending:
            return True
        time.sleep(0.5)
    return False


# --- the checks --------------------------------------------------------------------------------------

def _figures(kiosks, hospital, site, people, day_s, settled, drains) -> dict:
    import hl7

    encounters = hospital.fhir.search("Encounter")
    if len(encounters) != hospital.fhir.count("Encounter"):
        raise RuntimeError("more Encounters than one search returns")
    at_fhir = collections.Counter(i["value"] for e in encounters for i in e.get("identifier", ())
                                  if i.get("system") == "urn:kiosk:admission")
    mllp_ids = collections.defaultdict(set)           # PV1-19 (the admission id) -> MSH-10s
    for text in list(hospital.peer.messages):
        message = hl7.parse(text)
        mllp_ids[str(message.segment("PV1")(19))].add(str(message.segment("MSH")(10)))
    out = {"check-ins": 0, "stored": 0, "lost": [], "duplicated": [], "resends de-duplicated": 0,
           "at the hospital but not stored": [], "ages": [], "tickets": collections.Counter(), "unaccounted": [],
           "desk": 0, "typed": 0, "retried": 0, "interrupted stored": 0, "faults": collections.Counter(site.faults),
           "memory": {}, "settled": settled, "drains": drains, "notes": list(site.notes), "day_s": day_s,
           "sync restarts": 0, "reprints": [], "crashes": []}
    everyone = []
    for k in kiosks:
        out["faults"].update(k.faults)
        out["check-ins"] += len(k.done)
        out["desk"] += len(k.desk)
        out["typed"] += k.typed
        out["retried"] += k.retried
        out["sync restarts"] += k.sync_starts - 1
        out["reprints"] += k.reprinted
        out["crashes"] += k.crashes + k.stuck
        store = k.open_store()
        try:
            admissions = {a.id: a for a in store.admissions()}
            everyone += admissions.values()
            outbox = store.outbox()
            prints = collections.defaultdict(list)
            for job in store.prints():
                prints[job["admission_id"]].append(job)
            incidents = store.incidents(None)
            audit = store.audit_trail()
        finally:
            store.close()
        out["stored"] += len(admissions)
        done_ids = set(k.done.values())
        out["interrupted stored"] += len(admissions.keys() - done_ids)
        out["lost"] += [f"{k.kiosk_id} patient {n}: not stored" for n, a in k.done.items() if a not in admissions]
        row_of = {f"{k.kiosk_id}-{r['id']}": r["admission_id"] for r in outbox}
        delivered = {r["admission_id"] for r in outbox if r["status"] == "delivered"}
        refused_ids = {a["subject"] for a in audit if a["action"] == "outbox.dead"}
        no_status = any(i["kind"] == "printer_no_status" for i in incidents)
        open_faults = {i["admission_id"] for i in incidents if i["kind"] == "printer_fault" and i["status"] != "resolved"
                       and (i["detail"] or "").startswith("ticket:")}
        if k.name == "fhir":
            arrived_at: dict[str, float] = {}
            for request_id, when in hospital.fhir_arrivals.items():
                if request_id in row_of:
                    a = row_of[request_id]
                    arrived_at[a] = min(when, arrived_at.get(a, when))
            out["resends de-duplicated"] += sum(c - 1 for r, c in hospital.fhir_posts.items() if r in row_of)
            held = {a: at_fhir[a] for a in admissions}
            out["at the hospital but not stored"] += [a for a in at_fhir if a not in admissions]
        else:
            arrived_at = {a: min(hospital.mllp_arrivals[c] for c in mllp_ids[a]) for a in admissions if a in mllp_ids}
            held = {a: len(mllp_ids.get(a, ())) for a in admissions}
            sent = collections.Counter(c for ids in mllp_ids.values() for c in ids)
            received = collections.Counter(str(hl7.parse(t).segment("MSH")(10)) for t in list(hospital.peer.messages))
            out["resends de-duplicated"] += sum(received.values()) - len(sent)
            out["at the hospital but not stored"] += [a for a in mllp_ids if a not in admissions]
        for a in admissions:
            if held.get(a, 0) == 0 or a not in delivered:
                out["lost"].append(f"{k.kiosk_id} {admissions[a].queue_number}: not at the hospital")
            elif held[a] > 1:
                out["duplicated"].append(f"{k.kiosk_id} {admissions[a].queue_number}: {held[a]} records")
            jobs = [j for j in prints.get(a, ()) if j["kind"] == "ticket"]
            if any(j["status"] == "printed" and j["actor"] == "kiosk" for j in jobs):
                out["tickets"]["printed"] += 1
            elif any(j["status"] == "printed" for j in jobs):
                out["tickets"]["reprinted"] += 1
            elif any(j["status"] == "unconfirmed" for j in jobs) and no_status:
                out["tickets"]["sent, the printer gave no status (incident)"] += 1
            elif a in open_faults:
                out["tickets"]["printer incident open"] += 1
            else:
                out["unaccounted"].append(f"{k.kiosk_id} {admissions[a].queue_number}: "
                                          f"{[j['status'] for j in jobs] or 'no print job'}")
            when, start = arrived_at.get(a), k.saved_at.get(a)
            if when and start and a not in refused_ids:
                out["ages"].append(max(0.0, when - start))
        rss = max(k.lives, key=len)
        if len(rss) > WARM_UP:
            out["memory"][k.kiosk_id] = {"patients": len(rss) - WARM_UP, "from": rss[WARM_UP - 1][1], "to": rss[-1][1]}
    wanted = needles(people)
    out["leaks"] = _privacy(kiosks, wanted)
    # The same search over what the hospital holds must find every stored patient: it can see what it looks for.
    at_hospital = _found(json.dumps(hospital.fhir.search("Patient"), ensure_ascii=False)
                         + "\n".join(hospital.peer.messages), wanted)
    out["probe"] = sum(a.person.family.casefold() in at_hospital for a in everyone)
    out["max age"] = max(out["ages"], default=0.0)
    return out


def _found(text: str, wanted: set[str]) -> set[str]:
    text = text.casefold()
    return {n for n in wanted if n in text}


def _privacy(kiosks: list[Kiosk], wanted: set[str]) -> dict[str, list[str]]:
    """Where a patient's data turned up outside the store: every file of each kiosk's folder (the data
    folder with Kivy's, HOME, TMPDIR, the captured stdout and stderr of every process) but the store's."""
    leaks = {}
    for k in kiosks:
        for path in k.folder.rglob("*"):
            if not path.is_file() or (path.parent == k.data and path.name in STORE_FILES):
                continue
            found = _found(path.read_bytes().decode("utf-8", "replace"), wanted)
            if found:
                leaks[str(path.relative_to(k.folder.parent))] = sorted(found)[:5]
    return leaks


# --- the child: one kiosk app, driven by the commands on its stdin --------------------------------------

def child_main(config_path: str) -> None:
    import asyncio
    import gc

    from kiosk import app as kiosk_app
    from kiosk.store.opening import open_store
    from kiosk import config
    from kiosk.screens import demo, walk
    from kiosk.ops import logs
    from kiosk.checkin.events import IdleTimeout
    from kiosk.checkin.session import State
    from kiosk.checkin.model import CardData

    logs.setup()
    settings = config.load(Path(config_path))
    logs.set_level(settings.log.level)
    kiosk_app.prepare_kivy(settings.data_path / "kivy", headless=True)
    os.environ["KCFG_GRAPHICS_MAXFPS"] = "60"

    async def frames(self, n=3):
        """The next ``n`` frames of the app, as they come (Pilot's own waits 1/30 s for each)."""
        from kivy.clock import Clock
        until = Clock.frames + n
        while Clock.frames < until:
            await asyncio.sleep(0.002)
    demo.Pilot.frames = frames
    reader, printers = kiosk_app.open_devices(settings)
    app = kiosk_app.build_app(settings, store=open_store(settings), reader=reader, printers=printers)

    def say(ev: str, **what) -> None:
        sys.stdout.write(MARK + json.dumps({"ev": ev, **what}) + "\n")
        sys.stdout.flush()

    commands: queue.Queue = queue.Queue()

    def read_commands() -> None:
        for line in sys.stdin:
            commands.put(json.loads(line))
        commands.put({"cmd": "quit"})
    threading.Thread(target=read_commands, daemon=True).start()

    kill_at = {"what": None}
    save = app.store.save_admission

    def die(why: str) -> None:
        say("killing", why=why)
        os.kill(os.getpid(), signal.SIGKILL)

    def in_the_transaction(sql: str) -> None:
        if sql.lstrip().upper().startswith("INSERT") and "outbox" in sql:
            die("while saving (its admission written, its outbox row not yet, nothing committed)")

    def saving(admission, **options):
        if kill_at["what"] == "during_save":
            app.store.db.conn.set_trace_callback(in_the_transaction)
        stored = save(admission, **options)
        say("saved", admission=stored.id)
        if kill_at["what"] == "after_save":
            die("just after saving (committed, its ticket not yet started)")
        return stored
    app.store.save_admission = saving

    def rss_mib() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    async def until(condition, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def vpcd_card(p: dict) -> bool:
        """The patient's eGK into the vpcd reader; True once the kiosk shows the details it read."""
        from cardfiles import egk_card, egk_pd_file, egk_pd_xml
        from vcard import Vpcd
        address = {"Postleitzahl": "42103", "Ort": "Wuppertal", "Wohnsitzlaendercode": "D", "Strasse": p["street"],
                   "Hausnummer": p["house"]}
        card = Vpcd(egk_card(pd=egk_pd_file(egk_pd_xml(kvnr=p["kvnr"], given=p["given"], family=p["family"],
                                                       birth=p["birth"].replace("-", ""), sex="W",
                                                       street_address=address), size=850)))
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, card.insert, 3.0)
        except OSError:                  # no pcscd (it is restarting): the patient types their name
            return False
        try:
            return await until(lambda: app.flow.state is State.CONFIRM, 8.0)
        finally:
            await loop.run_in_executor(None, card.remove)

    async def type_name(pilot, p: dict) -> None:
        if app.flow.state is State.WELCOME:
            await pilot.tap("start")
        await pilot.wait_state(State.IDENTIFY)
        await pilot.tap("choose_name")
        await pilot.wait_state(State.ENTER_NAME)
        ids = app.frame.manager.current_screen.ids
        born = date.fromisoformat(p["birth"])
        for name, text in (("given", p["given"]), ("family", p["family"]), ("birth", born.strftime("%d.%m.%Y"))):
            ids[name].insert_text(text)
        await pilot.frames(2)
        await pilot.tap("continue")
        await pilot.wait_state(State.CONFIRM)

    async def check_in(pilot, command: dict) -> None:
        p = command["patient"]
        gc.collect()
        rss = rss_mib()
        await pilot.wait_state(State.WELCOME)
        await pilot.tap(f"language:{p['language']}")
        read = False
        if command["how"] == "card":
            app.reader.insert(CardData.from_json(command["card"]))
            read = await until(lambda: app.flow.state is State.CONFIRM, 5.0)
        elif command["how"] == "vpcd":
            read = await vpcd_card(p)
        if read:
            await pilot.frames()             # the confirm screen laid out before the finger comes down
        else:
            await type_name(pilot, p)
        await walk.to_consent(app, pilot)
        if app.flow.consent_signature:
            await pilot.sign()
        kill_at["what"] = command["kill"]
        await pilot.tap("consent_accepted")
        await pilot.wait_for(lambda: app.flow.state is State.HELP or (
            app.flow.state is State.DONE and app.flow.session.print_status != "printing"), "the ticket or the desk")
        kill_at["what"] = None
        how = command["how"] if read else "typed"
        if app.flow.state is State.DONE:
            session = app.flow.session
            say("done", n=command["n"], admission=session.admission.id, print=session.print_status, read=how, rss=rss)
            await pilot.tap("finish")
        else:                            # not saved: the patient goes to the desk (the help screen says so)
            say("desk", n=command["n"], read=how)
            app.send(IdleTimeout())      # what the help screen's timeout does after help_timeout_s
        await pilot.wait_state(State.WELCOME)

    async def script(app, pilot):
        loop = asyncio.get_running_loop()
        await pilot.wait_state(State.WELCOME)
        say("ready", pid=os.getpid())
        while True:
            command = await loop.run_in_executor(None, commands.get)
            if command["cmd"] == "quit":
                return []
            if command["cmd"] == "unplug":
                app.reader.unplug()
            elif command["cmd"] == "plug_in":
                app.reader.plug_in()
            elif command["cmd"] == "patient":
                try:
                    await check_in(pilot, command)
                except demo.DemoError as e:      # the driver's own failure: said, then the child ends
                    say("stuck", what=str(e))
                    raise

    demo.run_script(app, Path(os.environ["TMPDIR"]) / "pilot", script)


# --- the table ---------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=600, help="check-ins in the day, both kiosks (default 600)")
    parser.add_argument("--seed", type=int, default=18, help="seed of the patients and the random moments")
    parser.add_argument("--no-baseline", action="store_true", help="skip the day without faults")
    parser.add_argument("--keep", type=Path, help="copy the run's folders here (stores, logs) for a look")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return
    pcscd = _bench_pcscd()
    try:
        faulty = soak(args.patients, args.seed, faults=True, pcscd=pcscd, keep=args.keep)
        calm = None if args.no_baseline else soak(args.patients, args.seed, faults=False, pcscd=pcscd)
    finally:
        if pcscd is not None and pcscd.started_here:
            from processes import stop
            stop(pcscd.process)
    print(table(faulty, calm))
    problems = verdict(faulty) + (verdict(calm) if calm else [])
    if problems:
        sys.exit("the soak found problems:\n" + "\n".join(problems))


def _bench_pcscd():
    """The pcscd with the vpcd reader (tests/support/pcsc_service.py): the one running (it cannot be
    restarted, so the run says so), else one started here."""
    try:
        return pcsc_service.ready(Path(tempfile.mkdtemp(prefix="soak-pcscd-")) / "pcscd.log")
    except pcsc_service.PcscdUnavailable as e:
        sys.exit(str(e))


def verdict(f: dict) -> list[str]:
    """What must hold: the checks as sentences, empty when all hold."""
    problems = [*f["lost"], *f["duplicated"], *(f"ticket unaccounted: {u}" for u in f["unaccounted"]),
                *(f"the kiosk or its driver stopped by itself: {c}" for c in f["crashes"]),
                *(f"stored nowhere but at the hospital: {a}" for a in f["at the hospital but not stored"]),
                *(f"personal data in {place}: {found}" for place, found in f["leaks"].items())]
    if any(code != 0 for codes in f["drains"].values() for code in codes[-1:]):
        problems.append(f"the final drain did not end with nothing left: {f['drains']}")
    return problems


def table(f: dict, base: dict | None) -> str:
    def per_minute(x):
        return x["check-ins"] / (x["day_s"] / 60)

    def memory(x):
        return ", ".join(f"{m['to'] - m['from']:+.1f} MiB over {m['patients']}" for m in x["memory"].values()) or "-"

    def tickets(x):
        t = x["tickets"]
        return " / ".join(str(t[k]) for k in ("printed", "reprinted", "sent, the printer gave no status (incident)",
                                              "printer incident open"))

    b = base or {}
    rows = [("check-ins (patients at the done screen)", f["check-ins"], b.get("check-ins", "-"), ""),
            ("day, minutes", f"{f['day_s'] / 60:.1f}", f"{b['day_s'] / 60:.1f}" if b else "-", ""),
            ("check-ins per minute", f"{per_minute(f):.1f}", f"{per_minute(b):.1f}" if b else "-",
             f"{per_minute(f) / per_minute(b):.2f}x" if b else ""),
            ("max outbox age (commit to hospital)", f"{f['max age']:.1f} s", f"{b['max age']:.1f} s" if b else "-", ""),
            ("faults injected", sum(f["faults"].values()), sum(b["faults"].values()) if b else "-", ""),
            ("lost", len(f["lost"]), len(b["lost"]) if b else "-", ""),
            ("duplicated", len(f["duplicated"]), len(b["duplicated"]) if b else "-", ""),
            ("resends the receiver recognised", f["resends de-duplicated"], b.get("resends de-duplicated", "-"), ""),
            ("tickets printed / reprinted / no status / incident open", tickets(f), tickets(b) if b else "-", ""),
            ("patients sent to the desk (not saved)", f["desk"], b.get("desk", "-"), ""),
            ("check-ins cut by a kill, stored, tried again", f"{f['interrupted stored']} / {f['retried']}",
             f"{b['interrupted stored']} / {b['retried']}" if b else "-", ""),
            ("patients who typed their name (no card read)", f["typed"], b.get("typed", "-"), ""),
            ("personal data outside the store", len(f["leaks"]) or "none", (len(b["leaks"]) or "none") if b else "-", ""),
            ("kiosk memory, longest stretch without a kill", memory(f), memory(b) if b else "-", "")]
    lines = [f"| soak: {f['check-ins'] + f['desk']} patients, 2 kiosks (FHIR, HL7 v2) | with faults | without | ratio |",
             "|---|---|---|---|"]
    lines += [f"| {a} | {x} | {y} | {z} |" for a, x, y, z in rows]
    lines += ["", "| fault | injected |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in sorted(f["faults"].items())]
    if f["notes"]:
        lines += ["", *f["notes"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
