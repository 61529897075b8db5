"""DynamoDB TTL: a sweeper thread deletes expired items (and expired SQS messages) each second.

moto never deletes an item whose TTL has passed; DynamoDB does, some time after. The sweeper
counts on ``clock.clock()``, which a test can move ahead.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any

from local.emulator.clock import clock
from local.emulator.dynamodb_fidelity import table_lock_name
from local.emulator.sqs_retention import expire_messages
from local.emulator.write_locks import write_locks

TTL_LAG_ENV = "EMULATOR_TTL_LAG_SECONDS"
TTL_LAG_SECONDS = 1.0  # default: an item is deleted this long after its TTL, at the earliest
SWEEP_SECONDS = 1.0  # how often the sweeper runs
FIVE_YEARS = 5 * 365 * 86400  # DynamoDB's TTL ignores expiry times older than this


def ttl_lag_from_env() -> float:
    """``EMULATOR_TTL_LAG_SECONDS`` (default 1): how long after its TTL an item is deleted."""
    raw = os.environ.get(TTL_LAG_ENV, "").strip()
    try:
        lag = float(raw) if raw else TTL_LAG_SECONDS
    except ValueError:
        raise ValueError(f"{TTL_LAG_ENV} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(lag) or lag < 0:
        raise ValueError(f"{TTL_LAG_ENV} must be a number of seconds >= 0, not {raw!r}")
    return lag


def ttl_expired(item: Any, attribute: str, now: float, lag: float) -> bool:
    """Whether DynamoDB's TTL deletes ``item`` at ``now``: its ``attribute`` is a top-level
    Number (epoch seconds) more than ``lag`` seconds in the past, and no more than five years
    in the past. An item without it, or with another type (a String, a number set), is
    never deleted (AWS: "the TTL processes ignore the item")."""
    value = item.attrs.get(attribute)
    if value is None or value.type != "N":
        return False
    try:
        expires = float(value.value)
    except (TypeError, ValueError):
        return False
    return now - FIVE_YEARS < expires < now - lag


class TtlSweeper:
    """DynamoDB deletes an item of a table whose TTL is ENABLED some time after the item's TTL
    attribute has passed (AWS: typically within a few days; until then the item is read,
    queried, scanned and updated as any other). moto never deletes one. Every
    ``SWEEP_SECONDS`` this thread deletes, in every table with TTL enabled, each item whose TTL
    is more than ``lag`` seconds behind ``clock()`` (``EMULATOR_TTL_LAG_SECONDS``, default 1 s,
    read when the emulator starts), and deletes expired SQS messages of every queue
    (``expire_messages``: a comparison per queue unless one expired).
    The check and the delete are one step: candidates are found without a lock, then each is
    read again and deleted under its table's write lock (``write_locks``, the one every
    DynamoDB write request holds), so an item whose TTL a write moved into the future or
    removed just before survives, as on DynamoDB, whose TTL deletes are conditional on the
    item still being expired."""

    def __init__(self, lag: float, interval: float = SWEEP_SECONDS) -> None:
        self.lag = lag
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TtlSweeper:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="emulator-ttl-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - a model changing under the sweep: the next one retries
                continue

    def sweep(self) -> dict[str, int]:
        """One pass over every table and queue; returns how many items and messages it deleted."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.sqs.models import sqs_backends

        deleted = {"items": 0, "messages": 0}
        for account in list(dynamodb_backends.values()):
            for backend in list(account.values()):
                for table in list(backend.tables.values()):
                    attribute = self._ttl_attribute(table)
                    if attribute is None:
                        continue
                    now = clock()
                    for item in [i for i in self._items(table) if ttl_expired(i, attribute, now, self.lag)]:
                        deleted["items"] += self._delete_if_expired(backend, table, item)
        for sqs_account in list(sqs_backends.values()):
            for sqs in list(sqs_account.values()):
                for queue in list(sqs.queues.values()):
                    with queue._messages_lock:
                        deleted["messages"] += expire_messages(queue)
        return deleted

    @staticmethod
    def _ttl_attribute(table: Any) -> str | None:
        ttl = table.ttl or {}
        return ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None

    @staticmethod
    def _items(table: Any) -> list[Any]:
        """A snapshot of the table's items (each ``list()`` of a dict is one step under the GIL)."""
        if table.range_key_attr:
            return [item for by_range in list(table.items.values()) for item in list(by_range.values())]
        return list(table.items.values())

    def _delete_if_expired(self, backend: Any, table: Any, item: Any) -> int:
        """Delete ``item`` if, read again under its table's write lock, it is still expired."""
        with write_locks([table_lock_name(backend.account_id, backend.region_name, str(table.name))]):
            attribute = self._ttl_attribute(table)
            current = table.get_item(item.hash_key, item.range_key)
            if attribute is None or current is None or not ttl_expired(current, attribute, clock(), self.lag):
                return 0
            table.delete_item(item.hash_key, item.range_key)
            return 1
