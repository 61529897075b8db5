"""Counting AWS API calls (and bytes written to S3) made through botocore in this process."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.s3_put_bytes = 0
        self.sqs_fifo_calls = 0  # SQS requests on FIFO queues (priced apart from standard ones)
        self.paused = False  # e.g. while a harness polls on a function's behalf
        self.only_thread: int | None = None  # count only this thread's calls (other threads: runner pollers)
        self._installed = False

    def install(self) -> CallCounter:
        """Wrap botocore's BaseClient._make_api_call (the botocore on sys.path now); without a
        botocore there is nothing to count: the code cannot call AWS."""
        if self._installed:
            return self
        try:
            from botocore.client import BaseClient
        except ModuleNotFoundError:
            return self

        original = BaseClient._make_api_call
        counter = self

        def counted(client: Any, operation: str, params: dict) -> Any:
            if counter.paused or counter.only_thread not in (None, threading.get_ident()):
                return original(client, operation, params)
            service = client.meta.service_model.service_name
            counter.calls[f"{service}:{operation}"] += 1
            if service == "sqs" and str(params.get("QueueUrl", "")).endswith(".fifo"):
                counter.sqs_fifo_calls += 1
            if operation == "PutObject":
                body = params.get("Body", b"")
                counter.s3_put_bytes += len(body) if isinstance(body, bytes | str) else 0
            return original(client, operation, params)

        BaseClient._make_api_call = counted  # type: ignore[method-assign]
        self._installed = True
        return self

    def take(self) -> dict[str, Any]:
        """The counts since the last take(), then reset."""
        out = {"calls": dict(self.calls), "s3_put_bytes": self.s3_put_bytes, "sqs_fifo_calls": self.sqs_fifo_calls}
        self.calls.clear()
        self.s3_put_bytes = 0
        self.sqs_fifo_calls = 0
        return out
