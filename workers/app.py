"""The Celery app: `celery -A workers worker -Q probe.legacy` runs a worker next to the legacy gateway.

Its configuration is `farm.distributed.celery_app` (one place, shared with the producer); this module builds
the app the workers run and adds what only a worker process needs.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_process_init

from farm.config import FarmConfig
from farm.distributed.celery_app import FarmTask, long_task_limits, make_app, task_limits, visibility_timeout
from farm.distributed.names import AGGREGATE_QUEUE

__all__ = ["AGGREGATE_QUEUE", "FarmTask", "app", "database_url", "long_task_limits", "make_app", "task_limits",
           "visibility_timeout"]

app = make_app()


# One INFO line per gateway request drowns the task log (and costs CPU at high volume).
logging.getLogger("httpx").setLevel(logging.WARNING)


@worker_process_init.connect
def _after_fork(**_kwargs: Any) -> None:
    # Prefork children inherit the parent's pooled connections: drop them without closing the parent's.
    from farm.store.db import dispose_all

    dispose_all()


def database_url() -> str:
    config: FarmConfig = app.conf.farm_config
    return config.database_url
