"""An admission is "delivered" only when the hospital system's own protocol said so.

Every network transport (FHIR over HTTP, HL7 v2 over MLLP) against listeners on 127.0.0.1 that answer but are
not a hospital system: a web server's page, JSON that is not a transaction-response, a server that echoes
what it gets (an echoed FHIR Bundle, an echoed HL7 message in MLLP framing), a banner, random bytes, a
peer that closes at once. The admission must stay pending (never delivered, never set aside as refused by
a hospital), `kiosk sync --once` must exit 9, and `kiosk doctor`'s hospital row must fail.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk import config
from kiosk.ops import doctor
from kiosk.hospital import outbox, transports
from kiosk.checkin.model import Admission, Identifier, Person
from kiosk.store import Store

KIOSK = str(Path(sys.executable).parent / "kiosk")
MLLP_START, MLLP_END = b"\x0b", b"\x1c\r"


# --- listeners that are not a hospital system -------------------------------------------------------------

class _Http(http.server.BaseHTTPRequestHandler):
    kind = "html"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        content, ctype = {
            "html": (b"<!doctype html><title>Intranet</title><p>Welcome</p>", "text/html"),
            "json": (b'{"status": "ok"}', "application/json"),
            "echo": (body or b'{"resourceType": "Bundle", "type": "searchset"}', "application/fhir+json"),
        }[self.kind]
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args) -> None:
        pass


class _Tcp(socketserver.BaseRequestHandler):
    kind = "banner"

    def handle(self) -> None:
        sock = self.request
        sock.settimeout(5)
        if self.kind == "banner":
            sock.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        elif self.kind == "noise":
            sock.sendall(os.urandom(64) + MLLP_END)
        elif self.kind == "close":
            return
        received = b""
        try:
            while chunk := sock.recv(4096):
                received += chunk
                if self.kind == "mllp-echo" and received.endswith(MLLP_END):
                    sock.sendall(received)             # the message itself, framed, as if it were the ACK
                    received = b""
                elif self.kind == "http" and b"\r" in received:
                    sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
        except OSError:
            pass


def _serve(server) -> tuple[str, threading.Thread]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"127.0.0.1:{server.server_address[1]}", thread


@pytest.fixture(params=["html", "json", "echo"])
def not_a_fhir_server(request):
    handler = type("Handler", (_Http,), {"kind": request.param})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        where, _ = _serve(server)
        yield f"http://{where}/fhir"
        server.shutdown()


@pytest.fixture(params=["mllp-echo", "http", "banner", "noise", "close"])
def not_an_mllp_receiver(request):
    handler = type("Handler", (_Tcp,), {"kind": request.param})
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        server.daemon_threads = True
        where, _ = _serve(server)
        yield f"mllp://{where}"
        server.shutdown()


# --- the kiosk against them ----------------------------------------------------------------------------------

def admission() -> Admission:
    return Admission(id="0b6c7f2e-1d2a-4c57-9f0e-000000000001", kiosk_id="lobby-1",
                     created_at="2026-12-07T08:00:00+00:00", language="de", identified_by="card:egk",
                     person=Person(family="Müller", given=("Jürgen",), birth_date="1958-03-21", gender="male",
                                   identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", "X110411675"),)))


def attempt(transport_name: str, url: str, tmp_path: Path):
    settings = config.Settings(hospital=config.HospitalSettings(transport=transport_name, url=url, timeout_s=2.0))
    store = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    try:
        store.save_admission(admission(), destinations=(transport_name,))
        transport = transports.open_transport(settings)
        try:
            progress = outbox.Sync(store, transport, retry_max_s=1.0).run_once(now_or_never=True)
        finally:
            transport.close()
        return progress, store.outbox()
    finally:
        store.close()


def check_with_the_commands(transport_name: str, url: str, tmp_path: Path) -> None:
    """`kiosk sync --once` on a store with one admission waiting exits 9; `kiosk doctor`'s hospital row never says
    it is fine: it fails, or (a peer that stays silent after its banner or noise, as an interface engine that
    answers admissions only would) warns that no HL7 answer came."""
    tmp_path.mkdir()
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[hospital]\ntransport = "{transport_name}"\n'
                   f'url = "{url}"\ntimeout_s = 2.0\n[printer.ticket]\nuri = ""\n[store]\nencryption = "none"\n',
                   encoding="utf-8")
    store = Store(tmp_path / "data" / "kiosk.db", kiosk_id="lobby-1")
    store.save_admission(admission(), destinations=(transport_name,))
    store.close()
    run = subprocess.run([KIOSK, "sync", "--once", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 9, run.stdout + run.stderr
    assert "Delivered 0 admission(s)" in run.stdout
    [row] = [r for r in doctor.run(cfg) if r.check == "hospital"]
    assert (row.status, row.exit_code) == ("fail", 9) or (row.status == "warn" and "no HL7 v2 answer" in row.detail), row


def test_a_web_page_or_json_that_is_not_fhir_delivers_nothing(not_a_fhir_server, tmp_path):
    progress, [row] = attempt("fhir", not_a_fhir_server, tmp_path)
    assert progress.delivered == 0 and row["status"] == "pending", row
    assert row["last_error"] == "unexpected_response"
    check_with_the_commands("fhir", not_a_fhir_server, tmp_path / "commands")


def test_something_that_is_not_an_mllp_receiver_delivers_nothing(not_an_mllp_receiver, tmp_path):
    progress, [row] = attempt("hl7v2", not_an_mllp_receiver, tmp_path)
    assert progress.delivered == 0 and row["status"] == "pending", row
    assert row["last_error"] in ("not_an_ack", "unreachable", "timeout"), row["last_error"]
    check_with_the_commands("hl7v2", not_an_mllp_receiver, tmp_path / "commands")


def test_every_network_transport_is_walked():
    """A new transport that talks to a peer needs its impostors here too."""
    walked = {"fhir", "hl7v2"}
    network = {name for name in config.HospitalSettings.__dataclass_fields__["transport"].metadata["choices"]
               if name not in ("none", "folder")}
    assert network == walked
