"""SQS message retention: a message older than its queue's retention period is deleted.

moto leaves such a message in the queue (it is only left out of receives); SQS deletes it for
good. Retention is counted on ``clock.clock()``, which a test can move ahead.
"""

from __future__ import annotations

import math
from typing import Any

from local.emulator.clock import clock, clock_offset

_OLDEST = "_emulator_oldest_sent"  # on a queue: a lower bound of its messages' sent_ms
_OFFSET_AT_SEND = "_emulator_offset_at_send"  # on a message: the clock's offset when it was sent


def sent_ms(message: Any) -> float | None:
    """When ``message`` was sent, on ``clock()`` (epoch ms): moto's SentTimestamp is wall-clock
    time, so a test advancing the clock does not expire a message sent after the advance."""
    if message.sent_timestamp is None:
        return None
    return message.sent_timestamp + 1000.0 * message.__dict__.get(_OFFSET_AT_SEND, 0.0)


def note_sent(queue: Any, message: Any) -> None:
    """As a message arrives (lock held): record the clock's offset the first time (a DLQ move
    keeps it, as it keeps SentTimestamp) and lower the queue's bound of its oldest message."""
    message.__dict__.setdefault(_OFFSET_AT_SEND, clock_offset())
    sent = sent_ms(message)
    if _OLDEST in queue.__dict__ and sent is not None:
        setattr(queue, _OLDEST, min(getattr(queue, _OLDEST), sent))


def expire_messages(queue: Any) -> int:
    """Delete ``queue``'s messages older than its MessageRetentionPeriod, in flight or not, and
    return how many (the caller holds the queue's lock). SQS deletes such a message for good:
    it is never received again and no Approximate* attribute counts it. moto keeps it in the
    queue: it is left out of receives only, and counted as visible, in flight or delayed.
    A queue keeps a lower bound of its messages' SentTimestamp (lowered by each arrival, moto's
    DLQ moves included, recomputed by each walk), so the list is walked only when its oldest
    message may have expired: each walk deletes a message, or follows deletes or a purge that
    left the bound low; otherwise this is a comparison. A receipt handle of a deleted message
    stays valid for DeleteMessage (a consumer that received it before it expired still deletes
    it without an error). Standard queues and FIFO ones alike count from when the message was
    sent (``sent_ms``), which a DLQ move keeps (SQS resets it for FIFO queues)."""
    retention_ms = int(queue.message_retention_period) * 1000
    now_ms = clock() * 1000
    oldest = queue.__dict__.get(_OLDEST)
    if oldest is not None and oldest + retention_ms > now_ms:
        return 0
    kept: list[Any] = []
    expired: list[Any] = []
    oldest = math.inf
    for message in queue._messages:
        sent = sent_ms(message)
        if sent is None or sent + retention_ms > now_ms:
            kept.append(message)
            oldest = min(oldest, math.inf if sent is None else sent)
        else:
            expired.append(message)
    if expired:
        queue._messages = kept
        for message in expired:
            queue.pending_messages.discard(message)
            queue.deleted_messages.update(message.all_receipt_handles)
    setattr(queue, _OLDEST, oldest)
    return len(expired)


def sqs_retention() -> None:
    """GetQueueAttributes counts what SQS still holds: expired messages are deleted first (the
    same check ReceiveMessage makes under the queue's lock, in ``sqs_fidelity.atomic_queues``;
    the sweeper, ``ttl.TtlSweeper``, makes it for every queue each second). And a
    MessageRetentionPeriod outside 60-1,209,600 seconds is refused with InvalidAttributeValue,
    as SQS does (moto stores any)."""
    from moto.sqs.exceptions import InvalidAttributeValue
    from moto.sqs.models import Queue, SQSBackend

    get_attributes, set_attributes = SQSBackend.get_queue_attributes, Queue._set_attributes

    def _set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        if "MessageRetentionPeriod" in attributes:
            try:
                valid = 60 <= int(attributes["MessageRetentionPeriod"]) <= 1209600
            except (TypeError, ValueError):
                valid = False
            if not valid:
                raise InvalidAttributeValue("MessageRetentionPeriod")
        set_attributes(self, attributes, now)

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> Any:
        queue = self.get_queue(queue_name)
        with queue._messages_lock:
            expire_messages(queue)
        return get_attributes(self, queue_name, attribute_names)

    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]
    Queue._set_attributes = _set_attributes  # type: ignore[method-assign]
