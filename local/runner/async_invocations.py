"""Asynchronous invocations (Invoke with Event, SNS deliveries, EventBridge schedules): a queue
per function, drained by as many threads as the function's concurrency, and each failed
invocation retried after each of the retry delays (Lambda retries twice), then dropped."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from typing import Any

from local.runner.pool import FunctionPool
from local.runner.threads import Threads

log = logging.getLogger("local-runner")


class AsyncInvocations:
    def __init__(self, pools: Mapping[str, FunctionPool], threads: Threads, retry_delays: tuple[float, ...]) -> None:
        self.pools = pools  # read at each invocation: a redeployed function runs its new code
        self.threads = threads
        self.retry_delays = retry_delays
        self._queues: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()

    def put(self, name: str, event: Any) -> None:
        """Queue an invocation of ``name`` (a function the runner runs) and return at once."""
        self._queue(name).put((event, 0))

    def pending(self, name: str) -> int:
        """Invocations of ``name`` queued and not yet started."""
        with self._lock:
            q = self._queues.get(name)
        return q.qsize() if q is not None else 0

    def _queue(self, name: str) -> queue.Queue:
        with self._lock:
            if name not in self._queues:
                self._queues[name] = queue.Queue()
                for i in range(self.pools[name].spec.concurrency):
                    self.threads.spawn(self._run, name, name=f"async-{name}-{i}")
            return self._queues[name]

    def _run(self, name: str) -> None:
        q = self._queues[name]
        while not self.threads.stopping.is_set():
            try:
                event, attempt = q.get(timeout=0.5)
            except queue.Empty:
                continue
            result = self.pools[name].invoke(event)
            if not result.ok and attempt < len(self.retry_delays):
                threading.Timer(self.retry_delays[attempt], q.put, args=((event, attempt + 1),)).start()
            elif not result.ok:
                log.error("async invocation of %s dropped after retries: %s", name, result.error)
