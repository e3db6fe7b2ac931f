"""Staff actions that run on a thread of their own (staff mode's ``runner``: a reprint, the device status
may wait for a printer), on a store connection of their own, with a failure of the store told to staff as
one sentence."""

from __future__ import annotations

import logging
from typing import Callable

from kiosk.desk.staff import Staff

from kiosk.signin import StaffError
from kiosk.messages import N_
from kiosk.store import STORE_ERRORS, Store

log = logging.getLogger(__name__)

ACTION_FAILED = N_("The kiosk could not do that just now. Please try again or call IT.")


def failure(error: Exception) -> StaffError:
    """A staff action that failed on this side (the store, a file): logged by its class only, and told to
    staff as one sentence they can act on, not as the name of an exception."""
    log.error("staff action failed: %s", type(error).__name__)
    return StaffError(ACTION_FAILED)


def on_own_connection(store: Store, build: Callable[[Store], Staff]) -> Callable[[Callable[[Staff], object]],
                                                                              tuple[object, StaffError | None]]:
    """``run(job)`` for another thread (a Store connection belongs to the thread that opened it): ``job(staff)``
    with a ``build``-made Staff on a connection of its own to ``store``'s file, closed afterwards. ``run``
    returns ``(what job returned, None)``, or ``(None, error)``: the StaffError the job raised, or
    ``failure``'s when the store or a file failed (what staff mode's ``done(result, error)`` takes)."""
    def run(job: Callable[[Staff], object]) -> tuple[object, StaffError | None]:
        try:
            own = store.reopen()
            try:
                return job(build(own)), None
            finally:
                own.close()
        except StaffError as e:
            return None, e
        except STORE_ERRORS as e:
            return None, failure(e)
    return run
