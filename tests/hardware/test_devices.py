"""Simulated devices and the ticket layout."""

import json
import sqlite3
import threading
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from PIL import Image

from kiosk.hardware.reader import sample_cards
from kiosk import config
from kiosk.hardware import layouts, printing
from kiosk.i18n import Catalogs
from kiosk.hardware.errors import PrintFault
from kiosk.hardware.preview import PreviewPrinter
from kiosk.hardware.printer import PrinterState, PrintOutcome
from kiosk.hardware.printer_uri import open_printer
from kiosk.hardware.reader import ReaderState, SimulatedReader, open_reader
from kiosk.checkin.model import Admission, Person


def admission():
    return Admission(id="7d1e4c2a-0000-4000-8000-000000000001", kiosk_id="lobby-2",
                     created_at=datetime(2026, 11, 27, 8, 15, tzinfo=timezone.utc).isoformat(), language="de",
                     identified_by="card:egk", person=Person(family="Müller", given=("Jürgen",),
                                                             birth_date="1958-03-21"),
                     queue_number="B-042")


def test_ticket_carries_the_number_and_no_personal_data():
    layout = layouts.ticket(admission(), lambda m: {"Your number": "Ihre Nummer"}.get(m, m), "27.11.26, 09:15")
    texts = [line.text for line in layout.lines]
    assert "Ihre Nummer" in texts and "B-042" in texts and "lobby-2" in texts
    assert layout.qr == "ADMISSION:7d1e4c2a-0000-4000-8000-000000000001"
    assert not any("Müller" in t or "1958" in t for t in texts)


def test_ticket_names_the_queue_above_the_number_as_the_site_configured_it():
    settings = config.Settings().replace(queues=config.QueueSettings(names=("A Registration", "B Blutabnahme")))
    layout = printing.layout_for("ticket", replace(admission(), queue="B"), Catalogs(("en",)), settings)
    texts = [line.text for line in layout.lines]
    assert texts[:3] == ["Blutabnahme", "Your number", "B-042"]
    assert "Blutabnahme" not in [line.text for line in layouts.ticket(admission(), lambda m: m, "now").lines]


def test_preview_printer_writes_a_ticket_png(tmp_path):
    printer = PreviewPrinter(tmp_path / "tickets")
    layout = layouts.ticket(admission(), lambda m: m, "now")
    path = printer.print_layout(layout).path
    assert path.parent == tmp_path / "tickets" and printer.last["ticket"] == path
    with Image.open(path) as image:
        assert image.width == 576
        assert image.convert("L").getextrema() == (0, 255)
    assert printer.state is PrinterState.READY


def test_preview_printer_fault_prints_nothing(tmp_path):
    printer = PreviewPrinter(tmp_path)
    printer.fault = "paper_out"
    with pytest.raises(PrintFault) as fault:
        printer.print_layout(layouts.ticket(admission(), lambda m: m, "now"))
    assert fault.value.reason == "paper_out" and printer.state is PrinterState.FAULT
    assert list(tmp_path.iterdir()) == []


def test_preview_printer_writes_a_wristband_png(tmp_path):
    printer = PreviewPrinter(tmp_path)
    path = printer.print_layout(layouts.wristband(admission(), lambda m: m)).path
    assert printer.last["wristband"] == path and path.name.startswith("wristband-")
    with Image.open(path) as image:
        assert image.size == (2200, 192), "the band as it is read on the wrist"


def test_open_devices_by_name(tmp_path):
    assert isinstance(open_printer("preview:out", tmp_path), PreviewPrinter)
    assert open_printer("preview:out", tmp_path).folder == tmp_path / "out"
    assert isinstance(open_reader("simulated", sample_cards()), SimulatedReader)


def test_simulated_reader_reads_cards_in_turn_on_its_own_thread():
    cards = sample_cards()
    reader = SimulatedReader(cards, read_s=0.01)
    events = []
    reader.on_card_inserted = lambda: events.append(("inserted", threading.current_thread().name))
    reader.on_card_read = lambda card: events.append(("read", card.person.family))
    reader.start()
    reader.insert().join()
    reader.insert().join()
    assert events == [("inserted", "simulated-reader"), ("read", "Müller-Lüdenscheidt"),
                      ("inserted", "simulated-reader"), ("read", "Dubois-Lefèvre")]
    assert reader.state is ReaderState.CARD_PRESENT


def test_card_removed_during_the_read_is_never_reported_as_read():
    reader = SimulatedReader(sample_cards(), read_s=60)      # removed long before the read ends
    events = []
    inserted = threading.Event()
    reader.on_card_inserted = inserted.set
    reader.on_card_read = lambda card: events.append("read")
    reader.on_card_removed = lambda: events.append("removed")
    reader.start()
    thread = reader.insert()
    assert inserted.wait(2)
    reader.remove()
    thread.join()
    assert events == ["removed"] and reader.state is ReaderState.EMPTY


def test_a_simulated_reader_unplugged_reports_a_fault_and_reads_nothing_until_plugged_in():
    reader = SimulatedReader(sample_cards(), read_s=60)
    events = []
    inserted = threading.Event()
    reader.on_card_inserted = inserted.set
    reader.on_card_read = lambda card: events.append("read")
    reader.on_card_removed = lambda: events.append("removed")
    reader.on_fault = lambda reason: events.append(f"fault {reason}")
    reader.start()
    reading = reader.insert()
    assert inserted.wait(2)
    reader.unplug()                          # pulled out with the card in it, mid-read
    reading.join()
    assert events == ["removed", "fault no_reader"] and reader.state is ReaderState.NO_READER
    inserted.clear()
    reader.insert().join()
    assert not inserted.is_set() and reader.state is ReaderState.NO_READER, "no reader, no card"
    reader.plug_in()
    assert reader.state is ReaderState.EMPTY
    reader._read_s = 0.01
    reader.insert().join()
    assert events[-1] == "read" and reader.state is ReaderState.CARD_PRESENT


def test_sample_cards_keep_the_read_card_shape():
    for card in sample_cards():
        again = type(card).from_json(card.to_json())
        assert again == card
        assert card.to_json()["patient"]["resourceType"] == "Patient"


@pytest.mark.parametrize("word,text", [(ReaderState.CARD_PRESENT, "card_present"),
                                       (PrinterState.PAPER_LOW, "paper_low"),
                                       (PrintOutcome.UNCONFIRMED, "unconfirmed")])
def test_device_words_are_the_strings_logs_json_and_the_store_keep(word, text):
    assert word == text and f"{word}" == text and json.dumps({word: word}) == f'{{"{text}": "{text}"}}'
    with sqlite3.connect(":memory:") as db:
        assert db.execute("SELECT ?", (word,)).fetchone() == (text,)
