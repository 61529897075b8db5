"""Conditional writes on the embedded emulator are atomic, as on AWS: of N requests racing with
the same condition on the same DynamoDB item or S3 key, exactly one wins, and what is stored is
the winner's.

The emulator runs in this process. The racing requests are built and signed first and sent
together; inside moto, a short pause after each read of the current item or object, and
before an update expression is applied, stands for a loaded machine preempting a request
between its condition check and its write (the emulator's request threads share one GIL): a
check-then-write that does not hold a lock across both lets several requests through in half
the rounds or more."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

THREADS = 12
ROUNDS = 20
PAUSE = 0.002  # seconds: after a read of the current item or object, before an update is applied


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator
    from moto.s3.models import S3Backend

    from local.emulator import Emulator

    def paused(read: Callable) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            found = read(*args, **kwargs)
            time.sleep(PAUSE)
            return found

        return call

    emulator = Emulator().start()
    monkeypatch.setattr(Table, "get_item", paused(Table.get_item))
    monkeypatch.setattr(UpdateExpressionValidator, "validate", paused(UpdateExpressionValidator.validate))
    monkeypatch.setattr(S3Backend, "get_object", paused(S3Backend.get_object))
    try:
        yield emulator
    finally:
        emulator.stop()


def _client(emulator: Any, service: str) -> Any:
    return emulator.client(service, Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=32))


def _race(client: Any, write: Callable[[int], Any]) -> list[str]:
    """Run ``write(n)`` on THREADS threads at once; each outcome: "ok" or the error code.
    Each thread builds and signs its request first; then all send together."""
    outcomes: list[str] = [""] * THREADS
    sent, waited = threading.Barrier(THREADS, timeout=10), set()

    def send_together(**_: Any) -> None:
        if threading.get_ident() not in waited:  # a resend (after a dropped connection) goes at once
            waited.add(threading.get_ident())
            sent.wait()

    def run(n: int) -> None:
        try:
            write(n)
            outcomes[n] = "ok"
        except ClientError as exc:
            outcomes[n] = exc.response["Error"]["Code"]
        except Exception as exc:  # noqa: BLE001 - reported in the outcomes, failing the test
            outcomes[n] = repr(exc)

    client.meta.events.register("before-send", send_together, unique_id="race")
    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        client.meta.events.unregister("before-send", unique_id="race")
    return outcomes


def _report(lost: list[list[str]]) -> str:
    return f"{len(lost)} of {ROUNDS} rounds without exactly one winner: {[o.count('ok') for o in lost]} won; {lost[0]}"


def _one_winner(outcomes: list[str], loser: str) -> bool:
    return sorted(outcomes) == sorted(["ok"] + [loser] * (THREADS - 1))


def _table(ddb: Any, name: str) -> str:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_one_of_racing_conditional_puts_creates_a_dynamodb_item(emulator):
    ddb = _client(emulator, "dynamodb")
    table = _table(ddb, "race-put")
    rounds = []
    for r in range(ROUNDS):
        key = f"k{r}"
        rounds.append(
            _race(
                ddb,
                lambda n, key=key: ddb.put_item(
                    TableName=table,
                    Item={"pk": {"S": key}, "writer": {"N": str(n)}},
                    ConditionExpression="attribute_not_exists(pk)",
                ),
            )
        )
    lost = [o for o in rounds if not _one_winner(o, "ConditionalCheckFailedException")]
    assert lost == [], _report(lost)


def test_one_of_racing_conditional_updates_changes_a_dynamodb_item(emulator):
    ddb = _client(emulator, "dynamodb")
    table = _table(ddb, "race-update")
    rounds = []
    for r in range(ROUNDS):
        key = {"pk": {"S": f"k{r}"}}
        ddb.put_item(TableName=table, Item={**key, "v": {"N": "0"}})
        outcomes = _race(
            ddb,
            lambda n, key=key: ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET v = :new",
                ConditionExpression="v = :old",
                ExpressionAttributeValues={":old": {"N": "0"}, ":new": {"N": str(n + 1)}},
            ),
        )
        rounds.append(outcomes)
        if outcomes.count("ok") == 1:  # the item holds the winner's value
            winner = outcomes.index("ok") + 1
            assert ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["v"]["N"] == str(winner)
    lost = [o for o in rounds if not _one_winner(o, "ConditionalCheckFailedException")]
    assert lost == [], _report(lost)


def test_one_of_racing_if_none_match_puts_creates_an_s3_object(emulator):
    s3 = _client(emulator, "s3")
    s3.create_bucket(Bucket="race-create")
    rounds = []
    for r in range(ROUNDS):
        key = f"k{r}"
        outcomes = _race(
            s3, lambda n, key=key: s3.put_object(Bucket="race-create", Key=key, Body=b"%d" % n, IfNoneMatch="*")
        )
        rounds.append(outcomes)
        if outcomes.count("ok") == 1:  # the object is the winner's
            assert s3.get_object(Bucket="race-create", Key=key)["Body"].read() == b"%d" % outcomes.index("ok")
    lost = [o for o in rounds if not _one_winner(o, "PreconditionFailed")]
    assert lost == [], _report(lost)


def test_one_of_racing_if_match_puts_replaces_an_s3_object(emulator):
    s3 = _client(emulator, "s3")
    s3.create_bucket(Bucket="race-replace")
    rounds = []
    for r in range(ROUNDS):
        key = f"k{r}"
        etag = s3.put_object(Bucket="race-replace", Key=key, Body=b"start")["ETag"]
        outcomes = _race(
            s3,
            lambda n, key=key, etag=etag: s3.put_object(Bucket="race-replace", Key=key, Body=b"%d" % n, IfMatch=etag),
        )
        rounds.append(outcomes)
        if outcomes.count("ok") == 1:
            assert s3.get_object(Bucket="race-replace", Key=key)["Body"].read() == b"%d" % outcomes.index("ok")
    lost = [o for o in rounds if not _one_winner(o, "PreconditionFailed")]
    assert lost == [], _report(lost)
