"""Persistence: SQLAlchemy 2 models and the session/engine owner. SQLite by default, Postgres in production."""
