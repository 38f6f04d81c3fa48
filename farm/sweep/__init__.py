"""Sweeps: one probe run over a corpus between two gateways, embedded (in-process) or distributed (Celery)."""
