"""Persistence: typed SQLAlchemy models, sessions, idempotent upserts and report queries."""
