"""An ESC/POS printer through python-escpos (tcp://, usb://, serial://, file://, cups://).

Every job opens the printer, asks its real-time status (DLE EOT 1-4), sends the whole job followed
by GS r 1 in one write, waits for the answer to GS r (given only once the printer has worked through
the job), asks the status again, and closes; each step within ``timeout_s``. A printer that was
switched off and on is therefore simply found again by the next job, and nothing is ever sent twice
on its own: a job is retried only while nothing of it has been sent (the printer was not there yet);
once bytes went out, a failure is reported, and a second copy is only printed when someone asks.

What its answers mean, and when something other than a printer answers: kiosk.hardware.escpos_status.
"""

from __future__ import annotations

import contextlib
import threading
import time

from kiosk.hardware import escpos_jobs
from kiosk.hardware.errors import NotAPrinter, PrintFault
from kiosk.hardware.escpos_status import GS_R_1, DLE_EOT, NOT_A_PRINTER, STATUS_QUERIES, parse_status
from kiosk.hardware.layouts import TicketLayout
from kiosk.hardware.printer import Layout, Printer, PrinterState, PrinterStatus, PrintResult
from kiosk.hardware.printer_links import Link, transport

RECONNECT_PAUSE_S = 0.25          # between attempts to reach a printer that is not there (yet)


class EscposPrinter(Printer):
    """An ESC/POS printer at ``uri`` with the python-escpos capability ``profile``.

    :param timeout_s: longest wait for each step of a job: reaching the printer and its status, sending
        the job (plus the transfer time of a serial line), the printer finishing it
    :param lock: shared by the EscposPrinters of one address, so their jobs never interleave
    """

    def __init__(self, uri: str, profile: str, timeout_s: float = 5.0, lock: threading.Lock | None = None):
        self.uri, self.profile, self.timeout_s = uri, profile, timeout_s
        self._connect_once = transport(uri)
        self._lock = lock or threading.Lock()
        self.last_status = PrinterStatus()

    def status(self) -> PrinterStatus:
        """Ask the printer now (opens and closes a connection); unknown when it cannot be reached."""
        try:
            return self.probe()
        except PrintFault:
            return PrinterStatus()

    def probe(self) -> PrinterStatus:
        """Ask the printer now, as ``status`` does, but raise when it cannot be reached: ``status`` says
        "unknown" both for a printer that is not there and one that does not answer status queries.

        :raises PrintFault: "unreachable" (within ``timeout_s``)
        """
        with self._lock:
            deadline = time.monotonic() + self.timeout_s
            link = self._connect(deadline)
            try:
                return self._query(link, deadline, last=True)
            except OSError:
                return PrinterStatus()
            finally:
                link.close()

    def print_layout(self, layout: Layout) -> PrintResult:
        if isinstance(layout, TicketLayout):
            job = escpos_jobs.ticket_job(layout, self.profile)
        else:
            job = escpos_jobs.wristband_job(layout, self.profile)
        with self._lock:
            self.state = PrinterState.PRINTING
            try:
                result = self._send(job)
            except PrintFault:
                self.state = PrinterState.FAULT
                raise
            self.state = PrinterState.READY if result.confirmed else PrinterState.UNKNOWN
            return result

    def _send(self, job: bytes) -> PrintResult:
        """Status, job, "done?", status: every step within ``timeout_s``."""
        step = lambda extra=0.0: time.monotonic() + self.timeout_s + extra   # noqa: E731
        link = self._connect(step())
        try:
            try:
                before = self._query(link, step())
            except OSError:
                raise PrintFault("unreachable") from None
            if before.fault:
                raise PrintFault(before.fault)
            finished = False
            try:
                done = link.ask(GS_R_1, step(link.transfer_s(len(job))), after=job)
                # GS r is answered only once the printer has worked through the job before it: a
                # printer that ran out of paper or opened its cover half-way goes offline instead.
                finished = link.answer(done, step()) is not None
                after = self._query(link, step(), last=True)
            except OSError:
                # Sent is not received: a connection that breaks before the printer said it is done
                # most likely took part of the job with it. What came back before it broke counts
                # all the same (a web server answers the job's first line, then hangs up).
                with contextlib.suppress(OSError):
                    link.catch_up(step())
                if not finished:
                    raise PrintFault("connection_lost") from None
                return PrintResult(confirmed=True)
        finally:
            link.close()
        if after.fault:
            raise PrintFault(after.fault)
        return PrintResult(confirmed=finished and after.known, paper_low=after.paper_low)

    def _connect(self, deadline: float) -> Link:
        """Open the printer, trying again until ``deadline`` (it may be starting after a power cycle)."""
        while True:
            try:
                return self._connect_once(max(0.05, deadline - time.monotonic()))
            except Exception as e:    # python-escpos raises DeviceNotFoundError, pyusb USBError, ...
                if time.monotonic() + RECONNECT_PAUSE_S > deadline:
                    raise PrintFault("unreachable") from e
                time.sleep(RECONNECT_PAUSE_S)

    def _query(self, link: Link, deadline: float, *, last: bool = False) -> PrinterStatus:
        """DLE EOT 1-4; a device that leaves one unanswered for a second is not asked the next.
        ``last``: nothing follows on this connection, so a device that stayed silent is told goodbye
        (``Link.finish``) and heard once more. Something that answers as no printer does is NOT_A_PRINTER.
        """
        replies = {}
        try:
            link.catch_up(deadline)     # what came before these questions: late replies, or a banner
            for n in STATUS_QUERIES:
                asked = link.ask(DLE_EOT + bytes([n]), deadline)
                reply = link.answer(asked, min(deadline, time.monotonic() + 1.0))
                if reply is None:
                    break                # it does not answer: do not wait four times
                replies[n] = reply
            status = parse_status(replies)
            if last and not status.known:
                link.finish(time.monotonic() + min(1.0, self.timeout_s))     # a step of its own
        except NotAPrinter:
            status = NOT_A_PRINTER
        self.last_status = status
        return status
