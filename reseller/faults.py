"""Fault points: named places in our own code where the fault-injection suite (tests/faults)
makes the process fail the way production processes fail, to prove that what is left
behind is recovered (DESIGN.md §3). Inert unless FAULT_INJECTION is set, which only the test
profile accepts (settings refuse it elsewhere).

``FAULT_INJECTION="autorenew.after_charge=kill"`` (comma-separated ``point=action`` pairs):

- ``kill``: the process dies at once (SIGKILL: no cleanup, no rollback but the database's
  own, no acknowledgement to the broker), as under the OOM killer or a lost machine;
- ``drop_db``: another connection terminates this process's database session
  (``pg_terminate_backend``), as a failover or a network cut does; the next query fails.

With ``FAULT_INJECTION_ONCE_DIR`` set, each point fires once in all processes sharing that
directory (the first to create ``<dir>/<point>`` wins), so a redelivered task runs through.
"""

import os
import signal

from django.conf import settings

ACTIONS = ("kill", "drop_db")

#: Every fault point in the code, with what has happened when it fires.
POINTS = {
    "autorenew.before_charge": "the off-session attempt is committed, Stripe not called yet",
    "autorenew.after_charge": "Stripe charged the card, nothing of its answer is committed",
    "activation.before_carrier": "the activation attempt is claimed, the carrier not called yet",
    "activation.before_commit": "the carrier activated the period, our record of it not committed",
}


def fault_injection_parse(value: str) -> dict[str, str]:
    faults = {}
    for pair in filter(None, (part.strip() for part in value.split(","))):
        point, _sep, action = pair.partition("=")
        if point not in POINTS or action not in ACTIONS:
            raise ValueError(f"unknown fault {pair!r}: points {sorted(POINTS)}, actions {ACTIONS}")
        faults[point] = action
    return faults


def fault_point(name: str) -> None:
    action = settings.FAULT_INJECTION.get(name)
    if action is None or not _first_time(name):
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "drop_db":
        _terminate_own_session()


def _first_time(name: str) -> bool:
    directory = settings.FAULT_INJECTION_ONCE_DIR
    if not directory:
        return True
    try:
        os.close(os.open(os.path.join(directory, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


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
