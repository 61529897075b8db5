"""Where moto's SQS differs from SQS under the emulator's many request threads, corrected.

Each queue's messages change under that queue's lock, a FIFO long poll waits for a message it
can deliver, a message's retention check reads one attribute, and RedriveAllowPolicy is kept.
"""

from __future__ import annotations

import time
from typing import Any

from local.emulator.clock import clock
from local.emulator.sqs_retention import expire_messages, note_sent, sent_ms


def keep_redrive_allow_policy() -> None:
    """moto accepts RedriveAllowPolicy but never returns it; terraform then waits forever."""
    from moto.sqs.models import Queue

    if "RedriveAllowPolicy" not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES.append("RedriveAllowPolicy")
        Queue.redrive_allow_policy = None  # type: ignore[attr-defined]


def fifo_long_poll_waits() -> None:
    """moto's long poll waits until the queue has *visible* messages; on a FIFO queue a visible
    message of a group that is in flight cannot be delivered, so the wait returns at once and
    ReceiveMessage spins for its whole WaitTimeSeconds (deep-copying the queue's state each
    turn). Every poller of a FIFO queue with a busy group then burns the emulator's CPU and
    slows every other request (ingests of 5 s, dispatchers timing out). Wait instead for a
    message that can be delivered, as SQS does."""
    from moto.sqs.models import Queue

    original = Queue.wait_for_messages

    def wait_for_messages(self: Any, timeout: int) -> None:
        if not self.fifo_queue:
            return original(self, timeout)

        def deliverable() -> bool:
            pending = self.pending_message_groups
            return any(m.group_id not in pending for m in self.messages)

        with self._messages_lock:
            self._messages_lock.wait_for(deliverable, timeout=timeout)

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]


def atomic_queues() -> None:
    """moto changes a queue's message list without a lock, and the emulator serves requests on
    many threads: two concurrent ReceiveMessage calls could hand out the same message (each
    raising its receive count, so valid messages reached maxReceiveCount and were
    dead-lettered) and both move an exhausted message to the DLQ, the second failing with a
    500; a DeleteMessage rebuilding the list could drop a message sent meanwhile. Every change
    to a queue's messages holds that queue's own lock (the one moto's long poll already waits
    on), and a long poll waits outside it: one receive at a time picks messages, as SQS hands
    each out once. Each receive first deletes the queue's expired messages
    (``sqs_retention.expire_messages``)."""
    from moto.sqs.models import Queue, SQSBackend

    receive, add, delete = SQSBackend.receive_message, Queue.add_message, Queue.delete_message
    change_visibility, purge = SQSBackend.change_message_visibility, SQSBackend.purge_queue

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list:
        queue = self.get_queue(queue_name)
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with queue._messages_lock:
                expire_messages(queue)
                got = receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            left = deadline - time.monotonic()
            if got or left <= 0:
                return got
            queue.wait_for_messages(min(1.0, left))

    def locked(method: Any, on_backend: bool) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            queue = self.get_queue(kwargs.get("queue_name") or args[0]) if on_backend else self
            with queue._messages_lock:
                return method(self, *args, **kwargs)

        return call

    def add_message(self: Any, message: Any) -> None:
        with self._messages_lock:
            add(self, message)
            note_sent(self, message)

    Queue.add_message = add_message  # type: ignore[method-assign]
    Queue.delete_message = locked(delete, on_backend=False)  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = locked(change_visibility, on_backend=True)  # type: ignore[method-assign]
    SQSBackend.purge_queue = locked(purge, on_backend=True)  # type: ignore[method-assign]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


def cheap_message_checks() -> None:
    """moto checks each message it hands out against the queue's retention period by computing
    *every* queue attribute, three of which count the whole queue: a ReceiveMessage on a queue
    of 1,000 messages took ~1 s of CPU (GIL held) -- the fan-out scenario's 101 workers spent
    minutes in it, and under load timed out. Read the one attribute instead (same result)."""
    from moto.sqs.models import Message, SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + (sent_ms(message) or 0) / 1000 > clock())

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]

    # The queue's counts (computed by every SendMessage too, which reads one attribute of the
    # whole attribute map) ask each message whether it is visible or delayed; moto answers with
    # a datetime round trip per message (~17 us). The same epoch milliseconds, from time.time():
    Message.visible = property(lambda self: time.time() * 1000.0 > self.visible_at)  # type: ignore[method-assign,assignment]
    Message.delayed = property(lambda self: time.time() * 1000.0 < self.delayed_until)  # type: ignore[method-assign,assignment]
