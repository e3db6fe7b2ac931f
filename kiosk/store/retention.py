"""Retention: the personal data of old admissions that need nothing more is wiped (``purge_personal_data``),
in short batches, and the WAL emptied after."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone

from kiosk.store.db import BUSY_TIMEOUT_MS, Connection
from kiosk.times import moment, utc
from kiosk.store.outbox import UNDELIVERED, OutboxStatus
from kiosk.store.staff import name_tries

log = logging.getLogger(__name__)

PURGE_BATCH = 50                          # admissions wiped per write transaction (each one short)
# The pause between two batches: a connection waiting for the lock retries at most every 100 ms (SQLite's
# busy handler), so it gets in after one batch instead of missing every short gap between them.
PURGE_PAUSE_S = 0.1
WITHDRAWN_SETTLE = timedelta(hours=1)     # a withdrawn message may still be delivered (and answered) this long

# What a wiped admission's JSON keeps (Admission.to_json keys); "patient" becomes an empty Patient.
_KEPT = frozenset({"id", "kiosk_id", "created_at", "language", "identified_by", "consent", "consent_text_id",
                   "queue_number", "test_data"})
# An admission whose personal data may go (:limit, :settled: ISO times in UTC): checked in before the limit,
# no message pending or refused, no incident open or taken, and no message withdrawn (cancelled) less than
# WITHDRAWN_SETTLE ago: one that was on its way may still be delivered, and its answer stored.
_WIPEABLE = ("a.wiped_at IS NULL AND julianday(a.created_at) < julianday(:limit) "
             f"AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.admission_id = a.id AND o.status IN {UNDELIVERED}) "
             "AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.admission_id = a.id AND i.status IN ('open', 'taken')) "
             "AND NOT (coalesce(julianday(a.cancelled_at), 0) >= julianday(:settled) AND EXISTS "
             f"(SELECT 1 FROM outbox o WHERE o.admission_id = a.id AND o.status = '{OutboxStatus.WITHDRAWN}'))")


class RetentionMixin(Connection):
    """The purge of the store (``kiosk.store.Store``)."""

    def purge_personal_data(self, older_than: datetime, actor: str = "retention", *, forget_tries_after: timedelta,
                            batch_size: int = PURGE_BATCH) -> int:
        """Wipe the personal data of the admissions checked in before ``older_than`` that have nothing
        left to do: no message pending or refused (delivered, withdrawn or none at all; one withdrawn less
        than an hour ago may still be delivered, so waits for a later run) and no incident open or taken.
        Returns how many were wiped (one audit line says so, every run).

        The candidates are looked up without the write lock, then wiped ``batch_size`` at a time, each batch
        its own short write transaction that checks each admission again (one that got a message or an
        incident since stays), with a pause between batches: a check-in on another connection waits for
        one batch at most.

        A wiped admission keeps what staff and figures need (``_KEPT``: queue number, times, kiosk, how
        the patient was identified, language, consent; cancelled and wiped_at in their columns) and loses
        name, birth date, identifiers, address, phone, coverage, appointment, answers and signature. Its
        messages lose what the hospital system answered (``response``; ``last_error`` keeps the reason
        code), its incidents the note staff typed (``detail`` holds codes only); so do incidents about no
        admission resolved before ``older_than``. Wrong-PIN counts of names that are no member are
        forgotten once ``forget_tries_after`` (the sign-in lock period, kiosk.desk.staff's rule) has passed
        since their last try, unless they are locked still. Then the WAL is checkpointed and
        emptied, unless another connection is using it right then (the purge does not wait: the next run
        empties it): with secure_delete, the old data is overwritten in the file and gone from the WAL.
        """
        now = datetime.now(timezone.utc)
        candidates = self._purge_candidates(older_than, now)
        wiped = 0
        for start in range(0, len(candidates), batch_size):
            if start:
                time.sleep(PURGE_PAUSE_S)
            wiped += self._wipe_batch(candidates[start:start + batch_size], older_than, now)
        forget = now - forget_tries_after
        with self._write():
            self.db.execute("UPDATE incidents SET note = '' WHERE admission_id IS NULL AND status = 'resolved' "
                            "AND note != '' AND julianday(resolved_at) < julianday(?)",
                            [utc(older_than).isoformat()])
            for key, value in self.db.execute("SELECT key, value FROM kiosk_state WHERE key LIKE 'sign_in_tries:%'"
                                              ).fetchall():
                _, until, last = name_tries(value)
                if not (until and moment(until) > now) and (not last or moment(last) < forget):
                    self.db.execute("DELETE FROM kiosk_state WHERE key = ?", [key])
            self._audit(actor, "retention.purged", "", f"{wiped} admission(s)")
        self.db.execute("PRAGMA busy_timeout = 0")      # a connection reading or writing: do not wait for it
        try:
            busy = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if busy:
            log.debug("retention: the WAL is in use by another connection; the next purge empties it")
        return wiped

    def _wipe_params(self, older_than: datetime, now: datetime) -> dict:
        return {"limit": utc(older_than).isoformat(), "settled": (now - WITHDRAWN_SETTLE).isoformat()}

    def _purge_candidates(self, older_than: datetime, now: datetime) -> list[str]:
        """The ids of the admissions ``purge_personal_data`` may wipe, oldest first; read only, no write lock."""
        return [r[0] for r in self.db.execute(f"SELECT id FROM admissions a WHERE {_WIPEABLE} "
                                              "ORDER BY julianday(a.created_at)",
                                              self._wipe_params(older_than, now)).fetchall()]

    def _wipe_batch(self, ids: list[str], older_than: datetime, now: datetime) -> int:
        """Wipe those of ``ids`` that may still be wiped (checked again here), in one write transaction;
        returns how many."""
        with self._write():
            rows = self.db.execute(
                f"SELECT id, data FROM admissions a WHERE id IN (SELECT value FROM json_each(:ids)) AND {_WIPEABLE}",
                {**self._wipe_params(older_than, now), "ids": json.dumps(ids)}).fetchall()
            for admission_id, data in rows:
                kept = {k: v for k, v in json.loads(data).items() if k in _KEPT}
                kept["patient"] = {"resourceType": "Patient"}
                self.db.execute("UPDATE admissions SET data = ?, wiped_at = ? WHERE id = ?",
                                [json.dumps(kept, ensure_ascii=False), now.isoformat(timespec="seconds"), admission_id])
                self.db.execute("UPDATE outbox SET response = '', last_error = CASE WHEN instr(last_error, ':') "
                                "THEN substr(last_error, 1, instr(last_error, ':') - 1) ELSE last_error END "
                                "WHERE admission_id = ?", [admission_id])
                self.db.execute("UPDATE incidents SET note = '' WHERE admission_id = ?", [admission_id])
        return len(rows)
