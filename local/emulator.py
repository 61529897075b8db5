"""The embedded AWS emulator: moto's server, in this process, on 127.0.0.1.

For a Lambda service that lives outside moto:
* moto would consume an SQS queue itself when an event source mapping exists (and try to
  run the function in Docker); here the mappings are only stored, and the local runner polls.
* Lambda ``Invoke`` requests are answered by the local runner (``invoke_handler``).
* SNS deliveries to Lambda subscriptions go to the runner too (``sns_handler``), as the
  SNS event AWS sends (filter policies are still applied by moto).
* Lambda's recursion config (``Put/GetFunctionRecursionConfig``), which moto lacks, is kept
  per function (``_lambda_recursion_config``); nothing here stops a recursive loop.

And where moto differs from AWS under the emulator's many request threads (``patch_moto``):
an SQS queue's messages change under a lock, and conditional writes (DynamoDB conditions,
S3 If-Match / If-None-Match) are checked and applied atomically.

And IAM (``local/iam.py``): a request signed with credentials from ``sts:AssumeRole`` is
authorised against that role's policies as AWS would (``IAM=enforce|report|off``); the
emulator's own dummy keys are never checked.

And the clock AWS keeps (``_sqs_retention``, ``TtlSweeper``): an SQS message older than its
queue's retention period is deleted, and DynamoDB deletes items whose TTL has passed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.iam import Authorizer

CLOCK_PATH = "/_emulator/clock"  # test-only: read or advance the clock of retention and TTL
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
CODE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/code$")
ACCOUNT_ID = "123456789012"

InvokeHandler = Callable[[str, str, bytes], tuple[int, dict[str, str], bytes]]
SnsHandler = Callable[[str, dict], None]
_sns_handler: list[SnsHandler | None] = [None]  # set by Emulator.sns_handler; moto's models are global


def _detach_moto_event_source_mappings() -> None:
    from moto.sqs.models import Queue

    def _get(self: Any) -> dict:
        return {}

    def _set(self: Any, value: Any) -> None:
        pass

    Queue.lambda_event_source_mappings = property(_get, _set)  # type: ignore[assignment]


def _keep_redrive_allow_policy() -> None:
    """moto accepts RedriveAllowPolicy but never returns it; terraform then waits forever."""
    from moto.sqs.models import Queue

    if "RedriveAllowPolicy" not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES.append("RedriveAllowPolicy")
        Queue.redrive_allow_policy = None  # type: ignore[attr-defined]


def _conditional_bucket_policy_statements() -> None:
    """moto ignores Condition blocks, so a TLS-only Deny (aws:SecureTransport=false) denies
    everything. Requests to the emulator stand for TLS requests to AWS: statements with a
    Condition are left out of moto's evaluation."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        policy["Statement"] = [st for st in statements if "Condition" not in st]
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def sns_lambda_event(
    subscription: Any, message: str, message_id: str, subject: str | None, attributes: dict | None
) -> dict:
    """The event SNS sends to a Lambda subscriber."""
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    region = subscription.topic.arn.split(":")[3]
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": iso_8601_datetime_with_milliseconds(),
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-local.pem",
                    "MessageId": message_id,
                    "Message": message,
                    "MessageAttributes": {
                        k: {"Type": v["Type"], "Value": v["Value"]} for k, v in (attributes or {}).items()
                    },
                    "Type": "Notification",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
                    "TopicArn": subscription.topic.arn,
                    "Subject": subject,
                },
            }
        ]
    }


def _route_sns_lambda_deliveries() -> None:
    from moto.sns.models import Subscription

    if getattr(Subscription.publish, "_local_runner", False):
        return
    original = Subscription.publish

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        handler = _sns_handler[0]
        if self.protocol != "lambda" or handler is None:
            return original(
                self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure
            )
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        handler(self.endpoint, sns_lambda_event(self, message, message_id, subject, message_attributes))
        return None

    publish._local_runner = True  # type: ignore[attr-defined]
    Subscription.publish = publish  # type: ignore[method-assign]


def _fifo_long_poll_waits() -> None:
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


def _atomic_queues() -> None:
    """moto changes a queue's message list without a lock, and the emulator serves requests on
    many threads: two concurrent ReceiveMessage calls handed out the same message (each raising
    its receive count, so valid messages reached maxReceiveCount and were dead-lettered) and
    both moved an exhausted message to the DLQ, the second failing with a 500; a DeleteMessage
    rebuilding the list could drop a message sent meanwhile. Every change to a queue's messages
    now holds that queue's own lock (the one moto's long poll already waits on), and a long
    poll waits outside it: one receive at a time picks messages, as SQS hands each out once."""
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
            _note_sent(self, message)

    Queue.add_message = add_message  # type: ignore[method-assign]
    Queue.delete_message = locked(delete, on_backend=False)  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = locked(change_visibility, on_backend=True)  # type: ignore[method-assign]
    SQSBackend.purge_queue = locked(purge, on_backend=True)  # type: ignore[method-assign]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


_clock_offset = [0.0]  # seconds the emulator's retention/TTL clock runs ahead of time.time()


def clock() -> float:
    """Now, in epoch seconds, for SQS retention and DynamoDB TTL only: the wall clock plus the
    offset a test set through ``CLOCK_PATH`` (0 unless a test advanced it). Everything else
    (visibility timeouts, delays, timestamps moto records) keeps the wall clock."""
    return time.time() + _clock_offset[0]


def _cheap_message_checks() -> None:
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


_OLDEST = "_emulator_oldest_sent"  # on a queue: a lower bound of its messages' sent_ms
_OFFSET_AT_SEND = "_emulator_offset_at_send"  # on a message: the clock's offset when it was sent


def sent_ms(message: Any) -> float | None:
    """When ``message`` was sent, on ``clock()`` (epoch ms): moto's SentTimestamp is wall-clock
    time, so a test advancing the clock does not expire a message sent after the advance."""
    if message.sent_timestamp is None:
        return None
    return message.sent_timestamp + 1000.0 * message.__dict__.get(_OFFSET_AT_SEND, 0.0)


def _note_sent(queue: Any, message: Any) -> None:
    """As a message arrives (lock held): record the clock's offset the first time (a DLQ move
    keeps it, as it keeps SentTimestamp) and lower the queue's bound of its oldest message."""
    message.__dict__.setdefault(_OFFSET_AT_SEND, _clock_offset[0])
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


def _sqs_retention() -> None:
    """GetQueueAttributes counts what SQS still holds: expired messages are deleted first (the
    same check ReceiveMessage makes under the queue's lock, in ``_atomic_queues``; the sweeper,
    ``TtlSweeper``, makes it for every queue each second). And a MessageRetentionPeriod outside
    60-1,209,600 seconds is refused with InvalidAttributeValue, as SQS does (moto stored any)."""
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


_WRITE_LOCKS: dict[tuple[str, ...], threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def _write_locks(names: Iterable[tuple[str, ...]]) -> Iterator[None]:
    """Hold the write lock of each name (a table, a bucket), made on first use. Several are
    taken in sorted order, so two requests locking overlapping sets never deadlock."""
    with _WRITE_LOCKS_GUARD:
        locks = [_WRITE_LOCKS.setdefault(name, threading.Lock()) for name in sorted(set(names))]
    with contextlib.ExitStack() as held:
        for lock in locks:
            held.enter_context(lock)
        yield


def _atomic_dynamodb_writes() -> None:
    """DynamoDB evaluates a write's condition (ConditionExpression, Expected) and applies the
    write atomically: of concurrent conditional writes to one item, each sees the others'
    results. moto reads the item, checks the condition and writes without a lock, and the
    emulator serves requests on many threads: of 12 concurrent PutItems with
    attribute_not_exists(pk), or UpdateItems conditioned on the same old value, two to five
    succeeded.
    Every write request (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems)
    now holds its tables' locks from its first read (ReturnValues included) to its response,
    so an unconditional write cannot land between another request's check and its write
    either, and a transaction's rollback cannot undo a concurrent write. Reads take no lock."""
    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.responses import DynamoHandler

    def table_names(body: dict) -> list[Any]:
        if "TransactItems" in body:
            ops = [op for item in body["TransactItems"] or [] if isinstance(item, dict) for op in item.values()]
            return [op.get("TableName") for op in ops if isinstance(op, dict)]
        if "RequestItems" in body:
            return list(body["RequestItems"] or {})
        return [body.get("TableName")]

    def locked(action: Any) -> Any:
        def call(self: Any) -> Any:
            backend = self.dynamodb_backend
            names = []
            for name in table_names(self.body):
                try:  # a table's name or ARN: lock by name
                    name = backend.get_table(name).name
                except ResourceNotFoundException:
                    pass  # the action reports it
                names.append(("dynamodb", backend.account_id, backend.region_name, str(name)))
            with _write_locks(names):
                return action(self)

        return call

    for action in ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items"):
        setattr(DynamoHandler, action, locked(getattr(DynamoHandler, action)))


def _atomic_s3_writes() -> None:
    """S3 checks a conditional PutObject (If-None-Match: *, If-Match: <etag>) against the
    object it replaces atomically: of concurrent conditional writes to one key, one succeeds
    and the others get 412 PreconditionFailed. moto reads the object, checks the condition and
    stores without a lock: of 12 concurrent PutObjects with If-None-Match: * on a new key, or
    with If-Match on the same ETag, two or three succeeded (and a replaced object's buffer was
    closed under a request still answering with it: a 500). Every write to a bucket's objects
    (PUT, POST and DELETE on a key -- so also CompleteMultipartUpload with If-None-Match and
    DeleteObject with If-Match -- and DeleteObjects) now holds that bucket's lock from its
    check to its response; GET and HEAD take none."""
    from moto.s3.responses import S3Response

    key_response, bucket_post = S3Response._key_response, S3Response._bucket_response_post

    def _key_response(self: Any, request: Any, full_url: str) -> Any:
        if request.method not in ("PUT", "POST", "DELETE"):
            return key_response(self, request, full_url)
        with _write_locks([("s3", self.bucket_name)]):
            return key_response(self, request, full_url)

    def _bucket_response_post(self: Any, request: Any, bucket_name: str) -> Any:
        with _write_locks([("s3", bucket_name)]):
            return bucket_post(self, request, bucket_name)

    S3Response._key_response = _key_response  # type: ignore[method-assign]
    S3Response._bucket_response_post = _bucket_response_post  # type: ignore[method-assign]


def _lambda_recursion_config() -> None:
    """moto has no Put/GetFunctionRecursionConfig, which aws_lambda_function_recursion_config
    calls (create and update: Put; refresh: Get; destroy: Put Terminate). Kept on the function
    (so it goes with it and with a reset), Terminate until set, as on AWS; values other than
    Allow and Terminate are refused with AWS's ValidationException."""
    from moto.awslambda import urls
    from moto.awslambda.exceptions import ValidationException
    from moto.awslambda.responses import LambdaResponse

    path = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/recursion-config/?$"
    urls.url_paths.setdefault(path, LambdaResponse.dispatch)

    def function(self: Any) -> Any:
        return self.backend.get_function(urllib.parse.unquote(self.path.rstrip("/").rsplit("/", 2)[-2]))

    def get_function_recursion_config(self: Any) -> tuple[int, dict, str]:
        return 200, {}, json.dumps({"RecursiveLoop": getattr(function(self), "recursive_loop", "Terminate")})

    def put_function_recursion_config(self: Any) -> tuple[int, dict, str]:
        value = self._get_param("RecursiveLoop")
        if value not in ("Allow", "Terminate"):
            constraint = "Member must satisfy enum value set: [Terminate, Allow]"
            if value is None:
                constraint = "Member must not be null"
            raise ValidationException(str(value), "recursiveLoop", constraint)
        function(self).recursive_loop = value
        return 200, {}, json.dumps({"RecursiveLoop": value})

    LambdaResponse.get_function_recursion_config = get_function_recursion_config  # type: ignore[attr-defined]
    LambdaResponse.put_function_recursion_config = put_function_recursion_config  # type: ignore[attr-defined]


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
    read again and deleted under its table's write lock (``_write_locks``, the one every
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
        with _write_locks([("dynamodb", backend.account_id, backend.region_name, str(table.name))]):
            attribute = self._ttl_attribute(table)
            current = table.get_item(item.hash_key, item.range_key)
            if attribute is None or current is None or not ttl_expired(current, attribute, clock(), self.lag):
                return 0
            table.delete_item(item.hash_key, item.range_key)
            return 1


_PATCHED = threading.Lock()
_patched = False


def patch_moto() -> None:
    """Apply the emulator's corrections to moto once per process."""
    global _patched
    with _PATCHED:
        if _patched:
            return
        _atomic_queues()
        _atomic_dynamodb_writes()
        _atomic_s3_writes()
        _cheap_message_checks()
        _sqs_retention()
        _route_sns_lambda_deliveries()
        _fifo_long_poll_waits()
        _detach_moto_event_source_mappings()
        _keep_redrive_allow_policy()
        _conditional_bucket_policy_statements()
        _lambda_recursion_config()
        _patched = True


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def endpoint_client(service: str, endpoint: str | None, region: str, config: Any = None) -> Any:
    """A boto3 client for a local endpoint (the emulator, LocalStack), with their dummy credentials."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        aws_session_token="test",
        config=config,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    def __init__(self, port: int | None = None, region: str = "us-east-1", iam: str | None = None) -> None:
        self.port = port or free_port()
        self.region = region
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.invoke_handler: InvokeHandler | None = None
        self.move_tasks = MessageMoveTasks(self)
        self.code_updated: Callable[[str], Any] | None = None  # UpdateFunctionCode succeeded (runner.reload)
        self.sweeper: TtlSweeper | None = None  # started by start(), with EMULATOR_TTL_LAG_SECONDS
        # Requests signed with assumed-role credentials are authorised against the role
        # (local/iam.py); IAM=enforce|report|off, read now. Nothing else is checked.
        self.iam = Authorizer(iam, account=ACCOUNT_ID)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def env(self) -> dict[str, str]:
        """Environment for any client (terraform, boto3, functions) talking to this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service: str, config: Any = None) -> Any:
        """A boto3 client for ``service`` on this emulator (``config``: a botocore Config)."""
        return endpoint_client(service, self.endpoint, self.region, config)

    def _app(self) -> Callable:
        from moto.server import DomainDispatcherApplication, create_backend_app

        moto_app = DomainDispatcherApplication(create_backend_app)

        def app(environ: dict, start_response: Callable) -> Any:
            denied = self.iam.check(environ)
            if denied is not None:
                status, headers, body = denied
                return Response(body, status=status, headers=headers)(environ, start_response)
            if environ.get("PATH_INFO") == CLOCK_PATH:
                status, answer = self._clock(Request(environ))
                headers = {"Content-Type": "application/json"}
                return Response(json.dumps(answer), status=status, headers=headers)(environ, start_response)
            match = INVOKE_PATH.match(environ.get("PATH_INFO", ""))
            if match and environ.get("REQUEST_METHOD") == "POST" and self.invoke_handler is not None:
                request = Request(environ)
                name = urllib.parse.unquote(match.group("name"))
                kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
                try:
                    status, headers, body = self.invoke_handler(name, kind, request.get_data())
                except Exception as exc:  # a JSON ServiceException, never an HTML page
                    status, headers = 500, {"x-amzn-ErrorType": "ServiceException"}
                    body = json.dumps({"Type": "Service", "message": f"{type(exc).__name__}: {exc}"}).encode()
                return Response(body, status=status, headers=headers)(environ, start_response)
            code = CODE_PATH.match(environ.get("PATH_INFO", ""))
            if code and environ.get("REQUEST_METHOD") == "PUT" and self.code_updated is not None:
                name = urllib.parse.unquote(code.group("name")).split(":")[-1]
                return self._update_code(moto_app, environ, start_response, name)
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target.startswith("AmazonSQS.") and target.split(".", 1)[1] in self.move_tasks.ACTIONS:
                request = Request(environ)
                status, headers, body = self.move_tasks.handle(target.split(".", 1)[1], request.get_data())
                return Response(body, status=status, headers=headers)(environ, start_response)
            return moto_app(environ, start_response)

        return app

    def _update_code(self, moto_app: Callable, environ: dict, start_response: Callable, name: str) -> Any:
        """UpdateFunctionCode, answered once the runner runs the new code (``code_updated``), so an
        Invoke sent after the answer runs it; if the runner cannot load it, a JSON ServiceException."""
        answered: list[Any] = []
        result = moto_app(environ, lambda status, headers, exc_info=None: answered.extend([status, headers]))
        try:
            body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        status, headers = answered
        if status.startswith("200"):
            try:
                self.code_updated(name)  # type: ignore[misc]
            except Exception as exc:
                error = {"Type": "Service", "message": f"{type(exc).__name__}: {exc}"}
                headers = {"x-amzn-ErrorType": "ServiceException", "Content-Type": "application/json"}
                return Response(json.dumps(error), status=500, headers=headers)(environ, start_response)
        start_response(status, headers)
        return [body]

    def _clock(self, request: Request) -> tuple[int, dict[str, Any]]:
        """``CLOCK_PATH``, for tests only: GET reads the clock of SQS retention and DynamoDB TTL;
        POST ``{"advance": seconds}`` (or ``{"offset": seconds}``, 0 resets) moves it and then
        sweeps at once, so a test sees a 60 s retention or a TTL pass without waiting for it."""
        if request.method == "POST":
            try:
                params = json.loads(request.get_data() or b"{}")
                if "offset" in params:
                    offset = float(params["offset"])
                else:
                    offset = _clock_offset[0] + float(params["advance"])
            except (ValueError, TypeError, KeyError):
                return 400, {"message": 'POST {"advance": <seconds>} or {"offset": <seconds>}'}
            if not math.isfinite(offset):
                return 400, {"message": "the offset must be a finite number of seconds"}
            _clock_offset[0] = offset
            deleted = self.sweeper.sweep() if self.sweeper is not None else {}
            return 200, {"now": clock(), "offset": _clock_offset[0], "deleted": deleted}
        if request.method != "GET":
            return 405, {"message": "GET or POST"}
        lag = self.sweeper.lag if self.sweeper is not None else None
        return 200, {"now": clock(), "offset": _clock_offset[0], "ttl_lag_seconds": lag}

    def start(self) -> Emulator:
        patch_moto()
        self.sweeper = TtlSweeper(ttl_lag_from_env()).start()
        self._server = make_server("127.0.0.1", self.port, self._app(), threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()
        return self

    @property
    def sns_handler(self) -> SnsHandler | None:
        return _sns_handler[0]

    @sns_handler.setter
    def sns_handler(self, handler: SnsHandler | None) -> None:
        _sns_handler[0] = handler

    def stop(self) -> None:
        if self.invoke_handler is not None and _sns_handler[0] is not None:
            _sns_handler[0] = None  # only an emulator serving a runner set it
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self.sweeper is not None:
            self.sweeper.stop()

    def function_code(self, function_name: str) -> bytes:
        """The deployed zip of a function, straight from moto's Lambda backend."""
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[ACCOUNT_ID][self.region]
        return backend.get_function(function_name).code_bytes

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def error_body(kind: str, message: str) -> bytes:
    return json.dumps({"errorType": kind, "errorMessage": message}).encode()


class MessageMoveTasks:
    """SQS DLQ redrive (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask), which
    moto lacks: each task moves the DLQ's messages back (to DestinationArn, or to the queue each
    came from) at most MaxNumberOfMessagesPerSecond, in the background, as SQS does."""

    ACTIONS = ("StartMessageMoveTask", "ListMessageMoveTasks", "CancelMessageMoveTask")

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.tasks: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _sqs(self) -> Any:
        return self.emulator.client("sqs")

    @staticmethod
    def _error(code: str, message: str, status: int = 400) -> tuple[int, dict[str, str], bytes]:
        body = {"__type": f"com.amazonaws.sqs#{code}", "message": message}
        return status, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body).encode()

    @staticmethod
    def _ok(body: dict) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body).encode()

    def _url(self, arn: str) -> str | None:
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            return None
        try:
            return self._sqs().get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        except Exception:
            return None

    def handle(self, action: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return self._error("InvalidParameterValue", "The request body is not valid JSON")
        return getattr(self, action)(params)

    def StartMessageMoveTask(self, params: dict) -> tuple[int, dict[str, str], bytes]:  # noqa: N802
        source_arn = params.get("SourceArn") or ""
        source = self._url(source_arn)
        if source is None:
            return self._error(
                "ResourceNotFoundException",
                f"The resource that you specified for the SourceArn parameter doesn't exist: {source_arn}",
            )
        sqs = self._sqs()
        if not sqs.list_dead_letter_source_queues(QueueUrl=source).get("queueUrls"):
            return self._error(
                "InvalidParameterValue", f"Source queue must be configured as a Dead Letter Queue: {source_arn}"
            )
        destination_arn = params.get("DestinationArn")
        destination = self._url(destination_arn) if destination_arn else None
        if destination_arn and destination is None:
            return self._error(
                "ResourceNotFoundException",
                f"The resource that you specified for the DestinationArn parameter doesn't exist: {destination_arn}",
            )
        with self._lock:
            if any(t["SourceArn"] == source_arn and t["Status"] == "RUNNING" for t in self.tasks.values()):
                return self._error(
                    "UnsupportedOperation",
                    "There is already a task running. Only one active task is allowed for a source queue arn"
                    " at a given time.",
                )
            handle = uuid.uuid4().hex
            depth = int(
                sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                    "ApproximateNumberOfMessages"
                ]
            )
            task = {
                "TaskHandle": handle,
                "Status": "RUNNING",
                "SourceArn": source_arn,
                "ApproximateNumberOfMessagesMoved": 0,
                "ApproximateNumberOfMessagesToMove": depth,
                "StartedTimestamp": int(time.time() * 1000),
            }
            if destination_arn:
                task["DestinationArn"] = destination_arn
            if params.get("MaxNumberOfMessagesPerSecond"):
                task["MaxNumberOfMessagesPerSecond"] = int(params["MaxNumberOfMessagesPerSecond"])
            self.tasks[handle] = task
        threading.Thread(target=self._move, args=(task, source, destination), daemon=True).start()
        return self._ok({"TaskHandle": handle})

    def _move(self, task: dict, source: str, destination: str | None) -> None:
        sqs = self._sqs()
        rate = task.get("MaxNumberOfMessagesPerSecond") or 500
        try:
            while (
                task["Status"] == "RUNNING"
                and task["ApproximateNumberOfMessagesMoved"] < task["ApproximateNumberOfMessagesToMove"]
            ):
                got = sqs.receive_message(
                    QueueUrl=source,
                    MaxNumberOfMessages=min(10, rate),
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not got:
                    break
                for message in got:
                    target = destination or self._url(message["Attributes"].get("DeadLetterQueueSourceArn", ""))
                    if target is None:  # moto does not record DeadLetterQueueSourceArn: the DLQ's one source
                        sources = sqs.list_dead_letter_source_queues(QueueUrl=source).get("queueUrls", [])
                        if len(sources) != 1:
                            raise RuntimeError("cannot tell which source queue a message came from")
                        target = sources[0]
                    entry: dict[str, Any] = {"QueueUrl": target, "MessageBody": message["Body"]}
                    attributes = {
                        k: {f: v for f, v in value.items() if f in ("DataType", "StringValue", "BinaryValue")}
                        for k, value in message.get("MessageAttributes", {}).items()
                    }
                    if attributes:
                        entry["MessageAttributes"] = attributes
                    if target.endswith(".fifo"):
                        entry["MessageGroupId"] = message["Attributes"].get("MessageGroupId", "redrive")
                        entry["MessageDeduplicationId"] = (
                            message["Attributes"].get("MessageDeduplicationId") or uuid.uuid4().hex
                        )
                    sqs.send_message(**entry)
                    sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                    task["ApproximateNumberOfMessagesMoved"] += 1
                time.sleep(len(got) / rate)
            if task["Status"] == "RUNNING":
                task["Status"] = "COMPLETED"
        except Exception as exc:
            task["Status"], task["FailureReason"] = "FAILED", str(exc)

    def ListMessageMoveTasks(self, params: dict) -> tuple[int, dict[str, str], bytes]:  # noqa: N802
        source_arn = params.get("SourceArn") or ""
        if self._url(source_arn) is None:
            return self._error(
                "ResourceNotFoundException",
                f"The resource that you specified for the SourceArn parameter doesn't exist: {source_arn}",
            )
        tasks = [t for t in self.tasks.values() if t["SourceArn"] == source_arn]
        tasks.sort(key=lambda t: t["StartedTimestamp"], reverse=True)
        results = [{k: v for k, v in t.items() if k != "TaskHandle" or t["Status"] == "RUNNING"} for t in tasks]
        return self._ok({"Results": results[: int(params.get("MaxResults") or 1)]})

    def CancelMessageMoveTask(self, params: dict) -> tuple[int, dict[str, str], bytes]:  # noqa: N802
        task = self.tasks.get(params.get("TaskHandle") or "")
        if task is None or task["Status"] != "RUNNING":
            return self._error("ResourceNotFoundException", "The task handle is invalid or the task is not running")
        task["Status"] = "CANCELLED"
        return self._ok({"ApproximateNumberOfMessagesMoved": task["ApproximateNumberOfMessagesMoved"]})
