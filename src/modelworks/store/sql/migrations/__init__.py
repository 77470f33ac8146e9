"""Alembic migrations of the metadata database (run by the store on open, or ``modelworks db upgrade``)."""
