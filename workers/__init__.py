"""Celery workers: thin task shells over `farm/`. `celery -A workers ...` finds the app here."""

from workers.app import app

__all__ = ["app"]
