"""A function's warm workers: at most its concurrency at once, an invocation waiting for a free
one (or, for a reserved-concurrency function's SQS batch, throttled), with the counts the bench
reads (invocations, errors, the AWS calls they made)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.runner.roles import RoleCredentials
from local.runner.worker import InvocationResult, Worker


@dataclass
class FunctionSpec:
    name: str
    arn: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]
    concurrency: int
    log_group: str
    reserved: int | None = None  # ReservedConcurrentExecutions: a hard cap, as on AWS
    role: str | None = None  # the execution role's ARN: workers and pollers run with its credentials


def resolve(pools: Mapping[str, FunctionPool], name_or_arn: str) -> str:
    """The name of a function the runner runs, from its name or ARN; KeyError if it runs none such."""
    name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn
    if name not in pools:
        raise KeyError(name)
    return name


class FunctionPool:
    """At most ``concurrency`` warm workers; an invocation waits for a free one (throttling)."""

    def __init__(
        self,
        spec: FunctionSpec,
        code_dir: Path,
        base_env: dict[str, str],
        log_file: Path,
        credentials: Callable[[], RoleCredentials | None] | None = None,
    ) -> None:
        self.spec, self.code_dir, self.base_env, self.log_file = spec, code_dir, base_env, log_file
        self.credentials = credentials or (lambda: None)  # the execution role's, renewed before they expire
        self._slots = threading.BoundedSemaphore(spec.concurrency)
        self._idle: list[Worker] = []
        self._lock = threading.Lock()
        self.invocations = 0
        self.errors = 0
        self.calls: Counter[str] = Counter()  # AWS API calls made by this function's invocations
        self.s3_put_bytes = 0
        self.sqs_fifo_calls = 0  # of ``calls``, the SQS requests on FIFO queues
        self.throttles = 0
        self.closed = False  # replaced by a new deployment: workers finishing now are not kept

    def try_invoke(self, event: Any) -> InvocationResult | None:
        """Invoke if a slot is free now; None (a throttle, counted) if the function is at its concurrency."""
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self.throttles += 1
            return None
        self._slots.release()  # a race with another poller blocks briefly instead of throttling
        return self.invoke(event)

    def invoke(self, event: Any) -> InvocationResult:
        with self._slots:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            credentials = self.credentials()
            if worker is not None and worker.credentials is not credentials:  # renewed: a new environment
                worker.kill()
                worker = None
            if worker is None or not worker.alive:
                worker = Worker(self.spec, self.code_dir, self.base_env, self.log_file, credentials)
            result = worker.invoke(event)
            with self._lock:
                self.invocations += 1
                self.errors += 0 if result.ok else 1
                if result.usage:
                    self.calls.update(result.usage["calls"])
                    self.s3_put_bytes += result.usage["s3_put_bytes"]
                    self.sqs_fifo_calls += result.usage.get("sqs_fifo_calls", 0)
                if worker.alive and not self.closed:
                    self._idle.append(worker)
                elif worker.alive:
                    worker.kill()
            return result

    def close(self) -> None:
        with self._lock:
            self.closed = True
            for worker in self._idle:
                worker.kill()
            self._idle.clear()
