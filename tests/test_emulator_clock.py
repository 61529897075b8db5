"""The embedded emulator keeps AWS's clock: DynamoDB deletes an item some time after its TTL
has passed, and SQS deletes a message older than its queue's retention period (it is neither
received nor counted). moto does neither.

The emulator runs in this process. No test waits for a real TTL or a 60 s retention period:
``POST /_emulator/clock`` (test-only) advances the clock the emulator uses for both and sweeps
at once; an offset is reset after each test. One test lets the background sweeper act alone."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local import targets

YEAR = 365 * 86400


@pytest.fixture
def start(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``start(lag=None)``: an emulator (with ``EMULATOR_TTL_LAG_SECONDS=lag`` when given)."""
    from local.emulator import Emulator

    started: list[Any] = []

    def run(lag: float | None = None) -> Any:
        if lag is not None:
            monkeypatch.setenv("EMULATOR_TTL_LAG_SECONDS", str(lag))
        started.append(Emulator().start())
        return started[-1]

    try:
        yield run
    finally:
        for emulator in started:
            _clock(emulator, offset=0)
            emulator.stop()


def _clock(emulator: Any, **change: float) -> dict[str, Any]:
    """POST ``{"advance": s}`` or ``{"offset": s}`` to the emulator's clock (it then sweeps)."""
    request = urllib.request.Request(
        f"{emulator.endpoint}/_emulator/clock", data=json.dumps(change).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _ttl_table(ddb: Any, name: str, range_key: bool = False, ttl: bool = True) -> str:
    keys = [("pk", "HASH")] + ([("sk", "RANGE")] if range_key else [])
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    return name


def _keys(ddb: Any, table: str) -> set[str]:
    return {
        i["pk"]["S"] + i.get("sk", {}).get("S", "") for i in ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    }


def test_the_sweeper_deletes_items_whose_ttl_has_passed_and_only_those(start):
    ddb = start().client("dynamodb")
    table, ranged, no_ttl = (
        _ttl_table(ddb, "ttl"),
        _ttl_table(ddb, "ttl-range", True),
        _ttl_table(ddb, "no-ttl", ttl=False),
    )
    now = int(time.time())
    items = {
        "expired": {"N": str(now - 100)},
        "future": {"N": str(now + 3600)},
        "a-string": {"S": str(now - 100)},  # not a Number: ignored
        "a-number-set": {"NS": [str(now - 100)]},  # not a Number: ignored
        "six-years-old": {"N": str(now - 6 * YEAR)},  # DynamoDB ignores expiry times over five years old
        "in-milliseconds": {"N": str(now * 1000)},  # far in the future, as on AWS
    }
    for key, exp in items.items():
        ddb.put_item(TableName=table, Item={"pk": {"S": key}, "exp": exp})
    ddb.put_item(TableName=table, Item={"pk": {"S": "no-attribute"}})
    ddb.put_item(TableName=ranged, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "exp": {"N": str(now - 100)}})
    ddb.put_item(TableName=ranged, Item={"pk": {"S": "a"}, "sk": {"S": "2"}, "exp": {"N": str(now + 3600)}})
    ddb.put_item(TableName=no_ttl, Item={"pk": {"S": "expired"}, "exp": {"N": str(now - 100)}})

    deadline = time.monotonic() + 15  # the background sweeper, alone: no clock change
    while "expired" in _keys(ddb, table) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _keys(ddb, table) == set(items) - {"expired"} | {"no-attribute"}
    while "a1" in _keys(ddb, ranged) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _keys(ddb, ranged) == {"a2"}
    assert _keys(ddb, no_ttl) == {"expired"}  # TTL not enabled on that table


def test_an_expired_item_stays_readable_and_updatable_until_the_lag_has_passed(start):
    emulator = start(lag=3600)
    ddb = emulator.client("dynamodb")
    table = _ttl_table(ddb, "ttl-lag")
    key = {"pk": {"S": "k"}}
    ddb.put_item(TableName=table, Item={**key, "exp": {"N": str(int(time.time()) - 10)}})
    assert _clock(emulator, advance=0)["deleted"]["items"] == 0  # a sweep: within the lag
    ddb.update_item(
        TableName=table, Key=key, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "1"}}
    )
    assert ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["n"] == {"N": "1"}
    assert _keys(ddb, table) == {"k"}
    assert _clock(emulator, advance=3600)["deleted"]["items"] == 1  # the lag has passed
    assert "Item" not in ddb.get_item(TableName=table, Key=key, ConsistentRead=True)


def test_a_write_moving_the_ttl_just_before_the_delete_wins(start, monkeypatch):
    """The sweeper finds expired items without a lock; a write landing between that and the
    delete (the TTL moved into the future, or removed) must keep the item."""
    from local.emulator import TtlSweeper

    emulator = start()
    ddb = emulator.client("dynamodb")
    table = _ttl_table(ddb, "ttl-race")
    past, future = str(int(time.time()) - 100), str(int(time.time()) + 3600)
    writes = {
        "moved": ("SET exp = :f", {":f": {"N": future}}),
        "removed": ("REMOVE exp", None),
        "made-a-string": ("SET exp = :s", {":s": {"S": past}}),
    }
    for key in [*writes, "left"]:
        ddb.put_item(TableName=table, Item={"pk": {"S": key}, "exp": {"N": past}})
    delete_if_expired, written = TtlSweeper._delete_if_expired, set()

    def write_first(self: Any, backend: Any, table_model: Any, item: Any) -> int:
        key = item.hash_key.value
        if key in writes and key not in written:
            written.add(key)
            expression, values = writes[key]
            ddb.update_item(
                TableName=table,
                Key={"pk": {"S": key}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        return delete_if_expired(self, backend, table_model, item)

    monkeypatch.setattr(TtlSweeper, "_delete_if_expired", write_first)
    _clock(emulator, advance=0)
    assert written == set(writes)
    assert _keys(ddb, table) == set(writes)  # "left" was deleted; the rewritten ones survived
    moved = ddb.get_item(TableName=table, Key={"pk": {"S": "moved"}}, ConsistentRead=True)["Item"]
    assert moved["exp"] == {"N": future}


def _counts(sqs: Any, url: str) -> tuple[int, int, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return tuple(int(got[n]) for n in names)  # type: ignore[return-value]


def test_a_message_past_its_queues_retention_period_is_gone_and_uncounted(start):
    emulator = start()
    sqs = emulator.client("sqs")
    url = sqs.create_queue(QueueName="retained", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    received = sqs.receive_message(QueueUrl=url, VisibilityTimeout=900)["Messages"][0]
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=900)
    assert _counts(sqs, url) == (1, 1, 1)

    _clock(emulator, advance=30)  # half the retention period: all kept
    assert _counts(sqs, url) == (1, 1, 1)
    sqs.send_message(QueueUrl=url, MessageBody="sent later")
    _clock(emulator, advance=31)  # the first three are 61 s old, the last one 31 s
    assert _counts(sqs, url) == (1, 0, 0)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["sent later"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])  # a consumer late to delete: no error
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert _counts(sqs, url) == (0, 0, 0)


def test_the_embedded_target_waits_for_the_sweeper(start):
    emulator = start()
    ddb = emulator.client("dynamodb")
    table = _ttl_table(ddb, "ttl-target")
    now = int(time.time())
    ddb.put_item(TableName=table, Item={"pk": {"S": "old"}, "exp": {"N": str(now - 100)}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "new"}, "exp": {"N": str(now + 3600)}})
    target = targets.EmbeddedTarget(endpoint=emulator.endpoint, region=emulator.region)
    target.await_ttl_deletion(table, {"pk": {"S": "old"}}, timeout=15)
    with pytest.raises(TimeoutError, match="still there"):
        target.await_ttl_deletion(table, {"pk": {"S": "new"}}, timeout=0.3)


def test_a_retention_period_sqs_refuses_is_refused(start):
    """SQS accepts 60 s to 14 days (tests/harness/aws_limits.py): a test cannot shorten it."""
    from botocore.exceptions import ClientError

    sqs = start().client("sqs")
    url = sqs.create_queue(QueueName="short")["QueueUrl"]
    for seconds in ("59", "1209601", "a minute"):
        with pytest.raises(ClientError, match="InvalidAttributeValue"):
            sqs.create_queue(QueueName=f"short-{len(seconds)}", Attributes={"MessageRetentionPeriod": seconds})
        with pytest.raises(ClientError, match="InvalidAttributeValue"):
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": seconds})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})
