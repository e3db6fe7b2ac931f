"""Tickets and wristbands on ESC/POS printers: the bytes decoded back, and every fault over real
transports (a TCP printer on 127.0.0.1, a serial printer on a pseudo-terminal, a file)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from escpos_decode import decode, read_codes
from fakeprinter import NetPrinter, PtyPrinter
from kiosk import config
from kiosk.hardware import printing
from kiosk.hardware import escpos_jobs, layouts
from kiosk.hardware.errors import DeviceUnavailable, PrintFault
from kiosk.hardware.escpos_printer import EscposPrinter
from kiosk.hardware.escpos_status import parse_status, valid_reply
from kiosk.hardware.printer import PrinterState
from kiosk.hardware.printer_uri import open_printer
from kiosk.i18n import Catalogs
from kiosk.checkin.model import Admission, Identifier, IncidentKind, Incident, Person, Severity
from kiosk.store import Store

CATALOGS = Catalogs(["de", "en", "fr", "tr"])
STATUS_QUERIES = b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"
GS_R_1 = b"\x1dr\x01"


def admission(family="Müller", given=("Jürgen",), language="de", ids=(Identifier("kvid", "X110611111"),),
              **changes) -> Admission:
    return replace(Admission(
        id="7d1e4c2a-0000-4000-8000-000000000001", kiosk_id="lobby-2",
        created_at=datetime(2026, 11, 27, 8, 15, tzinfo=timezone.utc).isoformat(), language=language,
        identified_by="card:egk", queue_number="B-042",
        person=Person(family=family, given=given, birth_date="1958-03-21", identifiers=ids)), **changes)


def ticket(adm=None, show_name=False):
    return layouts.ticket_for(adm or admission(), CATALOGS, show_name=show_name)


HOSPITAL_NUMBER = "M-0012345"          # the hospital's own patient number, from today's appointment


def band(adm=None):
    return layouts.wristband_for(adm or admission(patient_number=HOSPITAL_NUMBER), CATALOGS)


def job_of(connection: bytes) -> bytes:
    """What a connection carried between the status queries before and the "are you done" (GS r 1) and
    status queries after the job."""
    after = GS_R_1 + STATUS_QUERIES
    assert connection.startswith(STATUS_QUERIES) and connection.endswith(after), connection[:40]
    return connection[len(STATUS_QUERIES):-len(after)]


# --- the bytes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("family,given,language,codepage", [
    ("Müller", ("Jürgen",), "de", "cp437"),
    ("Çelik", ("Emre",), "de", "cp437"),          # Ç is in CP437 ...
    ("Çelik", ("Ayşe",), "tr", "cp857"),          # ... and in CP857, which the Turkish text already chose
    ("Dubois-Lefèvre", ("Zoë",), "fr", "cp437"),
    ("Daniëls", ("Joëlle",), "en", "cp437"),       # a Dutch name
    ("Şahin Yıldız", ("Doğan",), "tr", "cp857"),
])
def test_names_print_in_a_code_page_that_has_their_letters(family, given, language, codepage):
    out = decode(escpos_jobs.ticket_job(ticket(admission(family, given, language), show_name=True), "TM-T88V"))
    assert f"{family}, {given[0]}" in out.text
    assert out.codepages_for(family) == {codepage}
    assert "?" not in out.text
    family.encode(codepage)


def test_unusual_spaces_print_as_spaces_and_chinese_never_as_raw_gb18030():
    # Babel puts a narrow no-break space into English times ("8:15\u202fAM"); no code page has it.
    out = decode(escpos_jobs.ticket_job(ticket(admission("王", ("小明",), "en")), "TM-T88V"))
    assert "8:15 AM" in out.text
    out = decode(escpos_jobs.ticket_job(ticket(admission("王", ("小明",), "en"), show_name=True), "TM-T88V"))
    assert "?, ??" in out.text, "unprintable letters are marked, the rest of the ticket stays readable"


def test_the_ticket_text_comes_out_in_the_patients_language():
    out = decode(escpos_jobs.ticket_job(ticket(admission(language="tr")), "TM-T88V"))
    assert "Sıra numaranız" in out.text and "B-042" in out.text
    assert "Müller" not in out.text, "no name unless the site asks for it"
    assert out.tokens[0].name == "ESC @", "a known state before the first text"
    assert out.codepages_for("numaranız") == {"cp857"}


def test_the_queue_number_is_the_largest_text_and_the_qr_is_native():
    out = decode(escpos_jobs.ticket_job(ticket(), "TM-T88V"))
    names = [t.name for t in out.tokens]
    number = next(i for i, t in enumerate(out.tokens) if t.name == "TEXT" and t.text == "B-042")
    size = next(t for t in reversed(out.tokens[:number]) if t.name == "GS !")
    assert size.args[0] == 0x33, "4 x 4"
    assert out.qr_codes() == ["ADMISSION:7d1e4c2a-0000-4000-8000-000000000001"]
    assert names.count("GS V") == 1 and names[-1] == "GS V"


def test_a_printer_without_native_qr_gets_the_qr_as_a_picture():
    out = decode(escpos_jobs.ticket_job(ticket(), "TM-U220"))
    assert out.qr_codes() == []
    [image] = out.images()
    assert ("QRCode", "ADMISSION:7d1e4c2a-0000-4000-8000-000000000001") in read_codes(image)


def test_a_wristband_is_one_picture_for_a_25_mm_band_with_both_codes():
    out = decode(escpos_jobs.wristband_job(
        band(admission("Dubois-Lefèvre", ("Marie-Claire",), patient_number=HOSPITAL_NUMBER)), "TM-L90"))
    [image] = out.images()
    assert image.size == (192, 2200), "24 mm across, 275 mm along the band at 203 dpi"
    codes = dict(read_codes(image))
    assert codes["Code128"] == HOSPITAL_NUMBER
    assert codes["QRCode"].splitlines() == [f"PID:{HOSPITAL_NUMBER}", "NAME:Dubois-Lefèvre^Marie-Claire",
                                            "DOB:1958-03-21", "ADMISSION:7d1e4c2a-0000-4000-8000-000000000001"]
    assert out.cuts == 1 and out.text.strip() == ""


def test_a_wristband_without_a_patient_number_has_no_number_and_no_barcode():
    # No number from the hospital system and no national number allowed: name, birth date and the admission
    # (in the QR code, for the desk) are what identifies the patient.
    out = decode(escpos_jobs.wristband_job(band(admission("Çelik", ("Ayşe",), "tr")), "TM-L90"))
    codes = dict(read_codes(out.images()[0]))
    assert "Code128" not in codes
    assert codes["QRCode"].splitlines() == ["NAME:Çelik^Ayşe", "DOB:1958-03-21",
                                            "ADMISSION:7d1e4c2a-0000-4000-8000-000000000001"]


def test_wristband_text_is_in_the_patients_language():
    layout = band(admission(language="fr", patient_number=HOSPITAL_NUMBER))
    assert layout.birth_date == "Date de naissance : 21 mars 1958" and layout.number == f"N° patient {HOSPITAL_NUMBER}"
    assert layout.name == "Müller, Jürgen"


def test_real_time_commands_inside_a_picture_are_broken_up():
    # A picture whose rows happen to hold DLE EOT 1: a printer would answer it in the middle of the job.
    row = bytes([0x10, 0x04, 0x01, 0x00])
    job = b"\x1b@" + b"\x1dv0\x00\x04\x00\x02\x00" + row * 2 + b"\x10\x04\x01"
    safe = escpos_jobs.defuse(job)
    assert safe[:10] == job[:10] and safe.endswith(b"\x10\x04\x01"), "commands outside the picture are kept"
    assert b"\x10\x04" not in safe[10:-3]
    assert sum(bin(a ^ b).count("1") for a, b in zip(job, safe)) == 2, "one dot per occurrence"


@pytest.mark.parametrize("replies,fault,paper_low", [
    ({1: b"\x12", 2: b"\x12", 3: b"\x12", 4: b"\x12"}, None, False),
    ({1: b"\x12", 2: b"\x12", 3: b"\x12", 4: b"\x1e"}, None, True),
    ({1: b"\x1a", 2: b"\x32", 3: b"\x12", 4: b"\x7e"}, "paper_out", False),
    ({1: b"\x1a", 2: b"\x16", 3: b"\x12", 4: b"\x12"}, "cover_open", False),
    ({1: b"\x1a", 2: b"\x52", 3: b"\x1a", 4: b"\x12"}, "cutter_error", False),
    ({1: b"\x1a", 2: b"\x52", 3: b"\x32", 4: b"\x12"}, "printer_error", False),
    ({1: b"\x1a", 2: b"\x12", 3: b"\x12", 4: b"\x12"}, "offline", False),
])
def test_status_replies(replies, fault, paper_low):
    status = parse_status(replies)
    assert status.known and status.fault == fault and status.paper_low == paper_low


@pytest.mark.parametrize("reply", [b"", b"\x12\x12", b"\x00", b"\xff", b"\x13", b"\x92", b"0", b"8"])
def test_anything_but_one_valid_status_byte_is_unknown_not_fine(reply):
    assert not valid_reply(reply)
    status = parse_status({1: b"\x12", 2: b"\x12", 3: b"\x12", 4: reply})
    assert not status.known and status.fault is None


@pytest.mark.parametrize("reply,to_dle_eot,to_gs_r", [
    (b"\x12", True, False), (b"\x1e", True, False), (b"\x7e", True, False),     # ready, paper low, paper out
    (b"\x00", False, True), (b"\x03", False, True), (b"\x0f", False, True),     # GS r 1: paper, near end, both
    (b"\x60", False, True),                                                    # ... with "reserved" bits 5, 6
    (b"\x10", False, False), (b"\x04", False, True), (b"\x01", False, True),     # an echo of DLE EOT 1 ...
    (b"\x10\x04\x01", False, False),                                          # ... is three bytes
    (b"S", False, False), (b"HTTP/1.1 400", False, False), (b"OK", False, False),   # SSH, HTTP, a modem
    (b"\x30", False, False), (b"\x80", False, False), (b"\x92", False, False),
    (b"\x00\x00", False, False), (b"", False, False),
])
def test_what_a_printer_answers_to_each_question(reply, to_dle_eot, to_gs_r):
    assert valid_reply(reply, b"\x10\x04\x01") is to_dle_eot
    assert valid_reply(reply, GS_R_1) is to_gs_r


# --- real transports ----------------------------------------------------------------------------------

def printer_at(uri, timeout_s=2.0, profile="TM-T88V") -> EscposPrinter:
    printer = open_printer(uri, "/nonexistent", profile=profile, timeout_s=timeout_s)
    assert isinstance(printer, EscposPrinter)
    return printer


def test_a_ticket_over_tcp_is_checked_before_and_after_and_decodes_back():
    with NetPrinter() as fake:
        printer = printer_at(fake.uri)
        result = printer.print_layout(ticket())
        fake.wait_idle()
        assert result.confirmed and not result.paper_low and printer.state is PrinterState.READY
        [connection] = fake.connections
        out = decode(job_of(connection))
        assert "Ihre Nummer" in out.text and "B-042" in out.text and out.cuts == 1


def test_a_wristband_over_tcp_arrives_whole():
    with NetPrinter() as fake:
        assert printer_at(fake.uri, profile="TM-L90").print_layout(band()).confirmed
        fake.wait_idle()
        [image] = decode(job_of(fake.connections[0])).images()
        assert dict(read_codes(image))["Code128"] == HOSPITAL_NUMBER


def test_paper_running_low_still_prints_and_says_so():
    with NetPrinter("paper_low") as fake:
        result = printer_at(fake.uri).print_layout(ticket())
        assert result.confirmed and result.paper_low


@pytest.mark.parametrize("state", ["paper_out", "cover_open", "offline", "cutter_error"])
def test_a_fault_before_the_job_sends_nothing(state):
    with NetPrinter(state) as fake:
        printer = printer_at(fake.uri)
        with pytest.raises(PrintFault) as fault:
            printer.print_layout(ticket())
        fake.wait_idle()
        assert fault.value.reason == state and printer.state is PrinterState.FAULT
        assert fake.connections == [b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"], "only asked, never printed"


def test_a_printer_that_gives_no_status_prints_unconfirmed():
    with NetPrinter("silent") as fake:
        printer = printer_at(fake.uri, timeout_s=0.3)
        result = printer.print_layout(ticket())
        fake.wait_idle()
        assert not result.confirmed and printer.state is PrinterState.UNKNOWN
        [connection] = fake.connections
        assert "B-042" in decode(connection).text
        assert decode(connection).status_queries == [1, 1], "one unanswered question, not four"


def test_a_device_that_answers_garbage_is_not_a_printer_and_gets_nothing():
    with NetPrinter("garbage") as fake:
        printer = printer_at(fake.uri, timeout_s=0.3)
        with pytest.raises(PrintFault, match="not_a_printer"):
            printer.print_layout(ticket())
        assert printer.status().fault == "not_a_printer"
        fake.wait_idle()
        assert printer.state is PrinterState.FAULT
        assert fake.connections == [b"\x10\x04\x01"] * 2, "one question each time, never the job"


def test_paper_running_out_during_the_job_is_a_fault_and_nothing_is_sent_again():
    job = escpos_jobs.ticket_job(ticket(), "TM-T88V")
    with NetPrinter(switch_to_after=(len(STATUS_QUERIES) + len(job) // 2, "paper_out")) as fake:
        with pytest.raises(PrintFault, match="paper_out"):
            printer_at(fake.uri).print_layout(ticket())
        fake.wait_idle()
        [connection] = fake.connections
        assert job_of(connection) == job


def test_a_connection_lost_mid_job_is_reported_and_not_retried():
    with NetPrinter(drop_after=len(STATUS_QUERIES) + 40) as fake:
        printer = printer_at(fake.uri)
        with pytest.raises(PrintFault, match="connection_lost"):
            printer.print_layout(band())
        fake.wait_idle()
        assert len(fake.connections) == 1, "no second copy on its own"


def test_a_printer_switched_off_is_unreachable_and_found_again_once_it_is_on():
    with NetPrinter() as fake:
        printer = printer_at(fake.uri, timeout_s=0.6)
        fake.power_off()
        with pytest.raises(PrintFault, match="unreachable"):
            printer.print_layout(ticket())
        assert not printer.status().known
        fake.power_on()
        assert printer.status().known
        assert printer.print_layout(ticket()).confirmed
        fake.wait_idle()
        assert len(fake.jobs_with(b"B-042")) == 1


def test_probe_tells_a_printer_that_is_not_there_from_one_that_does_not_answer():
    """status() says "unknown" for both; probe() (kiosk doctor's question) raises for the one it cannot reach,
    and asks the other on one connection."""
    with NetPrinter("silent") as silent, NetPrinter() as ready:
        assert not printer_at(silent.uri, timeout_s=0.3).probe().known
        status = printer_at(ready.uri, timeout_s=0.6).probe()
        assert status.known and status.fault is None
        ready.wait_idle()
        assert ready.connections == [STATUS_QUERIES]
        ready.power_off()
        gone = printer_at(ready.uri, timeout_s=0.3)
        with pytest.raises(PrintFault, match="unreachable"):
            gone.probe()
        assert not gone.status().known


def test_a_printer_that_comes_back_during_the_job_gets_it_once():
    with NetPrinter() as fake:
        printer = printer_at(fake.uri, timeout_s=5.0)
        fake.power_off()
        threading.Timer(0.5, fake.power_on).start()      # still booting when the job starts
        assert printer.print_layout(ticket()).confirmed
        fake.wait_idle()
        assert len(fake.jobs_with(b"B-042")) == 1


def test_a_printer_without_gs_r_gets_the_job_but_it_stays_unconfirmed():
    # Its status says ready, but it never says when it has worked through the job.
    with NetPrinter("no_gs_r") as fake:
        result = printer_at(fake.uri, timeout_s=0.3).print_layout(ticket())
        fake.wait_idle()
    assert not result.confirmed and len(fake.jobs_with(b"B-042")) == 1


def in_time(call, seconds=60):
    """Run ``call`` on a thread; fail (instead of hanging the suite) when it has not ended in ``seconds``."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except Exception as e:          # handed to the test
            outcome["error"] = e
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_a_serial_printer_that_stops_reading_does_not_hold_the_kiosk():
    with PtyPrinter() as fake:
        fake._call(lambda: setattr(fake, "paused", True))
        printer = printer_at(fake.serial_uri.replace("19200", "115200"), timeout_s=0.5)
        with pytest.raises(PrintFault, match="connection_lost"):
            in_time(lambda: printer.print_layout(band()))
        fake._call(lambda: setattr(fake, "paused", False))
        # The next job gets through; whether the printer is out of the half picture it got is not
        # known (it may take the ticket for picture data), so it is not confirmed.
        before = len(fake.received)
        in_time(lambda: printer.print_layout(ticket()))
        fake.wait_received(before + len(escpos_jobs.ticket_job(ticket(), "TM-T88V")))
        assert b"B-042" in fake.received[before:]


def test_a_network_printer_that_stops_reading_ends_the_job_in_bounded_time():
    with NetPrinter() as fake:
        fake._call(lambda: setattr(fake, "paused", True))
        result = in_time(lambda: printer_at(fake.uri, timeout_s=0.3).print_layout(band()))
        assert not result.confirmed
        fake._call(lambda: setattr(fake, "paused", False))


def test_serial_printer_on_a_pseudo_terminal():
    with PtyPrinter() as fake:
        printer = printer_at(fake.serial_uri)
        assert printer.status().known
        assert printer.print_layout(ticket()).confirmed
        fake.wait_received(2 * len(STATUS_QUERIES) * 2 + 100)
        assert "B-042" in decode(fake.received).text
        fake.state = "cover_open"
        with pytest.raises(PrintFault, match="cover_open"):
            printer.print_layout(ticket())


def test_device_file_printer_reads_its_status_back():
    with PtyPrinter("paper_low") as fake:
        result = printer_at(fake.file_uri).print_layout(ticket())
        assert result.confirmed and result.paper_low


def test_a_plain_file_takes_the_jobs_one_after_the_other_without_a_status(tmp_path):
    target = tmp_path / "capture.bin"
    target.write_bytes(b"")
    printer = printer_at(f"file://{target}", timeout_s=0.2)
    assert not printer.print_layout(ticket()).confirmed
    assert not printer.print_layout(ticket(admission(queue_number="B-043"))).confirmed
    assert [t.text for t in decode(target.read_bytes()).tokens if t.name == "TEXT" and t.text.startswith("B-")] \
        == ["B-042", "B-043"]


def test_a_usb_printer_that_is_not_plugged_in_is_unreachable():
    with pytest.raises(PrintFault, match="unreachable"):
        printer_at("usb://04b8:0e15", timeout_s=0.3).print_layout(ticket())


@pytest.mark.skipif(shutil.which("lp") is not None, reason="CUPS' lp is installed here")
def test_a_cups_queue_without_cups_says_what_to_install():
    with pytest.raises(DeviceUnavailable, match="cups-client"):
        open_printer("cups://tickets", "/nonexistent")


# --- the kiosk's side: the admission stays, staff get an incident, the reprint works ---------------

@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.db")
    yield s
    s.close()


@pytest.mark.parametrize("state,reason", [("paper_out", "paper_out"), ("cover_open", "cover_open"),
                                          ("offline", "offline"), ("cutter_error", "cutter_error")])
def test_reprint_after_a_fault_prints_once_and_resolves_the_incident(store, state, reason):
    stored = store.save_admission(admission(queue_number=""), queue_prefix="B")
    with NetPrinter(state) as fake:
        printer = printer_at(fake.uri)
        layout = ticket(stored)
        first = printing.reprint(store, printer, layout, "ticket", actor="kiosk")
        assert first.status == "failed" and first.reason == reason
        store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, f"ticket: {reason}",
                                      admission_id=stored.id))     # as the kiosk does (ui_printing.py)
        fake.state = "ready"
        again = printing.reprint(store, printer, layout, "ticket", actor="staff")
        fake.wait_idle()
    assert again.status == "printed"
    assert len(fake.jobs_with(b"B-001")) == 1
    assert store.incidents() == []
    assert [(p["actor"], p["status"], p["reason"]) for p in store.prints(stored.id)] == [
        ("kiosk", "failed", reason), ("staff", "printed", "")]


def test_a_printer_for_tickets_and_bands_takes_one_job_at_a_time_each_with_its_profile(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path}"\n[printer.ticket]\nuri = "tcp://127.0.0.1:9"\n'
                    'profile = "TM-T20II"\n[printer.wristband]\nuri = "tcp://127.0.0.1:9"\n', encoding="utf-8")
    printers = printing.open_printers(config.load(path))
    assert (printers["ticket"].profile, printers["wristband"].profile) == ("TM-T20II", "TM-L90")
    assert printers["ticket"]._lock is printers["wristband"]._lock, "jobs to one printer never interleave"
    assert printing.configured(config.load(None)) == ("ticket",)


def test_a_band_printer_profile_of_another_resolution_is_refused(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path}"\n[printer.wristband]\nuri = "tcp://127.0.0.1:9"\n'
                    'profile = "TM-T88V"\n', encoding="utf-8")
    with pytest.raises(DeviceUnavailable, match="180 dpi.*203 dpi"):
        printing.open_printers(config.load(path))


# --- `kiosk print` ----------------------------------------------------------------------------------

KIOSK = str(Path(sys.executable).parent / "kiosk")


def kiosk_print(tmp_path, uri, *args):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[printer.ticket]\ntimeout_s = 0.5\n', encoding="utf-8")
    return subprocess.run([KIOSK, "print", *args, "--printer", uri, "--config", str(cfg)], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("state,code,words", [("paper_out", 8, "out of paper"), ("cover_open", 8, "cover is open"),
                                               ("offline", 8, "offline")])
def test_kiosk_print_exits_8_on_a_fault_with_one_sentence(tmp_path, state, code, words):
    with NetPrinter(state) as fake:
        run = kiosk_print(tmp_path, fake.uri, "ticket", "--sample")
    assert run.returncode == code and run.stdout == ""
    [line] = run.stderr.splitlines()
    assert line == f"kiosk: The ticket was not printed: the printer{' is' if state != 'cover_open' else chr(39) + 's'}" \
        f" {words} ({fake.uri})."


def test_kiosk_print_exits_3_when_the_printer_is_not_there(tmp_path):
    with NetPrinter() as fake:
        fake.power_off()
        run = kiosk_print(tmp_path, fake.uri, "wristband", "--sample")
    assert run.returncode == 3
    assert run.stderr.splitlines() == [f"kiosk: The wristband was not printed: the printer cannot be reached "
                                       f"(switched off, unplugged or wrong address) ({fake.uri})."]


def test_kiosk_print_reprints_a_stored_admission_and_says_when_it_cannot_confirm(tmp_path, store_key):
    store = Store(tmp_path / "data" / "kiosk.db", key=store_key)
    stored = store.save_admission(admission(queue_number=""), queue_prefix="B")
    with NetPrinter("no_gs_r") as fake:
        run = kiosk_print(tmp_path, fake.uri, "ticket", "--admission", stored.id)
        fake.wait_idle()
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["Printed the ticket of B-001.",
                                       "The printer did not report its status after the job: check that it came out."]
    assert len(fake.jobs_with(b"B-001")) == 1
    assert [(p["actor"], p["status"]) for p in store.prints(stored.id)] == [("cli", "unconfirmed")]
    store.close()
