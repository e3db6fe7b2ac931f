"""The printer test tools work, and fail when they should: ``escpos_decode`` reads back what python-escpos 3.1
(an independent byte source) sends, and the fake printers in ``fakeprinter`` answer it over TCP and a pty."""

from __future__ import annotations

import os
import select
import socket
import threading

import pytest
import qrcode
import serial
from escpos.printer import Dummy, Network, Serial
from escpos_decode import decode, read_codes, tokenize
from fakeprinter import STATUS_BYTES, NetPrinter, PrinterBehaviour, PtyPrinter
from PIL import Image, ImageDraw

PROFILE = "TM-T88V"


def dummy() -> Dummy:
    return Dummy(profile=PROFILE)


# --- escpos_decode -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, codec", [
    ("Müller", "cp437"), ("Çelik", "cp437"), ("Şahin Yıldız", "cp857"), ("Dubois-Lefèvre", "cp437"),
    ("Daniëls", "cp437"),
])
def test_text_round_trips_with_its_code_page(name, codec):
    printer = dummy()
    printer.hw("INIT")
    printer.textln(f"Name: {name}")
    printout = decode(printer.output)
    assert printout.text == f"Name: {name}\n"
    assert printout.codepages_for(name) == {codec}


def test_code_page_per_word_in_one_printout():
    printer = dummy()
    printer.textln("Müller")
    printer.textln("Şahin Yıldız")
    printer.charcode("CP1252")
    printer.textln("Daniëls Dubois-Lefèvre")
    printout = decode(printer.output)
    assert printout.text == "Müller\nŞahin Yıldız\nDaniëls Dubois-Lefèvre\n"
    assert printout.codepages_for("Müller") == {"cp437"}
    assert printout.codepages_for("Yıldız") == {"cp857"}
    assert printout.codepages_for("Daniëls") == {"cp1252"}
    assert printout.codepages_for("ller\nŞah") == {"cp437", "cp857"}
    assert printout.codepages_for("Smith") == set()


def test_esc_at_resets_the_code_page_as_the_printer_does():
    # python-escpos 3.1 does not know that ESC @ resets the page (its reset_encoding() came later): the decoder
    # shows the damage.
    printer = dummy()
    printer.textln("Şahin")
    printer.hw("INIT")
    printer.textln("Yıldız")
    printout = decode(printer.output)
    assert "Yıldız" not in printout.text
    assert printout.codepages_for("Yìldìz") == {"cp437"}


def test_native_qr_payload():
    printer = dummy()
    printer.qr("ADMISSION:x", native=True)
    printer.qr("Zoë Şahin", native=True, size=6)
    assert decode(printer.output).qr_codes() == ["ADMISSION:x", "Zoë Şahin"]


def test_image_qr_decodes():
    printer = dummy()
    printer.qr("ADMISSION:x")
    printout = decode(printer.output)
    assert printout.qr_codes() == []
    [image] = printout.images()
    assert read_codes(image) == [("QRCode", "ADMISSION:x")]


@pytest.mark.parametrize("impl", ["graphics", "bitImageRaster", "bitImageColumn"])
def test_software_code128_decodes(impl, capsys):
    printer = dummy()
    printer.barcode("{BMRN123", "CODE128", force_software=impl)
    [image] = decode(printer.output).images()
    # The software renderer encodes the "{B" code-set prefix as data.
    assert read_codes(image) == [("Code128", "{BMRN123")]


def test_rotated_band_decodes():
    band = Image.new("1", (900, 160), 1)
    band.paste(qrcode.make("MRN:123|DOB:1970-01-01", box_size=4, border=0).get_image().convert("1"), (20, 10))
    code = dummy()
    code.barcode("{BMRN123", "CODE128", force_software="bitImageRaster")
    band.paste(decode(code.output).images()[0].crop((0, 0, 512, 110)), (300, 20))
    printer = dummy()
    printer.image(band.rotate(90, expand=True))
    [image] = decode(printer.output).images()
    assert image.size == (160, 900)
    assert sorted(read_codes(image)) == [("Code128", "{BMRN123"), ("QRCode", "MRN:123|DOB:1970-01-01")]


def tall_image() -> Image.Image:
    """200 x 2200 dots, a QR across the 960-row fragment boundary, and diagonal lines to check every row."""
    image = Image.new("1", (200, 2200), 1)
    image.paste(qrcode.make("WRISTBAND", box_size=5, border=0).get_image().convert("1"), (40, 900))
    draw = ImageDraw.Draw(image)
    for top in range(0, 2200, 200):
        draw.line((0, top, 199, top + 199), fill=0)
    return image


@pytest.mark.parametrize("impl, command, fragments", [("bitImageRaster", "GS v 0", 3), ("graphics", "GS ( L", 6)])
def test_tall_image_fragments_are_stitched(impl, command, fragments):
    image = tall_image()
    printer = dummy()
    printer.image(image, impl=impl)
    printout = decode(printer.output)
    assert [t.name for t in printout.tokens].count(command) == fragments
    [printed] = printout.images()
    assert printed.size == (200, 2200)
    assert printed.tobytes() == image.tobytes()
    assert read_codes(printed) == [("QRCode", "WRISTBAND")]


def test_tall_column_image_is_stitched():
    image = tall_image()
    printer = dummy()
    printer.image(image, impl="bitImageColumn")
    [printed] = decode(printer.output).images()
    assert printed.width == 200 and 2200 <= printed.height < 2200 + 24   # the last stripe is padded
    assert printed.crop((0, 0, 200, 2200)).tobytes() == image.tobytes()


def test_images_of_other_width_kind_or_apart_stay_apart():
    printer = dummy()
    printer.image(Image.new("1", (64, 8), 0))
    printer.image(Image.new("1", (128, 8), 0))
    printer.textln("")
    printer.image(Image.new("1", (128, 8), 0))
    printer.image(Image.new("1", (128, 8), 0), impl="graphics")
    printer.image(Image.new("1", (61, 8), 0), impl="graphics")   # GS ( L counts dots, GS v 0 bytes
    printer.image(Image.new("1", (61, 8), 0))
    images = decode(printer.output).images()
    assert [i.size for i in images] == [(64, 8), (128, 8), (128, 8), (128, 8), (61, 8), (64, 8)]
    assert all(i.getextrema() == (0, 0) for i in images[:5])                   # all black
    assert images[5].crop((61, 0, 64, 8)).getextrema() == (255, 255)           # padding is white


def test_commands_from_python_escpos(capsys):
    printer = dummy()
    printer.hw("INIT")
    printer.set(align="center", bold=True, underline=1, font="b", custom_size=True, width=2, height=3,
                invert=True, flip=True, smooth=True, density=3)
    printer.set(double_height=True)
    printer.line_spacing(30)
    printer.line_spacing()
    printer.control("HT")
    printer.control("CR")
    printer.control("FF")
    printer.print_and_feed(2)
    printer.barcode("{BMRN12345", "CODE128")
    printer.barcode("MRN12345", "CODE39")
    printer.cut()
    printer.cut(mode="PART")
    printer.cut(feed=False)
    printout = decode(printer.output + b"\x1bV\x01\x1dV1\x1dVA\x03\x10\x04\x01\x1dr\x01\x10\x04\x04")
    names = [t.name for t in printout.tokens]
    for name in ("ESC @", "ESC a", "ESC E", "ESC -", "ESC M", "GS !", "GS B", "ESC {", "ESC !", "ESC 3", "ESC 2",
                 "ESC D", "CR", "FF", "ESC d", "GS h", "GS w", "GS H", "GS f", "GS k", "ESC V", "GS r"):
        assert name in names
    assert printout.barcodes() == [(73, b"{BMRN12345"), (4, b"MRN12345")]
    assert printout.cuts == 5
    assert [t.args for t in printout.tokens if t.name == "GS V"][-3:] == [b"\x42\x00", b"1", b"A\x03"]
    assert printout.status_queries == [1, 4]


@pytest.mark.parametrize("data, message", [
    (b"AB\x1b\x99", "unknown ESC/POS bytes at offset 2: 1b 99"),
    (b"ok\x00", "offset 2: 00"),
    (b"\x1dV\x07", "offset 0: 1d 56 07"),
    (b"\x1dk\x49\x09{BMRN", "truncated GS k at offset 0"),
    (b"\x1dk\x04MRN", "truncated GS k at offset 0: no NUL"),
    (b"x\x1dv0\x00\x02\x00\x05\x00\xff", "truncated GS v 0 at offset 1"),
    (b"\x1d(k\x05\x001P0", "truncated GS ( k at offset 0"),
    (b"\x1b", "offset 0: 1b"),
])
def test_garbage_raises(data, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        tokenize(data)


def test_unknown_code_page_raises():
    printer = dummy()
    printer.text("€")     # python-escpos picks slot 15 (ISO-8859-7) for the euro sign on a TM-T88V
    with pytest.raises(ValueError, match="ESC t 15 at offset 0"):
        decode(printer.output)


# --- fakeprinter -------------------------------------------------------------------------------------------------

def test_behaviour_answers_queries_anywhere_in_the_stream():
    printer = PrinterBehaviour()
    assert printer.feed(b"text\x10") == b""
    assert printer.feed(b"\x04") == b""
    assert printer.feed(b"\x04\x1dv0\x00\x03\x00\x01\x00\x10\x04\x01") == b"\x12\x12"   # the second in image data
    printer.state = "garbage"
    assert printer.feed(b"\x10\x04\x02") == b"\x00\xff"
    printer.state = "silent"
    assert printer.feed(b"\x10\x04\x02") == b""
    assert printer.received == b"text\x10\x04\x04\x1dv0\x00\x03\x00\x01\x00\x10\x04\x01\x10\x04\x02\x10\x04\x02"
    with pytest.raises(ValueError, match="unknown printer state"):
        printer.state = "on_fire"


def test_behaviour_switches_state_mid_stream():
    printer = PrinterBehaviour(switch_to_after=(5, "paper_out"))
    assert printer.feed(b"\x10\x04\x04ab\x10\x04\x04\x10\x04\x01") == b"\x12\x7e\x1a"
    assert printer.state == "paper_out"


def test_status_bytes_follow_the_epson_bit_rules():
    for replies in STATUS_BYTES.values():
        assert all(b & 0x12 == 0x12 and not b & 0x81 for b in replies.values())


@pytest.mark.parametrize("state, replies", [   # DLE EOT 1, 2, 3, 4 (Epson's reply bits)
    ("ready", b"\x12\x12\x12\x12"), ("paper_low", b"\x12\x12\x12\x1e"), ("paper_out", b"\x1a\x32\x12\x7e"),
    ("cover_open", b"\x1a\x16\x12\x12"), ("offline", b"\x1a\x12\x12\x12"), ("cutter_error", b"\x1a\x52\x1a\x12"),
])
def test_net_printer_answers_status(state, replies):
    with NetPrinter(state=state) as printer:
        client = Network("127.0.0.1", printer.port, timeout=3)
        client.open()
        assert b"".join(client.query_status(bytes([0x10, 0x04, n])) for n in (1, 2, 3, 4)) == replies
        assert client.is_online() == (state in ("ready", "paper_low"))
        assert client.paper_status() == {"paper_out": 0, "paper_low": 1}.get(state, 2)
        client.close()
        printer.wait_idle()
        assert decode(printer.connections[0]).status_queries == [1, 2, 3, 4, 1, 4]


def test_net_printer_records_jobs_per_connection():
    with NetPrinter() as printer:
        assert printer.uri == f"tcp://127.0.0.1:{printer.port}"
        for ticket in ("A-041", "A-042"):
            client = Network("127.0.0.1", printer.port, timeout=3, profile=PROFILE)
            client.textln(ticket)
            client.cut()
            client.close()
        printer.wait_idle()
        assert [decode(job).text for job in printer.connections] == ["A-041\n", "A-042\n"]
        assert printer.jobs_with(b"A-042") == printer.connections[1:]
        assert decode(printer.received).cuts == 2


def test_net_printer_serves_one_connection_at_a_time():
    with NetPrinter() as printer:
        first = socket.create_connection(("127.0.0.1", printer.port), timeout=3)
        first.sendall(b"\x10\x04\x01")
        assert first.recv(16) == b"\x12"
        with socket.create_connection(("127.0.0.1", printer.port), timeout=3) as second:
            second.sendall(b"second job")         # waits in the backlog
        first.sendall(b"\x10\x04\x04")
        assert first.recv(16) == b"\x12"
        assert len(printer.connections) == 1
        first.close()
        printer.wait_idle()                       # also waits for the job in the backlog
        assert printer.connections == [b"\x10\x04\x01\x10\x04\x04", b"second job"]


def test_net_printer_silent_and_garbage():
    with NetPrinter(state="silent") as printer:
        client = Network("127.0.0.1", printer.port, timeout=0.3)
        client.open()
        with pytest.raises(TimeoutError):
            client.query_status(b"\x10\x04\x01")
        printer.state = "garbage"
        assert client.query_status(b"\x10\x04\x01") == b"\x00\xff"
        client.close()


def test_net_printer_answers_inside_image_data():
    with NetPrinter() as printer, socket.create_connection(("127.0.0.1", printer.port), timeout=3) as client:
        client.sendall(b"\x1dv0\x00\x03\x00\x01\x00\x10\x04\x01")
        assert client.recv(16) == b"\x12"


def test_net_printer_runs_out_of_paper_mid_job():
    with NetPrinter(switch_to_after=(100, "paper_out")) as printer:
        client = Network("127.0.0.1", printer.port, timeout=3, profile=PROFILE)
        client.open()
        assert client.paper_status() == 2
        client.textln("x" * 200)
        assert client.paper_status() == 0
        assert not client.is_online()
        client.close()


def test_net_printer_drops_mid_job():
    job = b"\x1b@" + b"line\n" * 1000
    with NetPrinter(drop_after=50) as printer:
        client = socket.create_connection(("127.0.0.1", printer.port), timeout=3)
        with pytest.raises(OSError):      # broken pipe or reset, once the close has come back
            for _ in range(1000):
                client.sendall(job)
        client.close()
        printer.wait_idle()
        printer.drop_after = None
        with socket.create_connection(("127.0.0.1", printer.port), timeout=3) as again:
            again.sendall(b"\x10\x04\x01")
            assert again.recv(16) == b"\x12"
        assert printer.connections[0] == job[:50]


def test_net_printer_power_cycle_keeps_the_port():
    with NetPrinter() as printer:
        port = printer.port
        client = socket.create_connection(("127.0.0.1", port), timeout=3)
        client.sendall(b"\x10\x04\x01")
        assert client.recv(16) == b"\x12"           # connection accepted
        printer.power_off()
        assert client.recv(16) == b""               # and now closed
        client.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=3)
        printer.power_on()
        assert printer.port == port
        client = Network("127.0.0.1", port, timeout=3)
        client.open()
        assert client.is_online()
        client.close()


def test_net_printer_wait_idle_is_bounded():
    with (NetPrinter() as printer, socket.create_connection(("127.0.0.1", printer.port), timeout=3),
          pytest.raises(TimeoutError)):
        printer.wait_idle(0.2)


def test_printers_leave_no_threads():
    before = set(threading.enumerate())
    with NetPrinter() as printer, PtyPrinter():
        socket.create_connection(("127.0.0.1", printer.port), timeout=3).close()
    assert set(threading.enumerate()) == before


def test_pty_printer_over_pyserial():
    with PtyPrinter(state="paper_low") as printer:
        assert printer.serial_uri == f"serial://{printer.path}?baudrate=19200"
        with serial.Serial(printer.path, 19200, timeout=1) as port:
            port.write(b"\x1b@Hallo\n\x10\x04\x04")
            assert port.read(1) == b"\x1e"
        client = Serial(devfile=printer.path, baudrate=19200, profile=PROFILE)
        client.open()
        assert client.paper_status() == 1
        client.close()
        assert printer.received.startswith(b"\x1b@Hallo\n\x10\x04\x04")
        assert decode(printer.received).status_queries == [4, 4]


def test_pty_printer_over_a_plain_file_descriptor():
    with PtyPrinter(state="cover_open") as printer:
        assert printer.file_uri == f"file://{printer.path}"
        fd = os.open(printer.path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"ticket\n\x10\x04\x02")
            assert select.select([fd], [], [], 5)[0]
            assert os.read(fd, 16) == b"\x16"
        finally:
            os.close(fd)
        printer.wait_received(10)
        assert printer.received == b"ticket\n\x10\x04\x02"
