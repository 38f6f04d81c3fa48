"""Distributed sweeps: the producer, and the work Celery tasks do near each gateway (see docs/distributed.md)."""
