"""The Celery application of the farm, configured once: broker, routes, delivery settings, time limits, the task
base class. `workers/app.py` builds the worker's app from it; the producer builds its sending app from it too
(so `farm/` never imports `workers/`).

Configuration comes from farm.toml and the environment (FARM_BROKER_URL, FARM_DATABASE_URL,
FARM_VISIBILITY_TIMEOUT, FARM_TASK_TIME_LIMIT, FARM_TASK_EVENTS, FARM_TASK_SENT_EVENTS). Tasks ignore
results: values travel through the database, never the result backend (see docs/distributed.md for why),
so no result backend is configured at all.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from kombu.exceptions import OperationalError as KombuOperationalError

from farm.config import DEFAULT_BROKER_URL, FarmConfig, load_config
from farm.distributed.names import AGGREGATE_QUEUE, FINALIZE_TASK, PAIR_TASK
from farm.store.db import RETRYABLE

TASK_TIME_LIMIT = 900  # seconds; a job's calls take 2 x 4 attempts x 30 s at worst, an aggregation far less
TASK_MODULES = ["workers.sweep", "workers.schedule", "workers.audit"]


def visibility_timeout() -> int:
    """Redis redelivers an unacked message after this; it must exceed the longest task (celery#7651)."""
    return int(os.environ.get("FARM_VISIBILITY_TIMEOUT", "3600"))


def task_limits() -> tuple[int, int]:
    """Hard and soft time limit of a gateway job or a pairing (FARM_TASK_TIME_LIMIT overrides the hard one),
    below the visibility timeout. Enforced by the prefork pool only (celery#9203): the stack runs prefork."""
    hard = min(int(os.environ.get("FARM_TASK_TIME_LIMIT", TASK_TIME_LIMIT)), max(visibility_timeout() - 60, 30))
    return hard, hard - max(1, min(30, hard // 10))


def long_task_limits() -> dict[str, int]:
    """Time limits of tasks whose length grows with their input (a scheduled sweep's dispatch, an audit phase
    over a data root, finalizing a huge sweep): as long as the visibility timeout allows, since past it Redis
    would deliver the task a second time while the first still runs (each of them is idempotent anyway)."""
    vt = visibility_timeout()
    return {"time_limit": max(vt - 60, 30), "soft_time_limit": max(vt - 90, 20)}


def _flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).lower() in ("1", "true", "yes", "on")


def task_events() -> bool:
    return _flag("FARM_TASK_EVENTS", "1")


def task_sent_events() -> bool:
    # Off by default: with flow control a task waits in its queue briefly, and the producer publishing one
    # event per task cost it ~20% of its CPU (py-spy); Flower still sees every task from "received" on.
    return task_events() and _flag("FARM_TASK_SENT_EVENTS", "0")


class FarmTask(Task):  # type: ignore[misc]  # Celery ships no type hints
    """Every farm task: a database error (a restart, a lost connection) or a broker lost while the task
    publishes its follow-up is retried with jittered exponential backoff; every task is idempotent, so a retry
    is harmless."""

    autoretry_for = (*RETRYABLE, KombuOperationalError)
    retry_backoff = True
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 8


def make_app(config: FarmConfig | None = None) -> Celery:
    config = config or load_config()
    vt = visibility_timeout()
    hard, soft = task_limits()
    app = Celery("farm", broker=config.broker_url or DEFAULT_BROKER_URL, task_cls=FarmTask, include=TASK_MODULES)
    # Scan for a dead worker's unacked messages every few seconds (kombu's default: every ~100 s), so they are
    # redelivered soon after the visibility timeout rather than up to 100 s later.
    transport: dict[str, Any] = {"visibility_timeout": vt, "unacked_restore_throttle": 1,
                                 "unacked_restore_interval": max(1, min(10, vt // 4))}
    app.conf.update(
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        # At-least-once: ack after the task ran, requeue when the worker dies under it; every task is idempotent.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # long I/O tasks: do not hoard messages a dead worker would sit on
        task_time_limit=hard,
        task_soft_time_limit=soft,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        # Ride out a broker restart: workers and beat reconnect for as long as it takes (the supervised stack
        # restarts one that dies anyway), and a task publishing while the broker is away retries for ~30 s.
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        broker_channel_error_retry=True,
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 30, "interval_start": 0.2, "interval_step": 0.5,
                                   "interval_max": 2.0},
        task_default_queue=AGGREGATE_QUEUE,
        task_routes={PAIR_TASK: {"queue": AGGREGATE_QUEUE}, FINALIZE_TASK: {"queue": AGGREGATE_QUEUE},
                     "farm.schedule.*": {"queue": AGGREGATE_QUEUE}},
        # Task events feed Flower; FARM_TASK_EVENTS=0 turns them off, FARM_TASK_SENT_EVENTS=1 adds "sent".
        worker_send_task_events=task_events(),
        task_send_sent_event=task_sent_events(),
        timezone="UTC",
        enable_utc=True,
    )
    from farm.schedule import beat_schedule

    app.conf.beat_schedule = beat_schedule(config)
    app.conf.farm_config = config
    return app
