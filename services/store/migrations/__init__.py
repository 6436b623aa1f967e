"""Alembic migrations of the store (run by ``kitestream store migrate``)."""
