"""SQS event source mappings: the pollers that receive a batch, invoke the function and delete
what succeeded, as Lambda's pollers do.

A poller receives up to ``batch_size`` messages (waiting up to the batching window), invokes,
then deletes what succeeded (all, or all but ``batchItemFailures``). A function with reserved
concurrency is polled as AWS does (the mapping's maximum concurrency, else five batches at
once) and a batch beyond its concurrency is throttled: not invoked, its receive spent, back
after the visibility timeout. Failed messages are left to their visibility timeout; the
emulator moves them to the DLQ after ``maxReceiveCount`` receives. The pollers count the SQS
requests they make, per mapping (``calls``): AWS bills the account for its pollers' requests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from local.runner.pool import FunctionPool
from local.runner.threads import Threads
from local.runner.worker import InvocationResult

log = logging.getLogger("local-runner")
AWS_INITIAL_POLLERS = 5  # an SQS mapping starts with five concurrent batches (Lambda developer guide)


@dataclass
class SqsMapping:
    uuid: str
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window: int
    report_failures: bool
    maximum_concurrency: int | None


def sqs_event_record(message: dict, queue_arn: str, region: str) -> dict:
    attributes = dict(message.get("Attributes", {}))
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            k: {
                "stringValue": v.get("StringValue"),
                "binaryValue": v.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": v["DataType"],
            }
            for k, v in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def successful_receipts(records: list[dict], result: InvocationResult, report_failures: bool) -> list[dict]:
    """Which records Lambda deletes after an invocation (AWS semantics)."""
    if not result.ok:
        return []
    if not report_failures:
        return records
    payload = result.payload if isinstance(result.payload, dict) else {}
    failures = payload.get("batchItemFailures") or []
    ids = [f.get("itemIdentifier") for f in failures if isinstance(f, dict)]
    known = {r["messageId"] for r in records}
    if any(not i or i not in known for i in ids):  # malformed response: whole batch failed
        return []
    return [r for r in records if r["messageId"] not in set(ids)]


class SqsPollers:
    """The pollers of every mapping; each calls SQS with its function's execution role
    (``client_for(function, "sqs")``), as AWS's do."""

    def __init__(
        self,
        pools: Mapping[str, FunctionPool],
        threads: Threads,
        client_for: Callable[[str, str], Any],
        region: str,
    ) -> None:
        self.pools = pools  # read at each batch: a redeployed function runs its new code
        self.threads = threads
        self.client_for = client_for
        self.region = region
        # SQS requests made, per mapping UUID: "sqs:ReceiveMessage" (with messages),
        # "sqs:ReceiveMessage:empty", "sqs:DeleteMessageBatch"; read them under ``lock``
        self.calls: dict[str, Counter[str]] = {}
        self.lock = threading.Lock()

    def concurrency(self, mapping: SqsMapping) -> int:
        """Concurrent batches the mapping takes, as AWS: its maximum concurrency, else five to start.

        Only a function with reserved concurrency is capped on AWS; there, batches beyond the
        cap are throttled (``_poll``). Others run as many batches as the local pool has slots.
        """
        spec = self.pools[mapping.function].spec
        if spec.reserved:
            return mapping.maximum_concurrency or AWS_INITIAL_POLLERS
        return spec.concurrency

    def start(self, mapping: SqsMapping) -> None:
        for i in range(self.concurrency(mapping)):
            self.threads.spawn(self._poll, mapping, name=f"poll-{mapping.function}-{i}")

    def _count(self, mapping: SqsMapping, operation: str) -> None:
        with self.lock:
            self.calls.setdefault(mapping.uuid, Counter())[operation] += 1

    def _poll(self, mapping: SqsMapping) -> None:
        """One of the mapping's pollers, until the runner stops."""
        stopping = self.threads.stopping
        while not stopping.is_set():
            try:
                sqs = self.client_for(mapping.function, "sqs")
                messages = self.receive(sqs, mapping)
                if not messages:
                    continue
                records = [sqs_event_record(m, mapping.queue_arn, self.region) for m in messages]
                pool = self.pools[mapping.function]  # the current code (make deploy replaces pools)
                if pool.spec.reserved:
                    throttled = pool.try_invoke({"Records": records})
                    if throttled is None:  # AWS: the batch returns after its visibility timeout, a receive spent
                        log.warning(
                            "%s throttled: %d messages left to their visibility timeout", pool.spec.name, len(records)
                        )
                        continue
                    result = throttled
                else:
                    result = pool.invoke({"Records": records})
                if not result.ok:
                    log.warning("%s failed: %s", mapping.function, result.error)
                self._delete(sqs, mapping, successful_receipts(records, result, mapping.report_failures))
            except ClientError as exc:  # an AccessDenied of the execution role: the mapping's error, as AWS shows it
                if not stopping.is_set():
                    error = exc.response.get("Error", {})
                    log.error("poller for %s: %s: %s", mapping.function, error.get("Code"), error.get("Message"))
                    time.sleep(1.0)
            except Exception:  # keep polling, as the service does
                if not stopping.is_set():
                    log.exception("poller for %s", mapping.function)
                    time.sleep(0.5)

    def receive(self, sqs: Any, mapping: SqsMapping) -> list[dict]:
        """One batch: receives until it is full, a receive comes back empty or the window closes."""
        deadline = time.time() + mapping.batching_window
        messages: list[dict] = []
        while len(messages) < mapping.batch_size and not self.threads.stopping.is_set():
            got = sqs.receive_message(
                QueueUrl=mapping.queue_url,
                MaxNumberOfMessages=min(10, mapping.batch_size - len(messages)),
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            self._count(mapping, "sqs:ReceiveMessage" if got else "sqs:ReceiveMessage:empty")
            messages.extend(got)
            if not got or time.time() >= deadline:
                break
        return messages

    def _delete(self, sqs: Any, mapping: SqsMapping, done: list[dict]) -> None:
        for start in range(0, len(done), 10):
            self._count(mapping, "sqs:DeleteMessageBatch")
            sqs.delete_message_batch(
                QueueUrl=mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done[start : start + 10])
                ],
            )
