"""Unit tests of the relay consumer: lease, hops, S3 notifications, failures."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from shared import lease
from shared.messages import RelayBaton
from tests.conftest import configure, load_function
from tests.helpers import Context, create_queue_with_dlq, create_table, queue_arn, scheduled_event

relay = load_function("relay_consumer")
LEASES, RESULTS, BUCKET = "leases", "results", "inbox"


@pytest.fixture
def env(aws, monkeypatch):
    url, dlq = create_queue_with_dlq("relay")
    arn = queue_arn(url)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    create_table(LEASES, "lease_id")
    create_table(RESULTS, "object_id")
    configure(monkeypatch, relay, queue_url=url, lease_table=LEASES, results_table=RESULTS)
    invoked: list[dict] = []
    from shared.clients import client

    lam = client("lambda")
    monkeypatch.setattr(lam, "invoke", lambda **kw: invoked.append(kw) or {"StatusCode": 202})
    yield {"url": url, "dlq": dlq, "invoked": invoked}


def put_objects(n: int, prefix: str = "in/") -> None:
    s3 = boto3.client("s3")
    for i in range(n):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}obj {i}.txt", Body=f"payload {i}".encode())


def results() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=RESULTS)["Items"]


def test_scheduled_event_starts_a_chain_and_a_baton_continues_it():
    start = relay.parse(scheduled_event(), now=100.0)
    assert start.hop == 1 and start.started_at == 100.0
    baton = relay.parse({"chain_id": "c", "hop": 3, "started_at": 1.0}, now=200.0)
    assert (baton.chain_id, baton.hop) == ("c", 3)
    with pytest.raises(relay.InvalidEvent):
        relay.parse({"hello": "world"}, now=0)
    with pytest.raises(relay.InvalidEvent):
        relay.parse({"chain_id": "c", "hop": 0, "started_at": 1.0}, now=0)


def test_lease_admits_one_owner_until_released_or_expired(aws):
    create_table(LEASES, "lease_id")
    assert lease.acquire(LEASES, "relay", "a", 60, now=1000)
    assert not lease.acquire(LEASES, "relay", "b", 60, now=1001)
    assert lease.renew(LEASES, "relay", "a", 60, now=1030)
    assert not lease.renew(LEASES, "relay", "b", 60, now=1030)
    assert not lease.release(LEASES, "relay", "b")
    assert lease.acquire(LEASES, "relay", "b", 60, now=1091)  # a's lease expired at 1090
    assert not lease.renew(LEASES, "relay", "a", 60, now=1092)  # a lost it: its chain stops
    assert lease.release(LEASES, "relay", "b")
    assert lease.acquire(LEASES, "relay", "c", 60, now=1093)


def test_a_hop_processes_batches_and_relays_while_messages_remain(env, monkeypatch):
    configure(monkeypatch, relay, batches_per_hop=2)
    put_objects(25)
    out = relay.lambda_handler(scheduled_event(), Context("relay"))
    # two batches of 10: the s3:TestEvent (sent when the notification was configured) is ignored
    assert out["outcome"] == "relayed" and out["hop"] == 1 and (out["processed"], out["ignored"]) == (19, 1)
    assert len(env["invoked"]) == 1
    nxt = env["invoked"][0]
    assert nxt["InvocationType"] == "Event" and nxt["FunctionName"].endswith(":function:relay")
    baton = RelayBaton.model_validate_json(nxt["Payload"])
    assert (baton.chain_id, baton.hop) == (out["chain_id"], 2)

    # the schedule fires mid-chain: the lease is held, nothing is processed
    assert relay.lambda_handler(scheduled_event(), Context("relay"))["outcome"] == "lease-held"

    last = relay.lambda_handler(baton.model_dump(), Context("relay"))
    assert last["outcome"] == "done" and last["processed"] == 6 and len(env["invoked"]) == 1
    stored = results()
    assert len(stored) == 25 and {i["chain_id"]["S"] for i in stored} == {out["chain_id"]}
    assert {i["hop"]["N"] for i in stored} == {"1", "2"}
    # the chain released its lease: the next schedule starts a new one
    assert boto3.client("dynamodb").scan(TableName=LEASES)["Items"] == []


def test_processed_object_records_key_size_and_digest(env):
    boto3.client("s3").put_object(Bucket=BUCKET, Key="a b/c+d.txt", Body=b"hello")
    relay.lambda_handler(scheduled_event(), Context("relay"))
    (item,) = results()
    document = json.loads(item["document"]["S"])
    assert document["key"] == "a b/c+d.txt" and document["size"] == 5
    assert document["sha256"] == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def test_a_baton_whose_lease_was_taken_stops(env):
    put_objects(3)
    assert lease.acquire(LEASES, relay.LEASE_NAME, "other-chain", 60)
    out = relay.lambda_handler({"chain_id": "old", "hop": 5, "started_at": time.time()}, Context("relay"))
    assert out["outcome"] == "lease-lost" and out["processed"] == 0 and env["invoked"] == []


def test_chain_stops_at_its_hop_limit_and_budget(env, monkeypatch):
    configure(monkeypatch, relay, batches_per_hop=1)
    put_objects(30)
    configure(monkeypatch, relay, max_hops=1)
    assert relay.lambda_handler(scheduled_event(), Context("relay"))["outcome"] == "max-hops"
    configure(monkeypatch, relay, max_hops=100)
    old = {"chain_id": "x", "hop": 1, "started_at": time.time() - 10_000}
    assert relay.lambda_handler(old, Context("relay"))["outcome"] == "budget-exhausted"
    assert env["invoked"] == []
    assert boto3.client("dynamodb").scan(TableName=LEASES)["Items"] == []  # released for the next schedule


def test_redelivered_notification_overwrites_its_one_result(env):
    put_objects(1)
    sqs = boto3.client("sqs")
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=env["url"], MaxNumberOfMessages=10)["Messages"]]
    notification = next(b for b in bodies if "Records" in b)
    baton = RelayBaton(chain_id="c", hop=1, started_at=0)
    for _ in range(2):  # a redelivery: same object version, same key, one item
        (result,) = relay.handle_message(notification, baton)
        assert relay.write_results(RESULTS, [result]) == set()
    assert len(results()) == 1


def test_the_same_object_twice_in_one_receive_is_written_once_and_both_messages_deleted(env):
    put_objects(1)
    sqs = boto3.client("sqs")
    notification = next(
        m["Body"]
        for m in sqs.receive_message(QueueUrl=env["url"], MaxNumberOfMessages=10)["Messages"]
        if "Records" in m["Body"]
    )
    sqs.purge_queue(QueueUrl=env["url"])
    for _ in range(2):  # a duplicate delivery: BatchWriteItem refuses a key twice in one request
        sqs.send_message(QueueUrl=env["url"], MessageBody=notification)
    received, processed, ignored, failed = relay.drain_batch(RelayBaton(chain_id="c", hop=1, started_at=0))
    assert (received, processed, ignored, failed) == (2, 2, 0, 0)
    assert len(results()) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=env["url"], MaxNumberOfMessages=10)


def test_results_are_written_25_per_request_and_unprocessed_items_retried(env, monkeypatch):
    from shared.clients import client

    ddb = client("dynamodb")
    real, requests = ddb.batch_write_item, []

    def flaky(RequestItems):  # DynamoDB leaves the last item of each first request unprocessed
        (items,) = RequestItems.values()
        requests.append(len(items))
        if len(requests) <= 2:
            real(RequestItems={RESULTS: items[:-1]})
            return {"UnprocessedItems": {RESULTS: items[-1:]}}
        return real(RequestItems=RequestItems)

    monkeypatch.setattr(ddb, "batch_write_item", flaky)
    objects = [
        relay.ProcessedObject(object_id=f"b/k{i}@e", bucket="b", key=f"k{i}", size=1, sha256="x", chain_id="c", hop=1)
        for i in range(30)
    ]
    monkeypatch.setattr(time, "sleep", lambda s: None)
    assert relay.write_results(RESULTS, objects) == set()
    assert requests == [25, 5, 2] and len(results()) == 30


def test_messages_whose_results_stay_unwritten_are_not_deleted(env, monkeypatch):
    put_objects(2)
    monkeypatch.setattr(relay, "write_results", lambda table, objects: {objects[0].object_id})
    received, processed, ignored, failed = relay.drain_batch(RelayBaton(chain_id="c", hop=1, started_at=0))
    assert (received, processed, ignored, failed) == (3, 1, 1, 1)  # the s3:TestEvent is ignored
    left = boto3.client("sqs").receive_message(QueueUrl=env["url"], MaxNumberOfMessages=10)["Messages"]
    assert len(left) == 1 and "obj+0.txt" in left[0]["Body"]


def test_a_hop_that_lost_its_lease_while_working_does_not_relay(env, monkeypatch):
    """The lease expires during the hop (injected clock) and another chain takes it: no second chain."""
    clock = {"now": time.time()}

    def slow_batch(baton):  # this hop works past its lease; meanwhile a new schedule starts chain "b"
        clock["now"] += relay.lease_seconds(10) + 10
        assert lease.acquire(LEASES, relay.LEASE_NAME, "b", 60, now=clock["now"])
        return 10, 10, 0, 0

    monkeypatch.setattr(relay, "drain_batch", slow_batch)
    configure(monkeypatch, relay, batches_per_hop=1)
    monkeypatch.setattr(relay, "messages_remain", lambda: True)
    baton = RelayBaton(chain_id="a", hop=1, started_at=clock["now"])
    result = relay.run_hop(baton, Context("relay"), 10, clock=lambda: clock["now"])
    assert result.outcome == "lease-lost" and result.processed == 10
    assert env["invoked"] == []  # chain "a" ends here; chain "b" is the only one
    (item,) = boto3.client("dynamodb").scan(TableName=LEASES)["Items"]
    assert item["owner"]["S"] == "b"


def test_a_duplicated_delivery_of_a_hop_runs_once(env, monkeypatch):
    """Lambda may deliver an asynchronous invocation twice: the second copy must not fork the chain."""
    configure(monkeypatch, relay, batches_per_hop=1)
    put_objects(25)
    first = relay.lambda_handler(scheduled_event(), Context("relay"))
    assert first["outcome"] == "relayed"
    baton = json.loads(env["invoked"][0]["Payload"])
    assert relay.lambda_handler(baton, Context("relay"))["outcome"] == "relayed"
    duplicate = relay.lambda_handler(baton, Context("relay"))
    assert duplicate["outcome"] == "lease-lost" and duplicate["processed"] == 0
    assert len(env["invoked"]) == 2


def test_invalid_message_goes_to_its_dlq_while_valid_ones_are_processed(env, monkeypatch):
    configure(monkeypatch, relay, batches_per_hop=1)
    boto3.client("sqs").send_message(QueueUrl=env["url"], MessageBody='{"Records": "nope"}')
    put_objects(2)
    first = relay.lambda_handler(scheduled_event(), Context("relay"))
    assert first["processed"] == 2 and first["failed"] == 1
    out = first
    for _ in range(3):  # follow the chain (the failed message is visible again: visibility 0)
        event = json.loads(env["invoked"][-1]["Payload"]) if out["outcome"] == "relayed" else scheduled_event()
        out = relay.lambda_handler(event, Context("relay"))
    dead = boto3.client("sqs").receive_message(QueueUrl=env["dlq"], MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ['{"Records": "nope"}']
    assert len(results()) == 2


def test_a_hop_stops_receiving_when_another_batch_as_slow_would_not_fit(env, monkeypatch):
    class Clock:
        now, remaining_ms = 0.0, 10_000

    def slow_batch(baton):  # every batch takes 3 s of the invocation
        Clock.now += 3
        Clock.remaining_ms -= 3000
        return 10, 10, 0, 0

    class Shrinking(Context):
        def get_remaining_time_in_millis(self) -> int:
            return Clock.remaining_ms

    monkeypatch.setattr(relay, "drain_batch", slow_batch)
    configure(monkeypatch, relay, batches_per_hop=5)
    monkeypatch.setattr(relay, "messages_remain", lambda: False)
    baton = RelayBaton(chain_id="c", hop=1, started_at=time.time())
    result = relay.run_hop(baton, Shrinking("relay"), 10, clock=lambda: time.time() + Clock.now)
    # 10 s: batch 1 (7 s left), batch 2 (4 s left < 2 s margin + 3 s slowest): stop, not time out
    assert result.processed == 20 and Clock.remaining_ms == 4000


def test_a_hop_whose_last_long_poll_found_nothing_ends_the_chain_without_asking_the_queue_depth(env, monkeypatch):
    put_objects(3)

    def depth_not_needed():
        raise AssertionError("an empty long poll already said the queue is drained")

    monkeypatch.setattr(relay, "messages_remain", depth_not_needed)
    out = relay.lambda_handler(scheduled_event(), Context("relay"))
    assert out["outcome"] == "done" and out["processed"] == 3 and env["invoked"] == []
    assert boto3.client("dynamodb").scan(TableName=LEASES)["Items"] == []
