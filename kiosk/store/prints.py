"""Print jobs: every ticket and wristband job, who asked for it and how it ended."""

from __future__ import annotations

from kiosk.store.db import Connection, now_iso


class PrintInProgress(RuntimeError):
    """That admission's ticket or wristband is being printed right now: a second tap prints nothing."""


class PrintsMixin(Connection):
    """The print jobs of the store (``kiosk.store.Store``)."""

    def print_started(self, admission_id: str, kind: str, actor: str) -> int:
        """Record that a ticket or wristband of this admission is being printed (the job ``actor`` queued
        with the admission, or a new one); returns the job id.

        :raises PrintInProgress: the same one is printing right now, or queued by someone else
        """
        with self._write():
            queued = self.db.execute("SELECT id FROM prints WHERE admission_id = ? AND kind = ? AND actor = ? "
                                     "AND status = 'queued'", [admission_id, kind, actor]).fetchone()
            if queued:
                self.db.execute("UPDATE prints SET status = 'printing', started_at = ? WHERE id = ?",
                                [now_iso(), queued[0]])
                self._audit(actor, "print.started", admission_id, kind)
                return queued[0]
            busy = self.db.execute("SELECT 1 FROM prints WHERE admission_id = ? AND kind = ? "
                                   "AND status IN ('queued', 'printing')", [admission_id, kind]).fetchone()
            if busy:
                raise PrintInProgress(f"the {kind} of admission {admission_id} is printing")
            job_id = self.db["prints"].insert({
                "admission_id": admission_id, "kind": kind, "actor": actor, "status": "printing", "reason": "",
                "started_at": now_iso(), "finished_at": "",
            }).last_pk
            self._audit(actor, "print.started", admission_id, kind)
        return job_id

    def print_finished(self, job_id: int, status: str, reason: str = "") -> None:
        """How a job ended: printed, unconfirmed (sent; the printer gave no status) or failed."""
        with self._write():
            self.db["prints"].update(job_id, {"status": status, "reason": reason, "finished_at": now_iso()})
            row = self.db["prints"].get(job_id)
            self._audit(row["actor"], f"print.{status}", row["admission_id"], f"{row['kind']} {reason}".strip())

    def interrupt_prints(self) -> list[dict]:
        """Jobs left 'printing' by a kiosk that stopped mid-job, or still 'queued' by one that stopped
        between storing the admission and printing, end as 'interrupted' (they may or may not have printed:
        staff decide). Called when the kiosk starts; returns those jobs."""
        with self._write():
            rows = list(self.db["prints"].rows_where("status IN ('queued', 'printing')"))
            for row in rows:
                self.db["prints"].update(row["id"], {"status": "interrupted", "finished_at": now_iso()})
        return rows

    def prints(self, admission_id: str | None = None) -> list[dict]:
        where, args = ("admission_id = ?", [admission_id]) if admission_id else (None, None)
        return list(self.db["prints"].rows_where(where, args, order_by="id"))
