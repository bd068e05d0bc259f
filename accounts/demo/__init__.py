"""Demo data for development, demos and benchmarks (``manage.py seed_demo``): a French and
European catalogue, 50 customers with lines and their history, staff logins, and optionally
bulk lines for load tests.

Re-running is safe. Every row is keyed on a stable code, e-mail, ICCID, idempotency key or
carrier record id, so a second run updates rows in place and adds none. Dates are relative to
the hour of the run, so re-seeding also refreshes "expires in two days" and the like; a
receipt number, once issued, is never issued again. Re-seeding resets demo rows to their
seeded state and leaves other rows alone (a renewal bought by hand on a demo line stays, but
the line's expiry goes back to the seeded one).

The demo set is drawn in two steps: ``blueprint.demo_blueprint`` decides everything from a
fixed random seed (plain data, no database, no clock), then ``seed`` writes it. ``bulk`` adds
the benchmark lines.
"""

from accounts.demo.blueprint import CATALOGUE, PLAN_SPECS, demo_blueprint
from accounts.demo.bulk import BULK_LINE_SERIAL_START, bulk_iccid, count_bulk_lines, seed_bulk_lines
from accounts.demo.seed import (
    STAFF_LOGINS,
    DemoSummary,
    demo_anchor,
    demo_customer_email,
    new_staff_password,
    seed_demo_data,
    seed_staff,
)

__all__ = [
    "BULK_LINE_SERIAL_START",
    "CATALOGUE",
    "PLAN_SPECS",
    "STAFF_LOGINS",
    "DemoSummary",
    "bulk_iccid",
    "count_bulk_lines",
    "demo_anchor",
    "demo_blueprint",
    "demo_customer_email",
    "new_staff_password",
    "seed_bulk_lines",
    "seed_demo_data",
    "seed_staff",
]
