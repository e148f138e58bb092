"""Imports every room that defines tables, so that the metadata is complete.

Alembic and the test suite import this module; the rooms themselves stay where they are.
"""

from . import (  # noqa: F401
    audit,
    builds,
    components,
    incident_templates,
    incidents,
    outbox,
    scheduler,
    signup,
    site,
    staff,
    subscriptions,
    two_factor,
)
