"""SQS helpers: receiving and deleting (functions that poll a queue themselves), and sending
in batches with retries of the refused entries (any SQS/SNS/DynamoDB batch API)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.clients import client

T = TypeVar("T")


def receive(queue_url: str, wait_seconds: int, max_messages: int = 10) -> list[dict[str, Any]]:
    """A long poll (``wait_seconds`` >= 1): short polls sample a subset of hosts and miss messages."""
    if wait_seconds < 1:
        raise ValueError("use a long poll: wait_seconds >= 1")
    return (
        client("sqs")
        .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_seconds)
        .get("Messages", [])
    )


def delete(queue_url: str, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Delete received messages, 10 per request; returns the failed entries (they will be redelivered)."""
    failed: list[dict[str, Any]] = []
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        out = client("sqs").delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )
        failed.extend(out.get("Failed", []))
    return failed


# --- sending in batches ------------------------------------------------------------------

MAX_BATCH_ENTRIES = 10  # SQS SendMessageBatch and SNS PublishBatch
MAX_BATCH_BYTES = 1_048_576  # SQS: the sum of the bodies of one SendMessageBatch (1 MiB)
MAX_PUBLISH_BATCH_BYTES = 262_144  # SNS: the messages and attributes of one PublishBatch (256 KiB)
MAX_WRITE_BATCH_ITEMS = 25  # DynamoDB BatchWriteItem
SEND_ATTEMPTS = 5
BASE_DELAY_SECONDS = 0.05


@dataclass(frozen=True)
class EntryFailure:
    reason: str
    retryable: bool


class BatchSendFailed(RuntimeError):
    """Some entries were still refused after the retries; ``failures`` maps entry id -> reason."""

    def __init__(self, what: str, failures: dict[str, EntryFailure]):
        named = ", ".join(f"{i} ({f.reason})" for i, f in sorted(failures.items()))
        super().__init__(f"{what}: {len(failures)} entr{'y' if len(failures) == 1 else 'ies'} refused: {named}")
        self.failures = failures


def failed_entries(response: dict[str, Any]) -> dict[str, EntryFailure]:
    """The ``Failed`` list of SQS SendMessageBatch / SNS PublishBatch (and DeleteMessageBatch).

    An entry with ``SenderFault`` is wrong in itself (too large, bad attribute): retrying it
    cannot help, so it is not retried.
    """
    return {
        f["Id"]: EntryFailure(": ".join(filter(None, (f.get("Code", "?"), f.get("Message")))), not f.get("SenderFault"))
        for f in response.get("Failed", [])
    }


def chunks(
    entries: Sequence[T],
    size: int = MAX_BATCH_ENTRIES,
    max_bytes: int | None = None,
    nbytes: Callable[[T], int] | None = None,
) -> Iterator[list[T]]:
    """Consecutive chunks of at most ``size`` entries and (if given) ``max_bytes`` in total."""
    chunk: list[T] = []
    total = 0
    for entry in entries:
        n = nbytes(entry) if nbytes is not None and max_bytes is not None else 0
        if chunk and (len(chunk) == size or (max_bytes is not None and total + n > max_bytes)):
            yield chunk
            chunk, total = [], 0
        chunk.append(entry)
        total += n
    if chunk:
        yield chunk


def send_in_batches(
    call: Callable[[list[T]], dict[str, Any]],
    entries: Sequence[T],
    *,
    entry_id: Callable[[T], str] = lambda e: e["Id"],  # type: ignore[index]
    failures: Callable[[dict[str, Any]], dict[str, EntryFailure]] = failed_entries,
    size: int = MAX_BATCH_ENTRIES,
    max_bytes: int | None = None,
    nbytes: Callable[[T], int] = lambda e: len(e["MessageBody"].encode()),  # type: ignore[index]
    attempts: int = SEND_ATTEMPTS,
    base_delay: float = BASE_DELAY_SECONDS,
) -> dict[str, EntryFailure]:
    """Send ``entries`` with a batch API; retry only the refused entries; return what still failed.

    Each pass sends the pending entries in chunks (``size`` entries, ``max_bytes`` in total);
    the retryable failures of a pass are sent again after ``base_delay * 2**pass`` seconds,
    at most ``attempts`` passes. Entry ids must be unique across ``entries``. Works for SQS
    SendMessageBatch and SNS PublishBatch as is, and for DynamoDB BatchWriteItem with
    ``size=25`` and a ``failures`` that reads UnprocessedItems (``write_items``). An entry
    larger than ``max_bytes`` fits no request: ValueError, before anything is sent.
    """
    if max_bytes is not None:
        too_large = [f"{entry_id(e)} ({nbytes(e)} bytes)" for e in entries if nbytes(e) > max_bytes]
        if too_large:
            raise ValueError(f"larger than a batch request may be ({max_bytes} bytes): {', '.join(too_large)}")
    pending = list(entries)
    final: dict[str, EntryFailure] = {}
    for attempt in range(attempts):
        retry: dict[str, EntryFailure] = {}
        for chunk in chunks(pending, size, max_bytes, nbytes):
            for entry_key, failure in failures(call(chunk)).items():
                (retry if failure.retryable else final)[entry_key] = failure
        pending = [e for e in pending if entry_id(e) in retry]
        if not pending:
            return final
        if attempt + 1 < attempts:
            time.sleep(base_delay * 2**attempt)
    return {**final, **retry}


def send_batch(call: Callable[[list[T]], dict[str, Any]], entries: Sequence[T], what: str, **options: Any) -> None:
    """``send_in_batches``, raising BatchSendFailed (naming each refused entry) if any entry failed."""
    failed = send_in_batches(call, entries, **options)
    if failed:
        raise BatchSendFailed(what, failed)


def write_items(table: str, items: dict[str, dict[str, Any]], key: str, attempts: int = SEND_ATTEMPTS) -> set[str]:
    """Put ``items`` (``key`` attribute value -> item) into ``table`` with BatchWriteItem, 25 per
    request, the UnprocessedItems retried; returns the keys of the items left unwritten."""
    ddb = client("dynamodb")

    def item_key(request: dict[str, Any]) -> str:
        return str(request["PutRequest"]["Item"][key]["S"])

    def unprocessed(out: dict[str, Any]) -> dict[str, EntryFailure]:
        return {
            item_key(r): EntryFailure("unprocessed", retryable=True)
            for r in out.get("UnprocessedItems", {}).get(table, [])
        }

    failed = send_in_batches(
        lambda requests: ddb.batch_write_item(RequestItems={table: requests}),
        [{"PutRequest": {"Item": item}} for item in items.values()],
        entry_id=item_key,
        failures=unprocessed,
        size=MAX_WRITE_BATCH_ITEMS,
        attempts=attempts,
    )
    return set(failed)
