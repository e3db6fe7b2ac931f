"""Incidents: what staff must look at, and their life cycle (open -> taken -> resolved, each step by a
named member of staff and audited)."""

from __future__ import annotations

from kiosk.checkin.model import Incident, IncidentKind
from kiosk.store.db import Connection, now_iso


class IncidentsMixin(Connection):
    """The incidents of the store (``kiosk.store.Store``)."""

    def raise_incident(self, incident: Incident) -> int:
        """Record an incident for staff; returns its id. A state of the kiosk's devices that is already
        open (``IncidentKind.about_the_kiosk``, same detail) is not raised again: its id is returned."""
        with self._write():
            return self._insert_incident(incident)

    def _insert_incident(self, incident: Incident) -> int:
        if incident.kind.about_the_kiosk:
            rows = self.db.execute(
                "SELECT id FROM incidents WHERE status != 'resolved' AND admission_id IS NULL AND kind = ? "
                "AND detail = ?", [incident.kind.value, incident.detail]).fetchall()
            if rows:
                return rows[0][0]
        row_id = self.db["incidents"].insert({
            "kiosk_id": self.kiosk_id, "created_at": now_iso(), "kind": incident.kind.value,
            "severity": incident.severity.value, "status": "open", "admission_id": incident.admission_id,
            "detail": incident.detail,
        }).last_pk
        self._audit("kiosk", "incident.raised", str(row_id), incident.kind.value)
        return row_id

    def kiosk_incident_open(self, kind: IncidentKind) -> bool:
        """Whether an incident of this kind about the kiosk itself is open or taken (not resolved)."""
        return self.db.execute("SELECT 1 FROM incidents WHERE status != 'resolved' AND admission_id IS NULL "
                               "AND kind = ? LIMIT 1", [kind.value]).fetchone() is not None

    def resolve_kiosk_incidents(self, kind: IncidentKind, actor: str, *, how: str = "done", note: str = "") -> int:
        """Close the open (or taken) incidents of one kind about the kiosk itself (e.g. the hospital
        system being unreachable, once it answers again); returns how many."""
        with self._write():
            ids = [r[0] for r in self.db.execute(
                "SELECT id FROM incidents WHERE status != 'resolved' AND admission_id IS NULL AND kind = ?",
                [kind.value]).fetchall()]
            for row_id in ids:
                self._resolve(row_id, actor, how, note)
        return len(ids)

    def resolve_incidents(self, admission_id: str, kind: IncidentKind, actor: str, *, about: str = "",
                          how: str = "done", note: str = "") -> int:
        """Close the open (or taken) incidents of one kind for an admission whose detail starts with
        ``about`` (e.g. its ticket's printer fault, once the ticket is reprinted); returns how many."""
        with self._write():
            ids = [r[0] for r in self.db.execute(
                "SELECT id FROM incidents WHERE status != 'resolved' AND admission_id = ? AND kind = ? "
                "AND substr(detail, 1, ?) = ?", [admission_id, kind.value, len(about), about]).fetchall()]
            for row_id in ids:
                self._resolve(row_id, actor, how, note)
        return len(ids)

    def take_incident(self, incident_id: int, actor: str) -> dict | None:
        """Mark an incident as being seen to by ``actor`` (again, when someone else had taken it).
        Returns the incident as it was, or None when there is none (or it is resolved)."""
        with self._write():
            row = self._incident(incident_id)
            if row is None or row["status"] == "resolved":
                return row
            self.db.execute("UPDATE incidents SET status = 'taken', taken_by = ?, taken_at = ? WHERE id = ?",
                            [actor, now_iso(), incident_id])
            self._audit(actor, "incident.taken", str(incident_id), row["kind"])
        return row

    def resolve_incident(self, incident_id: int, actor: str, how: str, note: str = "") -> dict | None:
        """Close one incident: by whom, how (a word from kiosk.desk.staff.RESOLUTIONS) and a note. Returns
        the incident as it was, or None when there is none; a resolved one is left as it is."""
        with self._write():
            row = self._incident(incident_id)
            if row is not None and row["status"] != "resolved":
                self._resolve(incident_id, actor, how, note)
        return row

    def _incident(self, incident_id: int) -> dict | None:
        cursor = self.db.execute("SELECT * FROM incidents WHERE id = ?", [incident_id])
        row = cursor.fetchone()
        return dict(zip((c[0] for c in cursor.description), row)) if row else None

    def _resolve(self, incident_id: int, actor: str, how: str, note: str) -> None:
        kind = self.db.execute(
            "UPDATE incidents SET status = 'resolved', resolved_by = ?, resolved_at = ?, resolution = ?, note = ? "
            "WHERE id = ? RETURNING kind", [actor, now_iso(), how, note, incident_id]).fetchone()[0]
        # The note is free text typed by staff (it may name the patient): it stays on the incident row.
        self._audit(actor, "incident.resolved", str(incident_id), f"{kind} {how}")


    def incidents(self, status: str | None = "open") -> list[dict]:
        """Incidents of one status (open, taken, resolved; "unresolved": open or taken), or all, oldest first."""
        if status == "unresolved":
            where, args = "status != 'resolved'", None
        else:
            where, args = ("status = ?", [status]) if status else (None, None)
        return list(self.db["incidents"].rows_where(where, args, order_by="id"))

    def incidents_for_staff(self, include_resolved: bool = False) -> list[dict]:
        """Unresolved incidents (and resolved ones when asked), newest first, with their admission's
        queue number ("" when none) and whether it is cancelled (``admission_cancelled``, 0 or 1)."""
        where = "" if include_resolved else "WHERE i.status != 'resolved' "
        cursor = self.db.execute(
            "SELECT i.*, coalesce(a.queue_number, '') AS queue_number, "
            "coalesce(a.cancelled_at, '') != '' AS admission_cancelled FROM incidents i "
            f"LEFT JOIN admissions a ON a.id = i.admission_id {where}ORDER BY i.id DESC")
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
