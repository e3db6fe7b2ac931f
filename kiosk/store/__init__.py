"""The local store: one SQLite file (WAL) through sqlite-utils, with named migrations.

Tables: ``admissions`` (each stored whole, as JSON beside the columns staff filter on), ``outbox``
(what still has to reach the hospital system), ``incidents`` (what staff must look at), ``prints``
(every ticket and wristband job and how it ended), ``staff`` (with ``staff_badges``) and ``audit`` (who did
what, when). An admission, its outbox rows and its audit line are written in one transaction: all of them
or none.

The file is encrypted at rest with SQLCipher (AES-256) when the store is opened with a key (``read_key``:
the environment, a systemd credential or a root-only key file); without one it is plain SQLite, which the
config must ask for (``store.encryption = "none"``). Either way deleted data is overwritten
(``secure_delete``), and the personal data of old admissions is wiped (``purge_personal_data``).

``Store`` is made of one part per concern, each a class in its module: ``db`` (the file, its key, the
connection and the one write transaction every part writes through), ``schema`` (the migrations),
``admissions``, ``outbox``, ``incidents``, ``prints``, ``staff`` (with ``digests``: how a badge is looked up)
and ``retention``.
"""

from kiosk.store.admissions import AdmissionsMixin
from kiosk.store.db import DB_ERRORS, KEY_ENV, STORE_ERRORS, StoreLocked, read_key
from kiosk.store.incidents import IncidentsMixin
from kiosk.store.outbox import OutboxMixin, OutboxStatus
from kiosk.store.prints import PrintInProgress, PrintsMixin
from kiosk.store.retention import RetentionMixin
from kiosk.store.schema import migrations
from kiosk.store.staff import StaffMixin

__all__ = ["DB_ERRORS", "KEY_ENV", "OutboxStatus", "PrintInProgress", "STORE_ERRORS", "Store", "StoreLocked",
           "migrations", "read_key"]


class Store(AdmissionsMixin, OutboxMixin, IncidentsMixin, PrintsMixin, StaffMixin, RetentionMixin):
    """The kiosk's SQLite file. Open one per thread; every write is its own transaction."""
