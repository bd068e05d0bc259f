"""Fault points: named places in our own code where the fault-injection suite (tests/faults)
makes the process fail the way production processes fail, to prove that what is left
behind is recovered (DESIGN.md §3). Inert unless FAULT_INJECTION_DIR is set, which only the
test profile accepts (settings refuse it elsewhere).

A test arms a point by writing its action into ``<FAULT_INJECTION_DIR>/<point>``
(``fault_arm``); the first process of ours to reach the point takes the file (an atomic
rename, so exactly one fires, and a redelivered task then runs through) and:

- ``kill``: dies at once (SIGKILL: no cleanup, no rollback but the database's own, no
  acknowledgement to the broker), as under the OOM killer or a lost machine;
- ``drop_db``: has another connection terminate its database session
  (``pg_terminate_backend``), as a failover or a network cut does; the next query fails.
"""

import os
import signal
from pathlib import Path

from django.conf import settings

ACTIONS = ("kill", "drop_db")

#: Every fault point in the code, with what has happened when it fires.
POINTS = {
    "autorenew.before_charge": "the off-session attempt is committed, Stripe not called yet",
    "autorenew.after_charge": "Stripe charged the card, nothing of its answer is committed",
    "activation.before_carrier": "the activation attempt is claimed, the carrier not called yet",
    "activation.before_commit": "the carrier activated the period, our record of it not committed",
    "receipt.before_send": "the receipt's send is claimed, the e-mail not sent yet",
}


def fault_arm(directory: str | Path, point: str, action: str) -> None:
    """Make the next process that reaches ``point`` do ``action`` (tests only)."""
    if point not in POINTS or action not in ACTIONS:
        raise ValueError(f"unknown fault {point}={action}: points {sorted(POINTS)}, actions {ACTIONS}")
    Path(directory, point).write_text(action)


def fault_fired(directory: str | Path, point: str) -> bool:
    return Path(directory, f"{point}.fired").exists()


def fault_point(name: str) -> None:
    directory = settings.FAULT_INJECTION_DIR
    if not directory:
        return
    armed, fired = Path(directory, name), Path(directory, f"{name}.fired")
    try:
        armed.rename(fired)  # atomic: one process takes it
    except FileNotFoundError:
        return
    action = fired.read_text().strip()
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "drop_db":
        _terminate_own_session()


def _terminate_own_session() -> None:
    import psycopg
    from django.db import connection

    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
