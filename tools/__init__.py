"""Tools for the project's own upkeep (not part of the application)."""
