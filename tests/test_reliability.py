"""Reliability scenarios for every consumer, with the Lambda service's SQS semantics.

* every message delivered twice -> each effect once;
* a failure (or a crash) mid-batch -> only the failed records are retried, effects once;
* hypothesis-generated malformed messages -> logged with the reason, dead-lettered after
  maxReceiveCount, while every good message in the same batches takes effect.

ESM consumers (sticky dispatcher, workflow services) are driven like the Lambda service
drives them: receive, invoke, delete what ``successful_receipts`` says (the runner's own
rules). Pollers (fan-out worker, relay consumer) receive and delete themselves.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.runner.sqs_pollers import sqs_event_record, successful_receipts
from local.runner.worker import InvocationResult
from shared import sqs as shared_sqs
from shared import workflow
from shared.history import read_history
from shared.messages import FanoutTick, RelayBaton, StickyMessage
from tests.conftest import configure, load_function
from tests.helpers import Context, clear_shell_aws, create_queue_with_dlq, create_table, queue_arn, scan

dispatcher = load_function("sticky_dispatcher")
enrich = load_function("workflow_enrich")
preprocessor = load_function("workflow_preprocessor")
worker = load_function("fanout_worker")
relay = load_function("relay_consumer")

BUCKET = "bucket"


# --- the Lambda service's side ---------------------------------------------------------


def poll(url: str, handler: Callable[[dict, Any], Any], delete: bool = True) -> int:
    """One event source mapping poll: receive <= 10, invoke, delete the successful ones."""
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])
    if not messages:
        return 0
    records = [sqs_event_record(m, queue_arn(url), "us-east-1") for m in messages]
    try:
        result = InvocationResult(True, payload=handler({"Records": records}, Context()))
    except Exception as exc:  # the function failed: nothing is deleted
        result = InvocationResult(False, error={"errorType": type(exc).__name__})
    done = successful_receipts(records, result, report_failures=True)
    if delete and done:
        shared_sqs.delete(url, [{"ReceiptHandle": r["receiptHandle"]} for r in done])
    return len(messages)


def dead_letters(dlq: str) -> list[str]:
    got = boto3.client("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in got]


# --- one adapter per consumer: setup, good messages, run, observed effects ----------------


@dataclass
class Consumer:
    name: str
    url: str = ""
    dlq: str = ""
    logger: Any = None
    sent: list[str] = field(default_factory=list)

    def send(self, bodies: list[str]) -> list[str]:
        """Send each body; returns their SQS message ids, in order."""
        sqs = boto3.client("sqs")
        return [sqs.send_message(QueueUrl=self.url, MessageBody=body)["MessageId"] for body in bodies]

    def run(self, delete: bool = True) -> int:  # one poll; returns messages received
        raise NotImplementedError

    def drain(self, polls: int = 30) -> None:
        for _ in range(polls):
            if self.run() == 0:
                return

    def effects(self) -> Counter:
        raise NotImplementedError

    def good(self, n: int) -> list[str]:
        raise NotImplementedError

    def fail_once(self, monkeypatch: pytest.MonkeyPatch, victim: str) -> None:
        """Make the effect for ``victim`` (one good message's key) fail the first time."""
        raise NotImplementedError


class Dispatcher(Consumer):
    def setup(self, monkeypatch):
        self.url, self.dlq = create_queue_with_dlq("pool", max_receive_count=2)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        create_table("assignments", "user_id")
        monkeypatch.setattr(dispatcher, "DOCUMENT_BUCKET", BUCKET)
        self.logger = dispatcher.logger

    def good(self, n):
        return [
            StickyMessage(user_id=f"u{i % 3}", seq=i + 1, message_id=f"m{i}", body={"i": i}).model_dump_json()
            for i in range(n)
        ]

    def run(self, delete=True):
        return poll(self.url, dispatcher.lambda_handler, delete)

    def effects(self):
        s3, found = boto3.client("s3"), Counter()
        for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix="users/").get("Contents", []):
            if obj["Key"].count("/") == 1:  # a head: users/<id>.json
                user = obj["Key"].removeprefix("users/").removesuffix(".json")
                found.update(e.message_id for e in read_history(s3, BUCKET, user))
        return found

    def key(self, body):
        return json.loads(body)["message_id"]

    def fail_once(self, monkeypatch, victim):
        real, failed = dispatcher.append_to_document, []

        def flaky(bucket, user_id, messages):
            if not failed and any(m.message_id == victim for m in messages):
                failed.append(victim)
                raise RuntimeError("S3 is having a moment")
            return real(bucket, user_id, messages)

        monkeypatch.setattr(dispatcher, "append_to_document", flaky)


class Service(Consumer):
    def setup(self, monkeypatch):
        sqs, sns = boto3.client("sqs"), boto3.client("sns")
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        self.connector = sns.create_topic(Name="connector")["TopicArn"]
        notifier = sns.create_topic(Name="notifier")["TopicArn"]
        self.url, self.dlq = create_queue_with_dlq("enrich", max_receive_count=2)
        sns.subscribe(TopicArn=self.connector, Protocol="sqs", Endpoint=queue_arn(self.url))
        self.results = sqs.create_queue(QueueName="results")["QueueUrl"]
        sns.subscribe(
            TopicArn=notifier,
            Protocol="sqs",
            Endpoint=queue_arn(self.results),
            Attributes={"RawMessageDelivery": "true"},
        )
        monkeypatch.setattr(
            enrich, "SERVICE", workflow.Service("enrich", "preprocessor", enrich.enrich, BUCKET, notifier)
        )
        self.logger = enrich.logger

    def good(self, n):
        bodies = []
        for i in range(n):
            request = preprocessor.parse({"document": {"i": i}})
            preprocessor.start_workflow(request, BUCKET, self.connector, "enrich")
        sqs = boto3.client("sqs")
        while got := sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            bodies += [m["Body"] for m in got]
            shared_sqs.delete(self.url, got)
        return bodies  # SNS envelopes, as the connector delivers them

    def key(self, body):
        return json.loads(json.loads(body)["Message"])["request_id"]

    def run(self, delete=True):
        return poll(self.url, enrich.lambda_handler, delete)

    def effects(self):
        # the effect is the stage document, an overwrite; its notification is at-least-once (as SNS is):
        # a redelivery re-sends the identical ServiceResult, which consumers de-duplicate by content
        sqs, bodies = boto3.client("sqs"), getattr(self, "bodies", set())
        while got := sqs.receive_message(QueueUrl=self.results, MaxNumberOfMessages=10).get("Messages", []):
            bodies.update(m["Body"] for m in got)
            shared_sqs.delete(self.results, got)
        self.bodies = bodies
        return Counter(json.loads(b)["request_id"] for b in bodies)

    def fail_once(self, monkeypatch, victim):
        real, failed = workflow.write_document, []

        def flaky(bucket, request_id, stage, document):
            if not failed and request_id == victim:
                failed.append(victim)
                raise RuntimeError("S3 is having a moment")
            return real(bucket, request_id, stage, document)

        monkeypatch.setattr(workflow, "write_document", flaky)


class Worker(Consumer):
    def setup(self, monkeypatch):
        self.url, self.dlq = create_queue_with_dlq("work", max_receive_count=2)
        create_table("items", "message_id")
        self.logger = worker.logger

    def good(self, n):
        return [json.dumps({"key": f"k{i}", "data": {"i": i}}) for i in range(n)]

    def key(self, body):
        return json.loads(body)["key"]

    def run(self, delete=True):
        with _no_deletes() if not delete else nullcontext():
            return worker.drain_once(self.url, "items", FanoutTick(tick_id="t", index=0, of=1), 1).received

    def effects(self):
        return Counter(i["key"]["S"] for i in scan(boto3.client("dynamodb"), "items"))

    def fail_once(self, monkeypatch, victim):
        real, failed = worker.write_items, []

        def flaky(table, items):  # DynamoDB leaves the victim unprocessed, every retry
            keep = {mid: item for mid, item in items.items() if failed or item["key"]["S"] != victim}
            if len(keep) < len(items):
                failed.append(victim)
            return real(table, keep)

        monkeypatch.setattr(worker, "write_items", flaky)


class Relay(Consumer):
    def setup(self, monkeypatch):
        self.url, self.dlq = create_queue_with_dlq("relay", max_receive_count=2)
        for table, key in (("leases", "lease_id"), ("results", "object_id")):
            create_table(table, key)
        configure(monkeypatch, relay, queue_url=self.url, lease_table="leases", results_table="results")
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        self.logger = relay.logger

    def good(self, n):
        s3 = boto3.client("s3")
        bodies = []
        for i in range(n):
            s3.put_object(Bucket=BUCKET, Key=f"in/{i}", Body=f"object {i}".encode())
            etag = s3.head_object(Bucket=BUCKET, Key=f"in/{i}")["ETag"].strip('"')
            record = {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": f"in/{i}", "size": 8, "eTag": etag}},
            }
            bodies.append(json.dumps({"Records": [record]}))
        return bodies

    def key(self, body):
        return json.loads(body)["Records"][0]["s3"]["object"]["key"]

    def run(self, delete=True):
        baton = RelayBaton(chain_id=str(uuid.uuid4()), hop=1, started_at=0)
        with _no_deletes() if not delete else nullcontext():
            return relay.drain_batch(baton)[0]

    def effects(self):
        return Counter(json.loads(i["document"]["S"])["key"] for i in scan(boto3.client("dynamodb"), "results"))

    def fail_once(self, monkeypatch, victim):
        real, failed = relay.read_object, []

        def flaky(record, baton):
            if not failed and record.s3.object.key == victim:
                failed.append(victim)
                raise RuntimeError("S3 is having a moment")
            return real(record, baton)

        monkeypatch.setattr(relay, "read_object", flaky)


@contextmanager
def _no_deletes() -> Iterator[None]:
    """A poller whose deletes are lost (crash after the effect, before the delete)."""
    real = shared_sqs.delete
    shared_sqs.delete = lambda url, messages: []  # type: ignore[assignment]
    try:
        yield
    finally:
        shared_sqs.delete = real  # type: ignore[assignment]


CONSUMERS = {"sticky-dispatcher": Dispatcher, "workflow-service": Service, "fanout-worker": Worker, "relay": Relay}


@pytest.fixture(params=sorted(CONSUMERS))
def consumer(request, aws, monkeypatch):
    create_table("idempotency", "id")
    c = CONSUMERS[request.param](request.param)
    c.setup(monkeypatch)
    yield c


def keys(c: Consumer, bodies: list[str]) -> Counter:
    return Counter(c.key(b) for b in bodies)


# --- scenarios ----------------------------------------------------------------------------


def test_every_message_delivered_twice_takes_effect_once(consumer):
    bodies = consumer.good(12)
    consumer.send(bodies)
    consumer.run(delete=False)  # processed, but the deletes are lost: SQS delivers them again
    consumer.drain()
    assert consumer.effects() == keys(consumer, bodies)
    assert dead_letters(consumer.dlq) == []


def test_a_failure_mid_batch_retries_only_the_failed_record(consumer, monkeypatch):
    bodies = consumer.good(8)
    victim = consumer.key(bodies[3])
    consumer.fail_once(monkeypatch, victim)
    consumer.send(bodies)
    consumer.run()
    first = consumer.effects()
    assert victim not in first and sum(first.values()) >= 1  # the others took effect
    left = boto3.client("sqs").get_queue_attributes(
        QueueUrl=consumer.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    remaining = int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"])
    assert remaining == len(bodies) - sum(first.values())  # only the failed (and unreceived) ones remain
    consumer.drain()
    assert consumer.effects() == keys(consumer, bodies)


def test_a_crash_mid_batch_applies_each_message_once(aws, monkeypatch):
    c = Dispatcher("sticky-dispatcher")
    create_table("idempotency", "id")
    c.setup(monkeypatch)
    bodies = c.good(9)  # users u0, u1, u2
    real, calls = dispatcher.append_to_document, []

    def crash_after_first_user(bucket, user_id, messages):
        calls.append(user_id)
        out = real(bucket, user_id, messages)
        if len(calls) == 1:
            raise SystemExit("the runtime died")  # not an Exception: no partial response, no delete
        return out

    monkeypatch.setattr(dispatcher, "append_to_document", crash_after_first_user)
    c.send(bodies)
    with pytest.raises(SystemExit):
        dispatcher.lambda_handler(
            {"Records": [sqs_event_record(m, queue_arn(c.url), "us-east-1") for m in _receive(c.url)]}, Context()
        )
    c.drain()
    assert c.effects() == keys(c, bodies)


def _receive(url: str) -> list[dict]:
    return boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
MALFORMED = st.one_of(
    st.text(min_size=1, max_size=60).filter(lambda s: s.strip() != ""),
    JSON.map(json.dumps),
    st.dictionaries(st.sampled_from(["user_id", "seq", "key", "Records", "Message", "request_id"]), JSON).map(
        json.dumps
    ),
)


class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # the message, the reason (exception) and every extra key (message_id, ...) of the record
        extra = " ".join(
            f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__
        )
        self.messages.append(f"{record.getMessage()} {record.exc_info[1] if record.exc_info else ''} {extra}")


def _tag_failure_logs(patch: pytest.MonkeyPatch, processor: Any, captured: _Captured) -> None:
    """Append the failed record's message id to the lines logged while Powertools handles its failure."""
    real = processor.failure_handler

    def failure_handler(record: Any, exception: Any) -> Any:
        before = len(captured.messages)
        try:
            return real(record, exception)
        finally:
            message_id = getattr(record, "message_id", None) or getattr(record, "messageId", "")  # model or data class
            for i in range(before, len(captured.messages)):
                captured.messages[i] += f" messageId={message_id}"

    patch.setattr(processor, "failure_handler", failure_handler)


def _long_polls_answer_at_once(patch: pytest.MonkeyPatch) -> None:
    """In this single-threaded, in-process moto nothing can arrive during a long poll, so a long
    poll answers what a short one does -- without waiting out WaitTimeSeconds on an empty queue
    (most of this test's wall time: 12 examples x several drains). A fast-forwarded clock: the
    consumers still ask for their long polls; what they receive is unchanged."""
    from moto.sqs.models import SQSBackend

    receive = SQSBackend.receive_message

    def at_once(self, queue_name, count, wait_seconds_timeout, *args, **kwargs):  # type: ignore[no-untyped-def]
        return receive(self, queue_name, count, 0, *args, **kwargs)

    patch.setattr(SQSBackend, "receive_message", at_once)


@pytest.mark.parametrize("name", sorted(CONSUMERS))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.lists(MALFORMED, min_size=1, max_size=3))
def test_malformed_messages_are_logged_and_dead_lettered_and_no_good_one_is_lost(name, bad, monkeypatch):
    from moto import mock_aws

    from shared import clients

    with mock_aws(), monkeypatch.context() as patch:
        clear_shell_aws(patch)
        clients.reset()
        _long_polls_answer_at_once(patch)
        create_table("idempotency", "id")
        c = CONSUMERS[name](name)
        c.setup(patch)
        captured = _Captured()
        c.logger.addHandler(captured)
        try:
            good = c.good(4)
            mixed = good[:2] + bad + good[2:]
            processor = {"sticky-dispatcher": dispatcher, "workflow-service": enrich}.get(name)
            if processor is not None:  # Powertools logs a failed record without its id: tag the lines here
                _tag_failure_logs(patch, processor.processor, captured)
            ids = c.send(mixed)
            bad_ids = ids[2 : 2 + len(bad)]
            c.drain()
            assert c.effects() == keys(c, good)
            assert Counter(dead_letters(c.dlq)) == Counter(bad)
            # each bad message (by its id: bodies may repeat) has a failure logged with its reason
            unlogged = [i for i in bad_ids if not any(i in line for line in captured.messages)]
            assert unlogged == [], captured.messages
        finally:
            c.logger.removeHandler(captured)
            clients.reset()
