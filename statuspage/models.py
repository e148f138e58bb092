"""Imports every room that defines tables, so that the metadata is complete.

Alembic and the test suite import this module; the rooms themselves stay where they are.
"""

from . import (  # noqa: F401
    audit,
    builds,
    components,
    incidents,
    outbox,
    scheduler,
    site,
    staff,
    subscriptions,
    two_factor,
)
