"""Sticky-queue ingester: route each user's messages to the one pool queue assigned to it.

Input: ``{"messages": [{"user_id", "body", "message_id"?}, ...]}`` or one such message.
Invalid input (a field, or a message too large for its queue) raises InvalidIngestRequest
naming the field, before anything is reserved or sent. See shared/assignments.py for why an
assignment cannot change while a user may still have messages queued (the lease), and
docs/sticky.md for the whole design.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections import defaultdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from config import Config
from pydantic import ValidationError

from shared import assignments, sqs
from shared.clients import client
from shared.messages import IngestMessage, IngestRequest, IngestResult, StickyMessage, UrlStoreCursor
from shared.rejections import problems, rejections

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=["botocore"])  # every AWS call goes through botocore (shared/clients.py)


CONFIG = Config.from_environ(os.environ)
MAX_SEQ = 2**63 - 1  # the longest seq a message can carry (DynamoDB numbers fit far more)
STORE_WAIT_SECONDS = 5.0  # how long a take waits for the cursor when the caller gives no deadline
# How long a take holds the cursor: a take needs well under a second, and a taker that dies
# holding it hides it this long. One that outlives it only makes a second cursor (merged later).
STORE_HOLD_SECONDS = 5
SEND_RESERVE_SECONDS = 2.0  # of an invocation's remaining time, kept for sending after the last take


class InvalidIngestRequest(ValueError):
    """The request does not match IngestRequest; the message lists every problem."""


class PoolUnavailable(RuntimeError):
    """No queue URL could be taken from the URL store."""


def parse(event: Any) -> IngestRequest:
    payload = event if isinstance(event, dict) and "messages" in event else {"messages": [event]}
    try:
        return IngestRequest.model_validate(payload)
    except ValidationError as exc:
        raise InvalidIngestRequest(f"invalid ingest request: {problems(exc)}") from None


def take_queues(store_url: str, pool_size: int, count: int, deadline: float | None = None) -> list[int]:
    """The next ``count`` pool queues (indexes) of the rotation, from the URL store's cursor.

    The store holds one message, a UrlStoreCursor. A take receives it, puts back a cursor
    ``count`` further on, and deletes what it received: three requests whatever ``count``
    and whatever the pool's size. The cursor covers the whole pool, modulo its current size,
    so no pool queue can be missing from the store and a resize needs no new store. The
    store heals itself:

    * empty (its cursor expired after the store's retention, or it was never seeded): the
      take seeds a cursor at a random place;
    * two cursors (two takes seeded at once, or a delete failed): a take that receives
      several deletes them all and puts back one; until then each rotates over the whole pool;
    * a message that is not a cursor is deleted, with a warning;
    * a taker that dies holding the cursor hides it for STORE_HOLD_SECONDS only;
      meanwhile others wait for it, and raise PoolUnavailable at ``deadline`` (monotonic
      clock) rather than run out of time.
    """
    store = client("sqs")
    started = time.monotonic()
    deadline = started + STORE_WAIT_SECONDS if deadline is None else deadline
    while True:
        messages = store.receive_message(
            QueueUrl=store_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=STORE_HOLD_SECONDS
        ).get("Messages", [])
        cursors = [c for c in (read_cursor(m) for m in messages) if c is not None]
        if cursors:
            start = cursors[0].next % pool_size
            put_cursor(store_url, (start + count) % pool_size)
        if messages:
            if len(messages) > 1:
                logger.warning("URL store held several messages: one cursor put back", extra={"count": len(messages)})
            for failure in sqs.delete(store_url, messages):  # not deleted: a second cursor, merged later
                logger.warning("URL store delete failed", extra={"failure": failure})
        if cursors:
            return [(start + i) % pool_size for i in range(count)]
        if not messages and store_is_empty(store_url):
            seed_store(store_url, pool_size)
            continue
        if time.monotonic() >= deadline:
            raise PoolUnavailable(
                f"no pool queue from the URL store {store_url} in {time.monotonic() - started:.1f} s: another "
                f"ingester holds its cursor (a take holds it {STORE_HOLD_SECONDS} s at most) or the store "
                "cannot be read. Nothing of this request was sent; retry it."
            )


def read_cursor(message: dict[str, Any]) -> UrlStoreCursor | None:
    try:
        return UrlStoreCursor.model_validate_json(message["Body"])
    except ValidationError:
        logger.warning("dropping a URL store message that is not a cursor", extra={"body": message["Body"][:200]})
        return None


def put_cursor(store_url: str, position: int) -> None:
    client("sqs").send_message(QueueUrl=store_url, MessageBody=UrlStoreCursor(next=position).model_dump_json())


def store_is_empty(store_url: str) -> bool:
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=store_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(v) for v in attrs.values()) == 0


def seed_store(store_url: str, pool_size: int) -> None:
    """Put a cursor at a random place: a store seeded again starts no queue more often than the others."""
    logger.info("seeding the URL store", extra={"pool_size": pool_size})
    put_cursor(store_url, random.randrange(pool_size))


# Pool queues this process took from the URL store and has not yet given to a new user. The
# store is read ten queues at a time (three requests), so a new user usually costs no more
# than a known one: the one UpdateItem that reserves its seqs also creates its assignment.
spare_queues: list[int] = []


def next_spare_queue() -> int | None:
    """The next spare queue still in the pool (without taking it), or None."""
    while spare_queues and spare_queues[0] >= len(CONFIG.pool_queue_urls):
        spare_queues.pop(0)
    return spare_queues[0] if spare_queues else None


def refill_spare_queues(need: int, deadline: float | None = None) -> None:
    """Hold at least ``need`` spare queues, taking at least ten at a time: one take from the store."""
    if len(spare_queues) < need:
        count = max(need - len(spare_queues), 10)
        spare_queues.extend(take_queues(CONFIG.url_store_queue_url, len(CONFIG.pool_queue_urls), count, deadline))


def assign(user_id: str, count: int) -> assignments.Assignment:
    return assign_all({user_id: count})[user_id]


def assign_all(counts: dict[str, int], deadline: float | None = None) -> dict[str, assignments.Assignment]:
    """Reserve ``counts[user]`` seqs for each user on its queue: one UpdateItem per user.

    Each write carries a spare queue as the queue of a user that has none (see
    assignments.reserve), so a new user is assigned in the same write. A process holding no
    spare queue learns it needs some from a write that finds no assignment (then it takes ten
    from the store, and writes again); a user on a queue that left the pool is moved by a
    second, conditional write.
    """
    result: dict[str, assignments.Assignment] = {}
    pending = dict(counts)
    while pending:
        moved: dict[str, int] = {}
        for i, (user_id, count) in enumerate(pending.items()):
            candidate = next_spare_queue()
            found = reserve(user_id, count, candidate)
            if found is None and candidate is None:  # a new user, or one to move: hold spares for the rest
                refill_spare_queues(len(pending) - i, deadline)
                found = reserve(user_id, count, next_spare_queue())
            if found is None:
                moved[user_id] = count
                continue
            result[user_id] = found
            if found.created:
                spare_queues.pop(0)
        pending = {}
        if moved:
            refill_spare_queues(len(moved), deadline)
            for user_id, count in moved.items():
                queue = spare_queues.pop(0)
                created = assignments.assign(
                    CONFIG.assignment_table, user_id, queue, count, len(CONFIG.pool_queue_urls), CONFIG.lease_seconds
                )
                if created is not None:
                    result[user_id] = created
                else:  # another ingester assigned the user meanwhile: reserve on its queue
                    spare_queues.insert(0, queue)
                    pending[user_id] = count
    return result


def reserve(user_id: str, count: int, candidate: int | None) -> assignments.Assignment | None:
    return assignments.reserve(
        CONFIG.assignment_table, user_id, count, len(CONFIG.pool_queue_urls), CONFIG.lease_seconds, candidate=candidate
    )


def check_sizes(request: IngestRequest, correlation_id: str | None, limit: int) -> None:
    """Refuse the whole request if any message, as it would travel on its queue, exceeds ``limit``.

    Measured on the StickyMessage with the longest possible seq, so the real one is never larger.
    A SendMessageBatch then never exceeds 1 MiB: the sender packs batches by size.
    """
    too_large = []
    for i, m in enumerate(request.messages):
        size = len(
            StickyMessage(
                user_id=m.user_id, seq=MAX_SEQ, message_id=m.message_id, body=m.body, correlation_id=correlation_id
            )
            .model_dump_json()
            .encode()
        )
        if size > limit:
            too_large.append(f"messages.{i}.body: message is {size} bytes on the queue, the limit is {limit}")
    if too_large:
        raise InvalidIngestRequest("invalid ingest request: " + "; ".join(too_large))


def dedup_id(m: StickyMessage) -> str:
    """Unique per user and seq, and within SQS's 128 characters whatever the user id's length."""
    return hashlib.sha256(f"{m.user_id}:{m.seq}".encode()).hexdigest()


def sqs_entry(i: int, m: StickyMessage, fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(i), "MessageBody": m.model_dump_json()}
    if fifo:
        entry["MessageGroupId"] = m.user_id
        entry["MessageDeduplicationId"] = dedup_id(m)
    return entry


def send(queue_url: str, messages: list[StickyMessage]) -> None:
    """Send in order, packed into SendMessageBatch calls (10 entries, 1 MiB); refused entries are retried."""
    fifo = queue_url.endswith(".fifo")
    sqs_client = client("sqs")
    sqs.send_batch(
        lambda entries: sqs_client.send_message_batch(QueueUrl=queue_url, Entries=entries),
        [sqs_entry(i, m, fifo) for i, m in enumerate(messages)],
        what=f"SendMessageBatch to {queue_url}",
        max_bytes=sqs.MAX_BATCH_BYTES,
    )


def ingest(request: IngestRequest, correlation_id: str | None = None, deadline: float | None = None) -> IngestResult:
    """Reserve each user's seqs (one write per user), then send each queue's messages together.

    A message_id repeated within the request is sent once. If a send fails after the
    reserve, nothing needs undoing: the lease holds no count, and a seq gap is harmless.
    ``deadline`` (monotonic clock) bounds the wait for the URL store's cursor.
    """
    by_user: dict[str, list[IngestMessage]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for message in request.messages:
        if (message.user_id, message.message_id) not in seen:
            seen.add((message.user_id, message.message_id))
            by_user[message.user_id].append(message)
    queues: dict[str, str] = {}
    by_queue: dict[str, list[StickyMessage]] = defaultdict(list)
    assigned = assign_all({user_id: len(user_messages) for user_id, user_messages in by_user.items()}, deadline)
    for user_id, user_messages in by_user.items():
        assignment = assigned[user_id]
        queue_url = CONFIG.pool_queue_urls[assignment.queue_index]
        by_queue[queue_url].extend(
            StickyMessage(
                user_id=user_id,
                seq=assignment.first_seq + i,
                message_id=m.message_id,
                body=m.body,
                correlation_id=correlation_id,
            )
            for i, m in enumerate(user_messages)
        )
        queues[user_id] = queue_url
        metrics.add_metric(name="NewAssignments", unit=MetricUnit.Count, value=int(assignment.created))
    for queue_url, messages in by_queue.items():
        send(queue_url, messages)
    metrics.add_metric(name="MessagesIngested", unit=MetricUnit.Count, value=len(request.messages))
    return IngestResult(accepted=len(request.messages), queues=queues)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    logger.set_correlation_id(context.aws_request_id)
    with rejections(logger, metrics, InvalidIngestRequest):
        request = parse(event)
        check_sizes(request, context.aws_request_id, CONFIG.max_message_bytes)
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SEND_RESERVE_SECONDS
    result = ingest(request, correlation_id=context.aws_request_id, deadline=deadline)
    logger.info("ingested", extra={"accepted": result.accepted, "users": len(result.queues)})
    return json.loads(result.model_dump_json())
