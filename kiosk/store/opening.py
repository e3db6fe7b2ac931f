"""The kiosk's store as the config places it: ``kiosk.db`` in ``kiosk.data_dir``, with the key ``read_key``
finds. The one way every command, thread and page of the kiosk opens it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.store import Store, read_key

if TYPE_CHECKING:
    from kiosk.config import Settings

STORE_FILE = "kiosk.db"                 # in kiosk.data_dir


def open_store(settings: Settings, **options) -> Store:
    """The kiosk's store (kiosk.db in data_dir), with the key ``read_key`` finds unless ``options`` give one.

    :raises kiosk.store.StoreLocked: no key, or not the store's; ``DB_ERRORS``, OSError: it cannot be opened
    """
    if "key" not in options:
        options["key"] = read_key(settings.store)
    return Store(settings.data_path / STORE_FILE, kiosk_id=settings.kiosk.id, **options)
