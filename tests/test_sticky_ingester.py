"""Unit tests of the ingester's logic against moto (decorator mode)."""

from __future__ import annotations

import io
import json
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

from shared import assignments
from shared.messages import StickyMessage
from tests.conftest import FUNCTION_ENVIRONMENTS, configure, load_function
from tests.helpers import Context

ingester = load_function("sticky_ingester")
TABLE = "assignments"


@contextmanager
def count_calls(services: tuple[str, ...] = ("sqs", "dynamodb", "s3", "sns")) -> Iterator[list[str]]:
    """Every AWS request the process-wide clients make, as ``service.Operation``."""
    calls: list[str] = []

    def hook(model, **kwargs):
        calls.append(f"{model.service_model.endpoint_prefix}.{model.name}")

    for service in services:
        ingester.client(service).meta.events.register("before-call", hook)
    try:
        yield calls
    finally:
        for service in services:
            ingester.client(service).meta.events.unregister("before-call", hook)


@pytest.fixture
def env(aws, monkeypatch):
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs = boto3.client("sqs")
    store = sqs.create_queue(QueueName="store")["QueueUrl"]
    pool = [sqs.create_queue(QueueName=f"pool-{i}")["QueueUrl"] for i in range(3)]
    configure(monkeypatch, ingester, assignment_table=TABLE, url_store_queue_url=store, pool_queue_urls=tuple(pool))
    monkeypatch.setattr(ingester, "spare_queues", [])  # a fresh process: no queues held from the store
    return {"store": store, "pool": pool, "sqs": sqs}


def queue_of(user: str, env) -> str:
    """The URL of the user's pool queue, from its assignment."""
    return env["pool"][int(assignments.get(TABLE, user)["queue_index"]["N"])]


def drain(sqs, url):
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        out += [json.loads(m["Body"]) for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_parse_accepts_a_single_message_or_a_batch():
    single = ingester.parse({"user_id": "u1", "body": {"a": 1}})
    batch = ingester.parse({"messages": [{"user_id": "u1", "body": 1}, {"user_id": "u2", "body": 2}]})
    assert [m.user_id for m in single.messages] == ["u1"]
    assert [m.user_id for m in batch.messages] == ["u1", "u2"]
    assert single.messages[0].message_id  # generated when the client gives none


@pytest.mark.parametrize(
    "event, where",
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"user_id": "bad id", "body": 1}]}, "messages.0.user_id"),
        ({"messages": [{"body": 1}]}, "messages.0.user_id"),
        ({"messages": [{"user_id": "u", "body": 1, "extra": True}]}, "messages.0.extra"),
    ],
)
def test_parse_rejects_invalid_input_naming_the_field(event, where):
    with pytest.raises(ingester.InvalidIngestRequest, match=where.replace(".", r"\.")):
        ingester.parse(event)


def store_bodies(sqs, store: str) -> list[str]:
    """Every message in the store (received once with a zero visibility timeout, so they stay)."""
    got = sqs.receive_message(QueueUrl=store, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return sorted(m["Body"] for m in got)


def test_store_is_seeded_lazily_and_hands_out_the_pool_in_rotation(env):
    pool = env["pool"]
    taken = [ingester.take_queues(env["store"], len(pool), 1)[0] for _ in range(7)]
    start = taken[0]
    assert taken == [(start + i) % 3 for i in range(7)]
    assert store_bodies(env["sqs"], env["store"]) == [json.dumps({"next": (start + 7) % 3}, separators=(",", ":"))]


def test_one_take_hands_out_a_pool_larger_than_ten_whole(env):
    pool = list(range(25))
    env["sqs"].send_message(QueueUrl=env["store"], MessageBody='{"next": 20}')
    assert ingester.take_queues(env["store"], 25, 25) == pool[20:] + pool[:20]
    assert ingester.take_queues(env["store"], 25, 3) == pool[20:23]


def test_after_a_resize_the_cursor_carries_on_within_the_new_pool(env):
    env["sqs"].send_message(QueueUrl=env["store"], MessageBody='{"next": 7}')  # left by a pool of 8
    assert ingester.take_queues(env["store"], 3, 2) == [1, 2]


def test_duplicate_cursors_and_foreign_messages_are_merged_into_one_cursor(env):
    for body in ('{"next": 1}', '{"next": 2}', "https://sqs/old-style-url", "not json"):
        env["sqs"].send_message(QueueUrl=env["store"], MessageBody=body)
    (taken,) = ingester.take_queues(env["store"], 3, 1)
    assert taken in (1, 2)
    (cursor,) = store_bodies(env["sqs"], env["store"])
    assert json.loads(cursor) == {"next": (taken + 1) % 3}


def test_an_empty_store_is_seeded_again_at_a_random_place(env):
    """The cursor expired (the store's retention) or was lost: the next take seeds a new one,
    at a random place, so no queue is favoured by reseeding."""
    for _ in range(30):
        ingester.seed_store(env["store"], 3)
    starts = {json.loads(m["Body"])["next"] for m in drain_raw(env["sqs"], env["store"])}
    assert starts == {0, 1, 2}
    assert ingester.take_queues(env["store"], 3, 1)[0] in (0, 1, 2)  # empty: seeded, then taken
    assert len(store_bodies(env["sqs"], env["store"])) == 1


def drain_raw(sqs, url):
    out = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += got
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_a_cursor_held_by_a_dead_taker_gives_a_clear_error_by_the_deadline(env):
    env["sqs"].send_message(QueueUrl=env["store"], MessageBody='{"next": 0}')
    env["sqs"].receive_message(QueueUrl=env["store"], VisibilityTimeout=60)  # a taker that died holding it
    started = time.monotonic()
    with pytest.raises(ingester.PoolUnavailable, match="another ingester holds its cursor.*Nothing of this request"):
        ingester.ingest(ingester.parse({"user_id": "new", "body": 1}), deadline=started + 1.5)
    assert time.monotonic() - started < 5  # it stopped at its deadline, not at the cursor's return
    assert assignments.get(TABLE, "new") is None
    assert all(drain(env["sqs"], url) == [] for url in env["pool"])


def test_a_user_keeps_its_queue_and_gets_consecutive_seqs(env):
    first = ingester.assign("u1", 3)
    second = ingester.assign("u1", 2)
    assert first.created and not second.created
    assert second.queue_index == first.queue_index
    assert second.first_seq == first.first_seq + 3
    item = assignments.get(TABLE, "u1")
    # a lease, extended by every use; nothing is counted in flight, so nothing can leak
    assert set(item) == {"user_id", "queue_index", "seq", "expires_at"}
    assert abs(int(item["expires_at"]["N"]) - (time.time() + ingester.CONFIG.lease_seconds)) < 5


def test_race_loser_adopts_the_winners_queue(env, monkeypatch):
    """Two ingesters miss the assignment at once; the second assign fails and reuses the first."""
    real_reserve = assignments.reserve
    calls = {"n": 0}

    def reserve_then_lose(table, user_id, count, pool, lease_seconds, candidate=None):
        calls["n"] += 1
        if calls["n"] == 1:  # our first look: nothing yet; meanwhile another ingester wins
            assignments.assign(table, user_id, 2, 1, pool, lease_seconds)
            return None
        return real_reserve(table, user_id, count, pool, lease_seconds, candidate=candidate)

    monkeypatch.setattr(ingester.assignments, "reserve", reserve_then_lose)
    got = ingester.assign("u9", 1)
    assert got.queue_index == 2 and not got.created
    assert got.first_seq == int(assignments.get(TABLE, "u9")["seq"]["N"])  # the seq after the winner's
    assert len(ingester.spare_queues) == 10  # the queue this ingester would have given is kept for the next user


def test_two_ingesters_creating_one_user_at_once_end_on_one_queue(env):
    """The one-write path: both writes carry a candidate; the second adopts the first's queue."""
    pool = env["pool"]
    first = assignments.reserve(TABLE, "u", 2, len(pool), 60, candidate=0)
    second = assignments.reserve(TABLE, "u", 3, len(pool), 60, candidate=1)
    assert (first.queue_index, first.created, second.queue_index, second.created) == (0, True, 0, False)
    assert second.first_seq == first.first_seq + 2
    assert int(assignments.get(TABLE, "u")["seq"]["N"]) == first.first_seq + 4


def test_a_user_on_a_queue_that_left_the_pool_moves_and_keeps_its_seq(env, monkeypatch):
    """After a pool resize, no user stays pinned to a queue that no longer exists."""
    before = assignments.assign(TABLE, "u", 5, 4, 6, 60)  # queue 05 of a pool of six, now three
    got = ingester.assign("u", 1)
    assert got.queue_index in (0, 1, 2) and got.created and got.first_seq == before.first_seq + 4
    assert ingester.assign("u", 1).queue_index == got.queue_index


def test_a_message_id_repeated_in_one_request_is_sent_once(env):
    request = ingester.parse({"messages": [{"user_id": "u", "body": n, "message_id": "same"} for n in range(3)]})
    result = ingester.ingest(request)
    sent = drain(env["sqs"], result.queues["u"])
    assert [(m["message_id"], m["body"]) for m in sent] == [("same", 0)]


@pytest.mark.parametrize("position", [0, 1])
def test_an_oversized_message_rejects_the_whole_request_and_nothing_is_sent(env, position):
    big = {"user_id": "big", "body": "x" * 262_000, "message_id": "m-big"}  # over 256 KiB with its envelope
    small = {"user_id": "small", "body": 1, "message_id": "m-small"}
    messages = [small, small] if position else [big, small]
    messages[position] = big
    with count_calls() as calls, pytest.raises(ingester.InvalidIngestRequest, match=rf"messages\.{position}\.body"):
        ingester.lambda_handler({"messages": messages}, Context("ingester"))
    assert calls == []  # not one AWS request: nothing reserved, nothing sent
    assert assignments.get(TABLE, "small") is None
    assert all(drain(env["sqs"], url) == [] for url in env["pool"])


def test_a_message_just_under_the_limit_is_sent_and_batches_stay_under_1_mib(env):
    """Four ~250 KB messages of one user: every SendMessageBatch carries at most 1 MiB."""
    sizes = []
    sqs = ingester.client("sqs")
    real = sqs.send_message_batch

    def measured(**kwargs):
        if kwargs["QueueUrl"] in env["pool"]:
            sizes.append(sum(len(e["MessageBody"].encode()) for e in kwargs["Entries"]))
        return real(**kwargs)

    sqs.send_message_batch = measured
    try:
        body = "y" * 250_000
        event = {"messages": [{"user_id": "u", "body": body, "message_id": f"m{i}"} for i in range(5)]}
        ingester.lambda_handler(event, Context("ingester"))
    finally:
        del sqs.send_message_batch
    assert len(sizes) == 2 and max(sizes) <= 1_048_576 and sum(sizes) > 1_048_576
    assert len(drain(env["sqs"], queue_of("u", env))) == 5


def test_one_message_per_call_costs_two_requests_for_a_known_user(env):
    ingester.ingest(ingester.parse({"user_id": "u", "body": 0}))
    with count_calls() as calls:
        for n in range(1, 6):
            ingester.ingest(ingester.parse({"user_id": "u", "body": n}))
    assert calls == ["dynamodb.UpdateItem", "sqs.SendMessageBatch"] * 5


def test_a_batched_call_costs_one_write_per_user_and_one_send_per_queue_chunk(env):
    users = [f"u{i}" for i in range(5)]
    ingester.ingest(ingester.parse({"messages": [{"user_id": u, "body": 0} for u in users]}))
    request = ingester.parse({"messages": [{"user_id": u, "body": n} for n in range(10) for u in users]})
    queues = {queue_of(u, env) for u in users}
    with count_calls() as calls:
        ingester.ingest(request)
    assert calls.count("dynamodb.UpdateItem") == 5
    # 50 messages on <= 3 queues: a queue with k users gets ceil(10k / 10) = k sends at most
    assert calls.count("sqs.SendMessageBatch") <= 5 and len(calls) <= 10  # <= 0.2 requests per message
    assert len(queues) >= 2


def test_a_send_that_fails_after_the_reserve_names_the_entries_and_leaks_nothing(env, monkeypatch):
    ingester.assign("u", 1)  # the user has its queue (the store is seeded) before SQS starts refusing
    sqs = ingester.client("sqs")
    real = sqs.send_message_batch

    def refused(**kwargs):
        return {
            "Successful": [],
            "Failed": [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in kwargs["Entries"]],
        }

    monkeypatch.setattr(sqs, "send_message_batch", refused)
    monkeypatch.setattr(ingester.sqs.time, "sleep", lambda s: None)
    with pytest.raises(ingester.sqs.BatchSendFailed, match=r"2 entries refused: 0 \(InternalError"):
        ingester.ingest(ingester.parse({"messages": [{"user_id": "u", "body": 1}, {"user_id": "u", "body": 2}]}))
    monkeypatch.setattr(sqs, "send_message_batch", real)
    item = assignments.get(TABLE, "u")
    assert "inflight" not in item  # nothing was counted, so nothing is left to release
    ingester.ingest(ingester.parse({"user_id": "u", "body": 3, "message_id": "later"}))
    sent = drain(env["sqs"], queue_of("u", env))
    assert [m["seq"] for m in sent] == [int(item["seq"]["N"]) + 1]  # after the unsent ones: a seq gap, harmless


def test_ingest_sends_each_users_messages_in_order_to_its_queue(env):
    request = ingester.parse(
        {"messages": [{"user_id": u, "body": n, "message_id": f"{u}{n}"} for n in range(12) for u in ("a", "b")]}
    )
    result = ingester.ingest(request, correlation_id="req-1")
    assert result.accepted == 24
    for user in ("a", "b"):
        sent = [m for m in drain(env["sqs"], result.queues[user]) if m["user_id"] == user]
        assert [m["body"] for m in sent] == list(range(12))
        assert [m["seq"] - sent[0]["seq"] for m in sent] == list(range(12))
        assert {m["correlation_id"] for m in sent} == {"req-1"}  # dispatcher logs carry the ingest request id


def test_fifo_queues_get_the_user_as_message_group(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="p.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    from shared.messages import StickyMessage

    ingester.send(url, [StickyMessage(user_id="u", seq=i, message_id=str(i), body=i) for i in range(1, 4)])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])["Messages"]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"u"}
    assert [json.loads(m["Body"])["seq"] for m in got] == [1, 2, 3]


def test_new_users_of_one_call_share_one_trip_to_the_url_store(env):
    ingester.take_queues(env["store"], 3, 1)  # seeded
    users = [f"n{i}" for i in range(6)]
    with count_calls() as calls:
        result = ingester.ingest(ingester.parse({"messages": [{"user_id": u, "body": 1} for u in users]}))
    assert [c for c in calls if c.startswith("sqs.") and c != "sqs.SendMessageBatch"] == [
        "sqs.ReceiveMessage",
        "sqs.SendMessage",
        "sqs.DeleteMessageBatch",
    ]
    assert calls.count("dynamodb.UpdateItem") == 7  # the first user's write found no URL held; then one each
    assert len(set(result.queues.values())) > 1  # spread over the URLs received


def test_a_new_user_costs_one_write_once_the_process_holds_spare_queues(env):
    """1 message per call: a known user and, after the first trip to the store, a new user alike
    cost one UpdateItem and one SendMessageBatch; the store is read once per ten new users."""
    ingester.ingest(ingester.parse({"user_id": "first", "body": 0}))
    with count_calls() as calls:
        for n in range(2):
            ingester.ingest(ingester.parse({"user_id": f"new{n}", "body": n}))
    assert calls == ["dynamodb.UpdateItem", "sqs.SendMessageBatch"] * 2
    queues = {queue_of(u, env) for u in ("first", "new0", "new1")}
    assert queues == set(env["pool"])  # handed out in the store's rotation


def test_ingester_processes_that_each_see_one_new_user_spread_them_over_the_pool(env, monkeypatch):
    """Each process takes ten URLs from the store's rotation, which moves on by ten: the first new
    users of many processes do not pile onto one queue."""
    for n in range(30):
        monkeypatch.setattr(ingester, "spare_queues", [])  # a fresh process
        ingester.assign(f"p{n}", 1)
    queues = Counter(queue_of(f"p{n}", env) for n in range(30))
    assert set(queues) == set(env["pool"]), queues


def test_a_spare_queue_no_longer_in_the_pool_is_never_given(env, monkeypatch):
    ingester.spare_queues.extend([7, 1])  # queue 07 left the pool (of three)
    assert ingester.assign("u", 1).queue_index == 1


def test_a_rejected_request_is_logged_with_its_reason_and_counted_in_json_lines_only(env, capsys):
    """Without the count, Powertools' log_metrics would warn "No application metrics to publish"
    in plain text: the only line of the function's log that would not be JSON."""
    logged, handler = io.StringIO(), ingester.logger.registered_handler
    previous = handler.setStream(logged)
    ingester.metrics.clear_metrics()  # Powertools keeps metrics per process: none left by other tests
    capsys.readouterr()
    try:
        with warnings.catch_warnings(record=True) as caught, pytest.raises(ingester.InvalidIngestRequest):
            warnings.simplefilter("always")
            ingester.lambda_handler({"messages": [{"body": 1}]}, Context("ingester"))
    finally:
        handler.setStream(previous)
    assert [str(w.message) for w in caught] == []
    out = logged.getvalue() + capsys.readouterr().out  # the logger's lines, then the metrics (EMF)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]  # every line is JSON
    (rejected,) = [line for line in lines if line.get("message") == "request rejected"]
    assert rejected["level"] == "WARNING" and "messages.0.user_id: Field required" in rejected["reason"]
    assert [line["RequestsRejected"] for line in lines if "RequestsRejected" in line] in ([[1.0]], [1.0])


def test_a_fifo_entry_of_the_longest_user_id_is_within_sqs_limits():
    """MessageGroupId and MessageDeduplicationId: at most 128 characters each (SQS); the dedup id
    stays unique per user and seq."""
    longest = "u" * 128
    entries = [
        ingester.sqs_entry(0, StickyMessage(user_id=user, seq=seq, message_id="m", body=1), fifo=True)
        for user in (longest, longest[:-1] + "v")
        for seq in (1, 2)
    ]
    assert all(len(e["MessageGroupId"]) <= 128 and len(e["MessageDeduplicationId"]) <= 128 for e in entries)
    assert len({e["MessageDeduplicationId"] for e in entries}) == 4


def test_the_pool_comes_from_queue_00s_url_whatever_its_size():
    """The environment holds a template and a size, never the list: Lambda caps it at 4 KB."""
    template = "https://sqs.eu-west-1.amazonaws.com/123456789012/qp-prod-sticky-pool-{index}.fifo"
    environ = {**FUNCTION_ENVIRONMENTS["sticky_ingester"], "POOL_QUEUE_URL_TEMPLATE": template, "POOL_SIZE": "100"}
    pool = ingester.Config.from_environ(environ).pool_queue_urls
    assert pool[0].endswith("-sticky-pool-00.fifo") and pool[99].endswith("-sticky-pool-99.fifo")
    assert len(set(pool)) == 100
    with pytest.raises(ValueError, match="must hold"):
        ingester.Config.from_environ({**environ, "POOL_QUEUE_URL_TEMPLATE": "https://sqs/pool-00"})


def test_a_take_holds_the_cursor_a_few_seconds_not_the_queues_visibility_timeout(env):
    """A taker that dies holding the cursor hides it only this long from the other ingesters."""
    seen = []

    def hook(params, **kwargs):
        seen.append(params.get("VisibilityTimeout"))

    sqs = ingester.client("sqs")
    sqs.meta.events.register("provide-client-params.sqs.ReceiveMessage", hook)
    try:
        ingester.take_queues(env["store"], 3, 1)
    finally:
        sqs.meta.events.unregister("provide-client-params.sqs.ReceiveMessage", hook)
    assert seen and set(seen) == {ingester.STORE_HOLD_SECONDS} and ingester.STORE_HOLD_SECONDS <= 5
