"""Assertions that the database itself refused a row, naming the rule it broke."""

import pytest
from django.db import IntegrityError


def refused(constraint: str):
    """SQLite and PostgreSQL both put a check constraint's name in the error message."""
    return pytest.raises(IntegrityError, match=constraint)


def refused_as_duplicate():
    # SQLite says "UNIQUE constraint failed: …", PostgreSQL "… violates unique constraint …".
    return pytest.raises(IntegrityError, match=r"(?i)unique constraint")
