"""Imports every room that defines tables, so that the metadata is complete.

Alembic and the test suite import this module; the rooms themselves stay where they are.
"""

from . import audit, components, incidents, site, staff  # noqa: F401
