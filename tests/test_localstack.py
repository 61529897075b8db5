"""The end-to-end scenarios of each pattern, through the target interface (local/targets.py).

Run with ``TARGET=localstack`` (``make test TARGET=localstack``): LocalStack's own event source
mapping pollers, redrive, SNS delivery, S3 notifications and schedules run the system; the
functions run through our host-process executor. ``SCENARIO_TARGET=embedded`` runs the same
scenarios on the embedded emulator + local runner (the other column of docs/localstack.md's
pass table). ``make test TARGET=aws ENV=dev`` runs them against a deployed dev (or stg)
environment with the caller's credentials (never prod; not verified offline: docs/localstack.md).
No scenario imports the runner: schedules are fired through the Lambda API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local import targets
from shared import large_payload
from shared.history import read_history, segment_prefix
from shared.messages import ServiceResult
from tests.helpers import scan, wait_for

TARGET = os.environ.get("SCENARIO_TARGET") or (
    os.environ.get("TARGET") if os.environ.get("TARGET") in ("localstack", "aws") else None
)
pytestmark = [pytest.mark.localstack]

USERS, PER_USER, THREADS = 20, 10, 4


@pytest.fixture(scope="module")
def target() -> Iterator[targets.Target]:
    if TARGET is None:
        pytest.skip("target scenarios run with TARGET=localstack|aws (or SCENARIO_TARGET=embedded|localstack|aws)")
    deployed = targets.create(TARGET)
    deployed.deploy(fifo_variant=True)
    print(f"\n{TARGET} timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in deployed.timings.items()))
    yield deployed
    deployed.stop()
    print(f"\n{TARGET} timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in deployed.timings.items()))


def depth(target: targets.Target, url: str) -> int:
    attrs = target.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def dead_letters(target: targets.Target, dlq_url: str, marker: str) -> list[str]:
    """This run's dead letters (bodies holding ``marker``), deleted once read: a long-lived
    environment's DLQ may hold other runs' messages, and what a scenario put there should not
    keep its DLQ alarm firing."""
    sqs = target.client("sqs")
    got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    mine = [m for m in got if marker in m["Body"]]
    for m in mine:
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
    return [m["Body"] for m in mine]


def dead_letter_wait(target: targets.Target, url: str) -> int:
    """How long SQS may take to dead-letter a message of ``url``: maxReceiveCount receives, one
    visibility timeout apart (3 locally, 5 in dev/stg), plus slack for the consumers."""
    attrs = target.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
    return visibility(target, url) * int(json.loads(attrs["RedrivePolicy"])["maxReceiveCount"]) + 90


def visibility(target: targets.Target, url: str) -> int:
    attrs = target.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    return int(attrs["Attributes"]["VisibilityTimeout"])


# --- DynamoDB Local binds loopback only (no LocalStack needed) -----------------------------

BIND = "import socket, sys; s = socket.socket(socket.{}); s.bind(('{}', 0)); print(s.getsockname()[0])"


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
@pytest.mark.parametrize(
    ("family", "wildcard", "loopback"), [("AF_INET", "0.0.0.0", "127.0.0.1"), ("AF_INET6", "::", "::ffff:127.0.0.1")]
)
def test_the_loopback_shim_turns_a_wildcard_bind_into_a_loopback_one(tmp_path, family, wildcard, loopback):
    source = Path(targets.REPO / "local/localstack/loopback_bind.c")
    shim = tmp_path / "shim.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(shim), str(source), "-ldl"], check=True)
    code = BIND.format(family, wildcard)
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert plain == wildcard  # without the shim: every interface
    env = {**os.environ, "LD_PRELOAD": str(shim)}
    shimmed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert shimmed.stdout.strip() == loopback
    explicit = BIND.format(family, "127.0.0.1" if family == "AF_INET" else "::1")
    kept = subprocess.run([sys.executable, "-c", explicit], capture_output=True, text=True, check=True, env=env)
    assert kept.stdout.strip() in ("127.0.0.1", "::1")  # other addresses are left alone


# --- the shim speaks LocalStack's executor protocol (a stand-in endpoint, no LocalStack) ----

HANDLER = """import time
def handler(event, context):
    print("handling", event)
    if event.get("fail"):
        raise ValueError("boom")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"echo": event, "arn": context.invoked_function_arn}
"""


def test_the_shim_runs_a_function_through_localstacks_callback_protocol(tmp_path):
    import http.server
    import queue
    import socket
    import urllib.request

    calls: queue.Queue = queue.Queue()

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            calls.put((self.path, body))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(targets.REPO),
        "TMPDIR": str(tmp_path),
        "LOCALSTACK_RUNTIME_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}/_localstack_lambda/env1",
        "LOCALSTACK_RUNTIME_ID": "env1",
        "HOST_EXECUTOR_PORT": str(port),
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "2",
        "_HANDLER": "app.handler",
    }
    proc = subprocess.Popen([sys.executable, "-m", "local.localstack.shim", str(code)], env=env, start_new_session=True)
    try:
        assert calls.get(timeout=60)[0] == "/_localstack_lambda/env1/status/env1/ready"

        def invoke(request_id: str, event: dict) -> list[tuple[str, bytes]]:
            payload = {"invoke-id": request_id, "invoked-function-arn": "arn:fn", "payload": json.dumps(event)}
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/invoke", data=json.dumps(payload).encode(), method="POST"
            )
            assert urllib.request.urlopen(request, timeout=10).status == 202
            return [calls.get(timeout=30), calls.get(timeout=30)]

        (logs, done) = invoke("r1", {"a": 1})
        assert logs[0].endswith("/invocations/r1/logs") and "handling {'a': 1}" in json.loads(logs[1])["logs"]
        assert done[0].endswith("/invocations/r1/response")
        assert json.loads(done[1]) == {"echo": {"a": 1}, "arn": "arn:fn"}
        (_, failed) = invoke("r2", {"fail": True})
        assert failed[0].endswith("/invocations/r2/error") and json.loads(failed[1])["errorType"] == "ValueError"
        (_, timed_out) = invoke("r3", {"sleep": 5})
        assert json.loads(timed_out[1])["errorType"] == "Sandbox.Timedout"
        (_, again) = invoke("r4", {"b": 2})  # a new worker replaces the timed-out one
        assert again[0].endswith("/invocations/r4/response")
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        server.shutdown()


# --- the interface itself ------------------------------------------------------------------


def test_configuration_and_logs_of_a_deployed_function(target):
    function = target.outputs["sticky_queue"]["ingester_function_name"]
    cfg = target.function_configuration(function)
    assert cfg["Handler"] == "app.lambda_handler" and cfg["Timeout"] == 10
    assert cfg["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    rejected = target.invoke(function, {"messages": [{"user_id": "a b", "body": 1}]})
    assert not rejected.ok and rejected.error["errorType"] == "InvalidIngestRequest"
    assert "messages.0.user_id" in rejected.error["errorMessage"]
    logged = wait_for(lambda: [line for line in target.logs(function) if "InvalidIngestRequest" in line], timeout=30)
    assert logged, "the rejected request is not in the function's logs"


def root_prefix(target: targets.Target) -> str:
    """The name prefix of the root's resources (``qp-<env>-``), from a name it output."""
    return target.outputs["sticky_queue"]["ingester_function_name"].split("sticky")[0]


def test_every_deployed_queue_follows_the_rules(target):
    """DLQs, encryption at rest, TLS-only policies, visibility >= 6x every consumer's timeout,
    partial batch responses and alarms that can notify, read back from the target's APIs."""
    from tests.harness.invariants import read_inventory, violations

    prefix = root_prefix(target)
    inv = read_inventory(target.client, prefix)
    consumed = {arn for arn, functions in inv.consumers.items() if functions}
    assert len(inv.queues) >= 10 and len(consumed) >= 5, inv  # the inventory really saw the stack
    roots = {prefix}  # the root, and the FIFO variant where the target deployed one beside it
    if target.outputs.get("fifo"):
        roots.add(target.outputs["fifo"]["sticky_queue"]["ingester_function_name"].split("sticky")[0])
    assert sorted(arn.rsplit(":", 1)[1] for arn in inv.alarm_topics) == sorted(f"{root}alarms" for root in roots)
    assert violations(inv) == []


# --- pattern 1: sticky queues --------------------------------------------------------------


def read_document(target: targets.Target, user_id: str, bucket: str | None = None) -> dict | None:
    s3 = target.client("s3")
    try:
        key = f"users/{user_id}.json"
        body = s3.get_object(Bucket=bucket or target.outputs["document_bucket"], Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def ingest(target: targets.Target, messages: list[dict], sticky: dict | None = None) -> dict:
    sticky = sticky or target.outputs["sticky_queue"]
    result = target.invoke(sticky["ingester_function_name"], {"messages": messages})
    assert result.ok, result.error
    return result.payload


def message(user: str, n: int, body: object = None) -> dict:
    return {"user_id": user, "message_id": f"{user}-{n}", "body": {"n": n} if body is None else body}


def entries_once(target: targets.Target, user: str, count: int, bucket: str | None = None) -> list[dict] | None:
    """The user's entries once the document holds ``count`` of them (None until then)."""
    entries = (read_document(target, user, bucket) or {}).get("entries", [])
    return entries if len(entries) >= count else None


def end_lease(target: targets.Target, user: str) -> None:
    """Make the user's lease run out now and wait for DynamoDB's TTL to delete its assignment:
    what days without messages do (the lease outlives the pool queues' retention)."""
    table = target.outputs["sticky_queue"]["assignment_table_name"]
    key = {"user_id": {"S": user}}
    target.client("dynamodb").update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET expires_at = :past",
        ConditionExpression="attribute_exists(user_id)",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    target.await_ttl_deletion(table, key, timeout=120)
    assert "Item" not in target.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)


def test_sticky_users_each_get_all_their_messages_in_order(target):
    run = uuid.uuid4().hex[:6]
    users = [f"user-{run}-{i:02d}" for i in range(USERS)]
    function = target.outputs["sticky_queue"]["ingester_function_name"]
    queues_seen: dict[str, set[str]] = {u: set() for u in users}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def sender(index: int) -> None:
        try:
            for n in range(PER_USER):  # round-robin: every user's messages interleave with others
                for user in users[index::THREADS]:
                    payload = {"user_id": user, "body": {"n": n}, "message_id": f"{user}-{n}"}
                    result = target.invoke(function, {"messages": [payload]} if n % 5 == 0 else payload)
                    assert result.ok, result.error
                    with lock:
                        queues_seen[user].update(result.payload["queues"].values())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    def complete() -> bool:
        return all(len((read_document(target, u) or {}).get("entries", [])) >= PER_USER for u in users)

    assert wait_for(complete, timeout=240, interval=2), "not every document received all its messages"
    for user in users:
        entries = (read_document(target, user) or {})["entries"]
        assert [e["message_id"] for e in entries] == [f"{user}-{n}" for n in range(PER_USER)], user
        assert [e["seq"] - entries[0]["seq"] for e in entries] == list(range(PER_USER))
        assert len(queues_seen[user]) == 1, f"{user} was routed to {queues_seen[user]}"
    assert len(set().union(*queues_seen.values())) > 1  # load is spread over the pool


def test_sticky_an_oversized_body_rejects_the_request_naming_the_field_and_nothing_is_sent(target):
    out = target.outputs["sticky_queue"]
    user = f"big-{uuid.uuid4().hex[:6]}"
    messages = [{"user_id": user, "body": 1, "message_id": "ok"}, {"user_id": user, "body": "x" * 300_000}]
    rejected = target.invoke(out["ingester_function_name"], {"messages": messages})
    assert not rejected.ok and rejected.error["errorType"] == "InvalidIngestRequest"
    assert "messages.1.body" in rejected.error["errorMessage"] and "262144" in rejected.error["errorMessage"]
    item = target.client("dynamodb").get_item(
        TableName=out["assignment_table_name"], Key={"user_id": {"S": user}}, ConsistentRead=True
    )
    assert "Item" not in item  # nothing reserved: the ingester reserves a queue before it sends
    # and the valid first message never reaches a document (a send would, within seconds)
    assert wait_for(lambda: read_document(target, user), timeout=10) is None


def test_sticky_invalid_message_is_dead_lettered_while_its_batch_succeeds(target):
    pool = target.outputs["sticky_queue"]["pool_queues"]["00"]
    sqs = target.client("sqs")
    user = f"dlq-{uuid.uuid4().hex[:6]}"
    valid = [json.dumps({"user_id": user, "seq": n, "message_id": f"{user}-{n}", "body": {"n": n}}) for n in (1, 2, 3)]
    poison = json.dumps({"user_id": user, "seq": "not-a-number", "body": None})
    sqs.send_message_batch(
        QueueUrl=pool["url"],
        Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate([valid[0], poison, valid[1], valid[2]])],
    )

    def applied() -> list[int] | None:  # the valid ones may arrive in more than one batch
        doc = read_document(target, user)
        ns = [e["body"]["n"] for e in doc["entries"]] if doc else []
        return ns if len(ns) >= 3 else None

    assert wait_for(applied, timeout=90) == [1, 2, 3]
    moved = wait_for(lambda: dead_letters(target, pool["dlq_url"], user), timeout=dead_letter_wait(target, pool["url"]))
    assert moved == [poison]
    assert [e["body"]["n"] for e in (read_document(target, user) or {})["entries"]] == [1, 2, 3]


def test_sticky_a_user_idle_past_its_lease_keeps_its_document_in_ingest_order(target):
    """The lease ran out and TTL deleted the assignment; the user's next messages (and a resend
    of an old one) still land after the old ones, each once."""
    user = f"idle-{uuid.uuid4().hex[:6]}"
    ingest(target, [message(user, n) for n in range(3)])
    assert wait_for(lambda: entries_once(target, user, 3), timeout=90, interval=1)
    end_lease(target, user)
    ingest(target, [message(user, 3), message(user, 4), message(user, 1, body="resent")])
    entries = wait_for(lambda: entries_once(target, user, 5), timeout=90, interval=1)
    assert entries, f"the new messages never reached the document: {read_document(target, user)}"
    assert [e["message_id"] for e in entries] == [f"{user}-{n}" for n in range(5)]
    assert [e["body"] for e in entries] == [{"n": n} for n in range(5)]  # the resend was applied once, first
    assert [e["seq"] for e in entries] == sorted({e["seq"] for e in entries})


def test_sticky_a_repaired_document_takes_its_redriven_dead_letters_in_order_after_its_lease_ran_out(target):
    """An unreadable document sends its user's messages to the DLQ. The operator restores the
    document: the next message applies without any process restart. After the lease ran out,
    the redriven dead letters (seqs of the old lease) still sort before the newer message."""
    s3, sqs = target.client("s3"), target.client("sqs")
    bucket, user = target.outputs["document_bucket"], f"repair-{uuid.uuid4().hex[:6]}"
    key = f"users/{user}.json"
    queue_url = ingest(target, [message(user, 0)])["queues"][user]
    assert wait_for(lambda: entries_once(target, user, 1), timeout=90, interval=1)
    good = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=good[: len(good) // 2])  # a half-written document
    ingest(target, [message(user, 1), message(user, 2)])
    (pool,) = [q for q in target.outputs["sticky_queue"]["pool_queues"].values() if q["url"] == queue_url]

    def dead_lettered() -> bool:
        got = sqs.receive_message(QueueUrl=pool["dlq_url"], MaxNumberOfMessages=10, VisibilityTimeout=0)
        return {f"{user}-1", f"{user}-2"} <= {json.loads(m["Body"]).get("message_id") for m in got.get("Messages", [])}

    assert wait_for(dead_lettered, timeout=dead_letter_wait(target, queue_url), interval=3)
    s3.put_object(Bucket=bucket, Key=key, Body=good)  # the operator restores the last good version
    end_lease(target, user)
    ingest(target, [message(user, 3)])
    entries = wait_for(lambda: entries_once(target, user, 2), timeout=90, interval=1)
    assert entries and [e["message_id"] for e in entries] == [f"{user}-0", f"{user}-3"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=pool["dlq_url"], AttributeNames=["QueueArn"])["Attributes"]
    sqs.start_message_move_task(SourceArn=dlq_arn["QueueArn"])
    entries = wait_for(lambda: entries_once(target, user, 4), timeout=120, interval=1)
    assert entries, f"the redriven messages never reached the document: {read_document(target, user)}"
    assert [e["message_id"] for e in entries] == [f"{user}-{n}" for n in range(4)]


def store_messages(target: targets.Target) -> list[dict]:
    got = target.client("sqs").receive_message(
        QueueUrl=target.outputs["sticky_queue"]["url_store_queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1
    )
    return got.get("Messages", [])


def test_sticky_new_users_reach_every_pool_queue_after_the_url_store_lost_or_duplicated_messages(target):
    """SQS drops a store message not received within the store's retention, and a taker that
    dies between putting back and deleting leaves a duplicate: either way, one request of new
    users still reaches every pool queue, and the store heals to one message."""
    sticky, sqs = target.outputs["sticky_queue"], target.client("sqs")
    store, pool = sticky["url_store_queue_url"], {q["url"] for q in sticky["pool_queues"].values()}
    run = uuid.uuid4().hex[:6]
    ingest(target, [message(f"seed-{run}", 0)])  # the store holds what the rotation needs
    held = store_messages(target)
    if held:  # one expires: gone, as after the store's retention
        sqs.delete_message(QueueUrl=store, ReceiptHandle=held[0]["ReceiptHandle"])
    for m in held[1:]:
        sqs.change_message_visibility(QueueUrl=store, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    queues = ingest(target, [message(f"new-{run}-{i:02d}", 0) for i in range(20)])["queues"]
    assert set(queues.values()) == pool
    (kept,) = wait_for(lambda: store_messages(target) or None, timeout=10)[:1]
    sqs.send_message(QueueUrl=store, MessageBody=kept["Body"])  # the duplicate
    sqs.change_message_visibility(QueueUrl=store, ReceiptHandle=kept["ReceiptHandle"], VisibilityTimeout=0)
    queues = ingest(target, [message(f"dup-{run}-{i:02d}", 0) for i in range(20)])["queues"]
    assert set(queues.values()) == pool
    assert wait_for(lambda: depth(target, store) == 1, timeout=30), f"the store holds {depth(target, store)} messages"


def test_sticky_fifo_accepts_and_applies_a_user_id_of_128_characters(target):
    """SQS caps MessageGroupId and MessageDeduplicationId at 128 characters; the model allows
    user ids that long."""
    fifo = target.outputs.get("fifo")
    if fifo is None:
        pytest.skip("this environment's pool queues are not FIFO")
    user = f"{'u' * 122}{uuid.uuid4().hex[:6]}"
    assert len(user) == 128
    messages = [{"user_id": user, "message_id": f"m{n}", "body": {"n": n}} for n in range(3)]
    queues = ingest(target, messages, sticky=fifo["sticky_queue"])["queues"]
    assert queues[user].endswith(".fifo")
    entries = wait_for(lambda: entries_once(target, user, 3, bucket=fifo["document_bucket"]), timeout=90, interval=1)
    assert entries and [e["message_id"] for e in entries] == ["m0", "m1", "m2"]


def history(target: targets.Target, user: str) -> list[tuple[int, str]]:
    """(seq, message_id) of every entry of the user's history, head and segments, in order."""
    return [(e.seq, e.message_id) for e in read_history(target.client("s3"), target.outputs["document_bucket"], user)]


def test_sticky_a_long_history_rolls_over_into_segments_read_back_in_order_each_message_once(target):
    """Bodies of 15 KB make the head pass 128 KiB every few batches: the history is sealed into
    segments under the dispatcher's own role, read back whole and in order, and a resend of
    a message the head holds is not appended again."""
    user = f"history-{uuid.uuid4().hex[:6]}"
    sent = []
    for call in range(3):
        batch = [message(user, n, {"n": n, "pad": "x" * 15_000}) for n in range(call * 10, call * 10 + 10)]
        ingest(target, batch)
        sent += [m["message_id"] for m in batch]
    assert wait_for(lambda: len(history(target, user)) >= len(sent), timeout=240, interval=2), history(target, user)
    seen = history(target, user)
    assert [m for _, m in seen] == sent and [s for s, _ in seen] == sorted({s for s, _ in seen})
    s3, bucket = target.client("s3"), target.outputs["document_bucket"]
    head = read_document(target, user) or {}
    stored = s3.list_objects_v2(Bucket=bucket, Prefix=segment_prefix(user)).get("KeyCount", 0)
    assert head["sealed_through"] > 0 and stored >= head["segments"] >= 1, (stored, head["segments"])
    resent = [e["message_id"] for e in head["entries"]][:2]
    assert resent, head
    ingest(target, [message(user, int(m.rsplit("-", 1)[1]), {"resent": True}) for m in resent] + [message(user, 99)])
    assert wait_for(lambda: len(history(target, user)) > len(sent), timeout=240, interval=2)
    time.sleep(3)  # a duplicate applied late would show now
    assert [m for _, m in history(target, user)] == [*sent, f"{user}-99"]


# --- pattern 1: resizing the pool while users send --------------------------------------------


def queue_index(url: str) -> int:
    """Pool queue ``…-sticky-pool-<i:02d>[.fifo]``'s index."""
    return int(url.removesuffix(".fifo").rsplit("-", 1)[1])


def queue_holds(target: targets.Target, url: str) -> int:
    """Messages on the queue: waiting, in flight or delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attrs = target.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attrs[name]) for name in names)


class Traffic:
    """Senders ingesting one message per user per round until stopped. Each user belongs to one
    sender, so its messages are ingested in the order of their ``n``. A call that fails is sent
    again as it was (a client's retry: same message ids). Each call's queues are recorded with
    the phase that was current when the call was sent."""

    def __init__(self, target: targets.Target, users: list[str], senders: int, every: float) -> None:
        self.target, self.users, self.every = target, users, every
        self.phase = "before"
        self.routes: dict[str, list[tuple[str, int]]] = {u: [] for u in users}  # (phase, queue index) per call
        self.retries = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send, args=(users[i::senders],)) for i in range(senders)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def sent(self, user: str) -> int:
        with self._lock:
            return len(self.routes[user])

    def rounds_in(self, phase: str) -> int:
        with self._lock:
            return min(sum(1 for p, _ in self.routes[u] if p == phase) for u in self.users)

    def _send(self, users: list[str]) -> None:
        function = self.target.outputs["sticky_queue"]["ingester_function_name"]
        try:
            n = 0
            while not self._stop.is_set():
                phase, payload = self.phase, {"messages": [message(u, n) for u in users]}
                for attempt in range(8):
                    result = self.target.invoke(function, payload)
                    if result.ok:
                        break
                    with self._lock:
                        self.retries += 1
                    time.sleep(1 + attempt)
                assert result.ok, f"round {n} of {users} failed 8 times: {result.error}"
                with self._lock:
                    for user, url in result.payload["queues"].items():
                        self.routes[user].append((phase, queue_index(url)))
                n += 1
                self._stop.wait(self.every)
        except BaseException as exc:
            self.errors.append(exc)


def test_sticky_resizing_the_pool_mid_traffic_moves_users_off_removed_queues_each_message_once_in_order(target):
    """The operator flow of docs/sticky.md (pool resize), each step a Terraform apply while
    users keep sending: shrink with the leaving queues kept (users on them move on their next
    ingest, keeping their seqs; their dispatchers drain what was sent before), remove the
    drained queues, grow back. Every message is applied once, each document stays in ingest
    order, nothing is dead-lettered."""
    if not target.applies:
        pytest.skip(f"the {target.name} target does not apply: {target.reapply.__doc__}")
    sticky = target.outputs["sticky_queue"]
    size = len(sticky["pool_queues"])
    assert size >= 2, "a pool of one queue cannot shrink"
    smaller = size // 2
    ingester_timeout = target.function_configuration(sticky["ingester_function_name"])["Timeout"]
    run = uuid.uuid4().hex[:6]
    users = [f"resize-{run}-{i:02d}" for i in range(6 * size)]
    leaving = {q["url"]: q["dlq_url"] for k, q in sticky["pool_queues"].items() if int(k) >= smaller}
    traffic = Traffic(target, users, senders=3, every=1.0)

    def next_phase(phase: str) -> None:
        time.sleep(ingester_timeout)  # ingests started under the old setting have sent by now
        traffic.phase = phase
        assert wait_for(lambda: traffic.rounds_in(phase) >= 2, timeout=120), f"traffic stalled in {phase}"

    try:
        with traffic:
            assert wait_for(lambda: traffic.rounds_in("before") >= 2, timeout=120), "traffic did not start"
            target.resize_pool(smaller, queues_kept=size)  # step 1: the pool shrinks, its queues stay
            assert len(target.outputs["sticky_queue"]["pool_queues"]) == size
            next_phase("shrunk")

            def drained() -> bool:
                return all(queue_holds(target, url) == 0 for url in leaving)

            assert wait_for(drained, timeout=180, interval=2), {url: queue_holds(target, url) for url in leaving}
            for dlq_url in leaving.values():
                assert dead_letters(target, dlq_url, run) == []
            target.resize_pool(smaller)  # step 2: the drained queues go
            assert sorted(target.outputs["sticky_queue"]["pool_queues"]) == [f"{i:02d}" for i in range(smaller)]
            next_phase("removed")
            target.resize_pool(size)  # grow back
            next_phase("grown")
        assert not traffic.errors, traffic.errors
    finally:
        if len(target.outputs["sticky_queue"]["pool_queues"]) != size:
            target.resize_pool(size)  # the other scenarios see the pool as deployed

    routes = traffic.routes
    moved = [u for u in users if any(p == "before" and q >= smaller for p, q in routes[u])]
    assert moved, "no user sat on a queue that left the pool"
    for user in users:
        for phase in ("shrunk", "removed"):
            queues = {q for p, q in routes[user] if p == phase}
            assert queues and max(queues) < smaller, f"{user} was routed to {queues} while the pool was {smaller}"

    def complete() -> bool:
        return all(entries_once(target, u, len(routes[u])) for u in users)

    assert wait_for(complete, timeout=300, interval=3), "not every message reached its document"
    table = sticky["assignment_table_name"]
    for user in users:
        entries = (read_document(target, user) or {})["entries"]
        phases = [p for p, _ in routes[user]]
        assert [e["message_id"] for e in entries] == [f"{user}-{n}" for n in range(len(phases))], user
        seqs = [e["seq"] for e in entries]
        assert seqs == sorted(set(seqs)), f"{user}'s seqs went back or repeated: {seqs}"
        item = target.client("dynamodb").get_item(TableName=table, Key={"user_id": {"S": user}}, ConsistentRead=True)
        assert int(item["Item"]["seq"]["N"]) >= seqs[-1]  # the assignment carries on above every seq given out
        if user in moved:  # the seqs after the move carry on above the ones before it
            before = [seq for seq, phase in zip(seqs, phases, strict=True) if phase == "before"]
            assert max(before) < min(seqs[len(before) :]), user
    for queue in target.outputs["sticky_queue"]["pool_queues"].values():
        assert dead_letters(target, queue["dlq_url"], run) == []
    print(
        f"\npool resize: {len(users)} users ({len(moved)} on leaving queues), "
        f"{sum(map(len, routes.values()))} messages, {traffic.retries} retried calls"
    )


# --- pattern 2: cron fan-out ---------------------------------------------------------------


def test_fanout_schedule_stores_every_item_once_and_dead_letters_a_malformed_one(target):
    out = target.outputs["cron_fanout"]
    url, table, sqs = out["work_queue"]["url"], out["items_table_name"], target.client("sqs")
    run = uuid.uuid4().hex[:6]
    keys = [f"{run}-{n}" for n in range(200)]
    for start in range(0, len(keys), 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"key": k, "data": {"n": start + i}})}
                for i, k in enumerate(keys[start : start + 10])
            ],
        )
    malformed = json.dumps({"key": "", "data": f"not an object {run}"})
    sqs.send_message(QueueUrl=url, MessageBody=malformed)

    (tick,) = target.fire_schedule(out["schedule_rule_name"], sync=True)
    assert tick.ok, tick.error  # (the schedule's own clock may have fired a tick too: items are keyed)

    def stored() -> list[dict] | None:
        items = scan(target.client("dynamodb"), table, "key", f"{run}-")
        return items if len(items) >= len(keys) else None

    items = wait_for(stored, timeout=240, interval=2)
    assert items is not None, "not every item was stored"
    assert sorted(i["key"]["S"] for i in items) == sorted(keys)  # each exactly once

    def moved() -> list[str]:
        target.fire_schedule(out["schedule_rule_name"])
        return dead_letters(target, out["work_queue"]["dlq_url"], run)

    worker = out["worker_function_name"]
    assert wait_for(moved, timeout=dead_letter_wait(target, url), interval=5) == [malformed]
    assert wait_for(lambda: [x for x in target.logs(worker) if "invalid work item left for its DLQ" in x], timeout=30)


# --- pattern 3: relay consumer -------------------------------------------------------------


def test_relay_processes_each_object_once_in_one_chain(target):
    out = target.outputs["relay_consumer"]
    bucket, prefix = out["inbox_bucket"], f"e2e-{uuid.uuid4().hex[:6]}/"
    keys = [f"{prefix}object {n:03d}.txt" for n in range(100)]
    s3 = target.client("s3")
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    target.fire_schedule(out["schedule_rule_name"])  # as EventBridge: asynchronously

    def processed() -> list[dict] | None:
        items = scan(target.client("dynamodb"), out["results_table_name"], "object_id", f"{bucket}/{prefix}")
        return items if len(items) >= len(keys) else None

    items = wait_for(processed, timeout=300, interval=2)
    assert items is not None, "not every object was processed"
    documents = [json.loads(i["document"]["S"]) for i in items]
    assert sorted(d["key"] for d in documents) == sorted(keys)  # URL-decoded keys, each once
    leases = target.client("dynamodb")
    assert wait_for(lambda: not leases.scan(TableName=out["lease_table_name"])["Items"], timeout=90)
    assert dead_letters(target, out["relay_queue"]["dlq_url"], prefix.rstrip("/")) == []


def test_only_the_relay_function_allows_recursive_loops(target):
    """The relay's chain of self-invocations runs past Lambda's 16-invocation loop detection:
    its recursion config is Allow; the other functions keep AWS's default, Terminate."""
    lam = target.client("lambda")
    relay = target.outputs["relay_consumer"]["function_name"]
    assert lam.get_function_recursion_config(FunctionName=relay)["RecursiveLoop"] == "Allow"
    other = target.outputs["sticky_queue"]["ingester_function_name"]
    assert lam.get_function_recursion_config(FunctionName=other)["RecursiveLoop"] == "Terminate"


# --- pattern 4: SNS workflow ---------------------------------------------------------------


def workflow_results(target: targets.Target, request_ids: set[str]) -> dict[tuple[str, str], tuple]:
    sqs, url, found = target.client("sqs"), target.outputs["sns_workflow"]["results_queue"]["url"], {}
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages"):
        for m in got:
            result = ServiceResult.model_validate_json(large_payload.resolve(m["Body"], target.client("s3")))
            if result.request_id in request_ids:
                found[(result.request_id, result.service)] = (result, m["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return found


def read_stage(target: targets.Target, request_id: str, stage: str) -> dict | None:
    s3 = target.client("s3")
    try:
        key = f"requests/{request_id}/{stage}.json"
        body = s3.get_object(Bucket=target.outputs["sns_workflow"]["document_bucket"], Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def test_workflow_request_reaches_the_results_queue_with_a_large_payload(target):
    out = target.outputs["sns_workflow"]
    document = {"title": "e2e", "blob": "z" * 400_000}
    started = target.invoke(out["preprocessor_function_name"], {"document": document})
    assert started.ok, started.error
    request_id = started.payload["request_id"]
    assert wait_for(lambda: read_stage(target, request_id, "summarize"), timeout=120), "the workflow did not finish"
    results: dict = {}
    wait_for(lambda: results.update(workflow_results(target, {request_id})) or len(results) == 2, timeout=60)
    (enriched, enriched_body), (summary, _) = results[(request_id, "enrich")], results[(request_id, "summarize")]
    assert large_payload.pointer(enriched_body) is not None  # > 256 KiB: sent as an S3 pointer...
    assert enriched.document["blob"] == document["blob"]  # ...and arrived whole
    assert summary.document == read_stage(target, request_id, "summarize")


def test_workflow_starts_mid_way_from_a_connector_message(target):
    out = target.outputs["sns_workflow"]
    request_id = str(uuid.uuid4())
    target.client("s3").put_object(
        Bucket=out["document_bucket"], Key=f"requests/{request_id}/enrich.json", Body=json.dumps({"from": "operator"})
    )
    target.client("sns").publish(
        TopicArn=out["connector_topic_arn"],
        Message=json.dumps({"request_id": request_id, "source": "operator"}),
        MessageAttributes={"service": {"DataType": "String", "StringValue": "summarize"}},
    )
    summary = wait_for(lambda: read_stage(target, request_id, "summarize"), timeout=90)
    assert summary and summary["field_count"] == 1
    assert read_stage(target, request_id, "preprocessor") is None


def test_workflow_invalid_connector_message_reaches_the_service_dlq(target):
    out = target.outputs["sns_workflow"]
    marker = f"not-a-uuid-{uuid.uuid4().hex[:6]}"
    target.client("sns").publish(
        TopicArn=out["connector_topic_arn"],
        Message=json.dumps({"request_id": marker}),
        MessageAttributes={"service": {"DataType": "String", "StringValue": "enrich"}},
    )
    queue = out["service_queues"]["enrich"]
    moved = wait_for(
        lambda: dead_letters(target, queue["dlq_url"], marker), timeout=dead_letter_wait(target, queue["url"])
    )
    assert moved and json.loads(json.loads(moved[0])["Message"])["request_id"] == marker
