"""Shared by the state-machine tests (test_flow_machine.py, test_outbox_machine.py): how long they run.

``make test`` runs each machine for a bounded number of examples and steps, well under a minute here.
``KIOSK_HYPOTHESIS=long`` runs many more (minutes to hours), for a search on demand:

    KIOSK_HYPOTHESIS=long .venv/bin/python -m pytest tests/checkin/test_flow_machine.py tests/hospital/test_outbox_machine.py
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("KIOSK_HYPOTHESIS", "") == "long"


def machine_settings(examples: int, steps: int, *, long_examples: int | None = None,
                     long_steps: int | None = None) -> settings:
    """``examples`` runs of at most ``steps`` steps each; with KIOSK_HYPOTHESIS=long, ``long_examples``
    (default 20 times as many) of ``long_steps`` (default twice as many). No deadline: a step may wait for
    a real receiver. The database of failures stays off, so a test run leaves no files behind."""
    if LONG:
        examples, steps = long_examples or examples * 20, long_steps or steps * 2
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
