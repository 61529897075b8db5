"""`make bench`: AWS requests and cost per message for each pattern, ours vs the seeds, on the embedded stack.

Not a test: it measures. Five runs of every workload on one stack; writes the median and the
spread (min-max) with the commit measured to bench/results.json, results.md and
requests_per_message.svg (embedded in the README); then one sticky user's history grown to
100,000 entries (bench/history.py); then per handler the zip size, the instructions and the
wall time of a cold import under Python 3.12 (bench/packages.py).

* Ours: the deployed functions run by the local runner; each invocation reports the AWS
  calls its own botocore made (local/calls.py via the worker bootstrap); the runner's pollers
  count the SQS requests they make for each event source mapping; each function's log file
  gives its billed durations (platform.report lines) and the bytes it logged.
* Seeds: bench/seeds.py, run in this process on the same emulator and workload, counted the
  same way; ``poll_as_lambda`` is their event source mapping and counts its requests;
  their stdout and logging are captured per invocation.
* Cost: every request, Lambda GB-second, log byte and trace priced at bench/prices.json
  (``cost``); what is in and out of the model is in docs/costs.md.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3

from bench import history, packages, seeds
from local import stack as harness
from local.calls import CallCounter
from local.emulator import ACCOUNT_ID, sns_lambda_event
from local.runner.schedules import Schedule, scheduled_event
from local.runner.sqs_pollers import sqs_event_record
from local.runner.worker import utc_now
from local.tables import scan
from shared.history import read_history

OUT = Path(__file__).resolve().parent
RUNS = int(os.environ.get("BENCH_RUNS", "5"))  # 5 for the committed results
USERS, PER_USER, FANOUT_ITEMS, RELAY_OBJECTS, WORKFLOW_REQUESTS = 5, 6, 200, 100, 20
BATCH_USERS, BATCH_PER_USER, BATCH_CALLS = 10, 5, 2  # 2 calls of 50 messages, 10 users each
SPREAD_USERS, SPREAD_ROUNDS = 20, 2  # one message per user per round; a round is dispatched before the next
RATE_USERS, RATE_CALLS, RATE_PER_USER = 40, 10, 10  # 10 calls of 400 messages, sent back to back
DISPATCHER_CONCURRENCY = 2  # sticky.dispatcher_concurrency (terraform/variables.tf)
SEED_MEMORY_MB = 128  # the seeds' functions at Lambda's default memory
GB = 1024**3  # CloudWatch Logs bills ingestion per GB
PRICES = json.loads((OUT / "prices.json").read_text())
DEVIATIONS = [
    "Seeds run in the bench's process on the same emulator (not deployed); their clients honour AWS_ENDPOINT_URL. "
    "Their Lambda duration is the wall time of each handler call, billed at 128 MB.",
    "Sticky seed: its dispatcher reads only Records[0], so it is drained with batch size 1 (a larger batch would lose "
    "messages); like ours it drains during ingest (one poll per pool queue after each ingest call), then the rest. "
    "The batched workload has no seed (the seed ingester takes one message per call); the FIFO workload has none "
    "either (the seed's pool queues are standard).",
    "Relay seed: the JavaScript post ported to Python; receive WaitTimeSeconds 1 (the post's 0 is a short poll); its "
    "self-invocation is counted as a lambda:Invoke and a Lambda request instead of being sent.",
    "Workflow seed: its requests come at the pace ours came, and its service queues are polled meanwhile with"
    " the batch size and batching window of ours (each step a short receive; ours: the runner's 1 s long polls).",
    "Event-source polling is counted for both sides: every ReceiveMessage that returned messages and every "
    "DeleteMessageBatch of the successful receipts (ours: the runner's pollers, per mapping; seeds: poll_as_lambda, "
    "a short poll per call). Empty receives made during the run are listed (empty polls) but not priced per "
    "message: on AWS they are a fixed cost per mapping and hour, whatever the traffic (docs/costs.md), and here "
    "their number depends on the run's wall time (ours: 1 s long polls; seeds: one poll per pool queue after "
    "each ingest call).",
    "Logs: ours are the bytes of the lines in each function's log file (what the function wrote, and the runner's "
    "platform.report) plus one platform.start line per invocation, which the runner does not write; seeds: their "
    "captured stdout and logging (the Python runtime's text format) plus Lambda's START/END/REPORT lines per "
    "invocation. Init lines of cold starts are left out on both sides.",
    "X-Ray: every invocation priced as one recorded trace on both sides (an upper bound: the default sampling "
    "rule records 1 request per second and 5% of the rest); retrieval and scanning are not priced.",
]
counter = CallCounter()


def wait(predicate, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.5)
    if not predicate():
        raise TimeoutError("workload did not complete")


# --- what ours used: AWS calls, polling, invocations, durations and log bytes ------------------


def log_usage(data: bytes) -> dict[str, Any]:
    """What a function's log (the runner's log file, from a mark on) says it used: the billed
    milliseconds of each invocation (its ``platform.report`` lines, Lambda's JSON log format) and
    the bytes and lines it logged (CloudWatch Logs ingestion; the runner's own start markers left
    out). Only whole lines are read."""
    billed: list[int] = []
    size = lines = 0
    for raw in data[: data.rfind(b"\n") + 1].splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        kind = line.get("type") if isinstance(line, dict) else None
        if kind == "local.runner.start":
            continue
        size, lines = size + len(raw), lines + 1
        if kind == "platform.report":
            metrics = line["record"]["metrics"]  # type: ignore[index]
            billed.append(int(metrics.get("billedDurationMs") or math.ceil(metrics["durationMs"])))
    return {"billed_ms": billed, "log_bytes": size, "log_lines": lines}


def platform_start_bytes() -> int:
    """A platform.start line, which Lambda writes before each invocation and the runner does not."""
    record = {"requestId": str(uuid.uuid4()), "version": "$LATEST"}
    return len(json.dumps({"time": utc_now(), "type": "platform.start", "record": record}))


def reset(stack: harness.Stack) -> dict[str, Any]:
    marks: dict[str, Any] = {"pools": {}, "polls": {}}
    for name, pool in stack.runner.pools.items():
        pool.calls.clear()
        pool.s3_put_bytes = pool.sqs_fifo_calls = 0
        marks["pools"][name] = (pool.invocations, pool.log_file.stat().st_size if pool.log_file.exists() else 0)
    with stack.runner.sqs.lock:
        marks["polls"] = {uuid_: Counter(c) for uuid_, c in stack.runner.poll_calls.items()}
    return marks


def ours(stack: harness.Stack, functions: list[str], marks: dict[str, Any]) -> dict:
    time.sleep(3)  # the last invocations report their calls when they return
    calls: Counter[str] = Counter()
    put_bytes, invocations, gb_seconds, log_bytes, fifo = 0, 0, 0.0, 0, 0
    for name in functions:
        pool = stack.runner.pools[name]
        calls.update(pool.calls)
        put_bytes += pool.s3_put_bytes
        fifo += pool.sqs_fifo_calls
        n = pool.invocations - marks["pools"][name][0]
        invocations += n
        with open(pool.log_file, "rb") as log:
            log.seek(marks["pools"][name][1])
            usage = log_usage(log.read())
        gb_seconds += sum(usage["billed_ms"]) / 1000 * stack.runner.functions[name].memory / 1024
        log_bytes += usage["log_bytes"] + n * platform_start_bytes()
    polling: Counter[str] = Counter()
    for mapping in stack.runner.mappings:
        if mapping.function not in functions:
            continue
        with stack.runner.sqs.lock:
            made = Counter(stack.runner.poll_calls.get(mapping.uuid, {}))
        made.subtract(marks["polls"].get(mapping.uuid, Counter()))
        polling.update(made)
        if mapping.queue_url.endswith(".fifo"):
            fifo += made["sqs:ReceiveMessage"] + made["sqs:DeleteMessageBatch"]
    return {
        "calls": calls,
        "polling": Counter(
            {
                "sqs:ReceiveMessage": polling["sqs:ReceiveMessage"],
                "sqs:DeleteMessageBatch": polling["sqs:DeleteMessageBatch"],
            }
        ),
        "empty_polls": polling["sqs:ReceiveMessage:empty"],
        "sqs_fifo_requests": fifo,
        "s3_put_bytes": put_bytes,
        "invocations": invocations,
        "gb_seconds": gb_seconds,
        "log_bytes": log_bytes,
    }


class _LambdaTextFormat(logging.Formatter):
    """The Python runtime's text log format: ``[LEVEL]\ttimestamp\trequest id\tmessage``."""

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def format(self, record: logging.LogRecord) -> str:
        return f"[{record.levelname}]\t{utc_now()}\t{self.request_id}\t{record.getMessage()}"


def text_platform_bytes(request_id: str, ms: float, billed_ms: int, memory: int) -> int:
    """Lambda's START, END and REPORT lines of one invocation in the text log format."""
    return sum(
        len(line)
        for line in (
            f"START RequestId: {request_id} Version: $LATEST",
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms\tBilled Duration: {billed_ms} ms\t"
            f"Memory Size: {memory} MB\tMax Memory Used: {memory // 2} MB\t",
        )
    )


class SeedLambda:
    """A seed function's invocations, billed duration (wall time of the handler call), log bytes
    (its stdout and logging, captured, plus Lambda's platform lines) and the requests of its
    event source mapping (``poll_as_lambda``)."""

    def __init__(self) -> None:
        self.invocations, self.gb_seconds, self.log_bytes, self.empty_polls = 0, 0.0, 0, 0
        self.polling: Counter[str] = Counter()

    def __call__(self, handler: Any, *args: Any) -> Any:
        request_id, out = str(uuid.uuid4()), io.StringIO()
        capture = logging.StreamHandler(out)
        capture.setFormatter(_LambdaTextFormat(request_id))
        seeds.log.addHandler(capture)
        started = time.perf_counter()
        try:
            with redirect_stdout(out):
                return handler(*args)
        finally:
            ms = (time.perf_counter() - started) * 1000
            seeds.log.removeHandler(capture)
            billed = max(1, math.ceil(ms))
            self.invocations += 1
            self.gb_seconds += billed / 1000 * SEED_MEMORY_MB / 1024
            logged = [line for line in out.getvalue().splitlines() if line.strip()]
            self.log_bytes += sum(len(line.encode()) for line in logged)
            self.log_bytes += text_platform_bytes(request_id, ms, billed, SEED_MEMORY_MB)

    def used(self) -> dict:
        got = counter.take()
        return {
            "calls": Counter(got["calls"]),
            "polling": self.polling,
            "empty_polls": self.empty_polls,
            "sqs_fifo_requests": got["sqs_fifo_calls"],
            "s3_put_bytes": got["s3_put_bytes"],
            "invocations": self.invocations,
            "gb_seconds": self.gb_seconds,
            "log_bytes": self.log_bytes,
        }


def cost(used: dict, batch_items: int) -> dict[str, float]:
    """USD for what one run used, by service, at the list prices in prices.json."""
    calls: Counter = used["calls"] + used["polling"]
    by_service: Counter = Counter()
    for op, n in calls.items():
        by_service[op.split(":")[0]] += n
    write_units = sum(
        n for op, n in calls.items() if op in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
    )
    write_units += batch_items  # BatchWriteItem: one write unit per item (items < 1 KB)
    read_units = sum(n for op, n in calls.items() if op in ("dynamodb:GetItem",))
    s3_writes = sum(n for op, n in calls.items() if op in ("s3:PutObject", "s3:CopyObject", "s3:ListObjectsV2"))
    s3_reads = sum(n for op, n in calls.items() if op in ("s3:GetObject", "s3:HeadObject"))
    sqs_fifo = used["sqs_fifo_requests"]
    p = PRICES
    return {
        "lambda": used["invocations"] * p["lambda_per_million_requests"] / 1e6
        + used["gb_seconds"] * p["lambda_per_gb_second_x86"],
        "sqs": (by_service["sqs"] - sqs_fifo) * p["sqs_standard_per_million_requests"] / 1e6
        + sqs_fifo * p["sqs_fifo_per_million_requests"] / 1e6,
        "sns": by_service["sns"] * p["sns_standard_per_million_publish_requests"] / 1e6,
        "dynamodb": write_units * p["dynamodb_on_demand_per_million_write_units"] / 1e6
        + read_units * p["dynamodb_on_demand_per_million_read_units"] / 1e6,
        "s3": s3_writes * p["s3_standard_per_thousand_put_copy_post_list"] / 1e3
        + s3_reads * p["s3_standard_per_thousand_get_select"] / 1e3,
        "logs": used["log_bytes"] / GB * p["cloudwatch_logs_standard_per_gb_ingested"],
        "xray": used["invocations"] * p["xray_per_million_traces_recorded"] / 1e6,  # one trace per invocation
    }


COST_COLUMNS = {"lambda": "Lambda", "sqs": "SQS", "sns": "SNS", "dynamodb": "DynamoDB", "s3": "S3"}
COST_COLUMNS |= {"logs": "CloudWatch Logs", "xray": "X-Ray"}


def row(pattern: str, impl: str, used: dict, messages: int, batch_items: int = 0, bytes_: bool = False) -> dict:
    calls, polling = used["calls"], used["polling"]
    usd = cost(used, batch_items)
    requests = sum(calls.values()) + sum(polling.values())
    return {
        "pattern": pattern,
        "implementation": impl,
        "messages": messages,
        "requests": requests,
        "requests_per_message": round(requests / messages, 3),
        "polling_requests_per_message": round(sum(polling.values()) / messages, 3),
        "empty_polls": used["empty_polls"],
        "sqs_fifo_requests": used["sqs_fifo_requests"],
        "s3_bytes_written_per_message": round(used["s3_put_bytes"] / messages) if bytes_ else None,
        "lambda_invocations": used["invocations"],
        "lambda_gb_seconds": round(used["gb_seconds"], 3),
        "log_bytes_per_message": round(used["log_bytes"] / messages),
        "usd_per_million_messages": {k: round(v / messages * 1e6, 3) for k, v in usd.items()},
        "usd_per_million_messages_total": round(sum(usd.values()) / messages * 1e6, 3),
        "by_operation": dict(sorted(calls.items())),
        "polling_by_operation": dict(sorted((k, v) for k, v in polling.items() if v)),
    }


def poll_as_lambda(url: str, handler: Any, batch_size: int, seed: SeedLambda) -> int:
    """An event source mapping for a seed function: its requests are counted on ``seed`` (a
    receive that returned messages and the delete after it; an empty receive apart)."""
    counter.paused = True
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size, AttributeNames=["All"]).get("Messages", [])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]  # not AWS's
    counter.paused = False
    if not got:
        seed.empty_polls += 1
        return 0
    seed.polling["sqs:ReceiveMessage"] += 1
    seed(handler, {"Records": [sqs_event_record(m, arn, "us-east-1") for m in got]})
    counter.paused = True
    sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    )
    seed.polling["sqs:DeleteMessageBatch"] += 1
    counter.paused = False
    return len(got)


@dataclass
class SeedEventSource:
    """A seed function's SQS event source mapping, stepped from the bench's thread (the one whose
    requests are counted) with the settings of ours: a step receives what is there, and the
    gathered batch is invoked once it is full or its batching window has passed, as Lambda's
    poller does. Requests are counted on ``seed`` like ``poll_as_lambda``'s."""

    url: str
    handler: Any
    seed: SeedLambda
    batch_size: int
    window: float
    buffer: list = field(default_factory=list)
    first_at: float = 0.0

    def step(self, sqs: Any) -> None:
        counter.paused = True
        got = sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=min(10, self.batch_size - len(self.buffer)), AttributeNames=["All"]
        ).get("Messages", [])
        counter.paused = False
        if not got:
            self.seed.empty_polls += 1
        else:
            self.seed.polling["sqs:ReceiveMessage"] += 1
            self.first_at = self.first_at if self.buffer else time.monotonic()
            self.buffer.extend(got)
        if self.buffer and (len(self.buffer) >= self.batch_size or time.monotonic() - self.first_at >= self.window):
            self.invoke(sqs)

    def invoke(self, sqs: Any) -> None:
        counter.paused = True
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        counter.paused = False
        batch, self.buffer = self.buffer, []
        self.seed(self.handler, {"Records": [sqs_event_record(m, arn, "us-east-1") for m in batch]})
        counter.paused = True
        for start in range(0, len(batch), 10):
            chunk = batch[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)
            self.seed.polling["sqs:DeleteMessageBatch"] += 1
        counter.paused = False

    def idle(self, sqs: Any) -> bool:
        counter.paused = True
        attrs = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        counter.paused = False
        return not self.buffer and attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


def sns_event(topic_arn: str, message: str) -> dict:
    """The event SNS hands a Lambda subscriber (the emulator's), with a signature of AWS's length."""
    subscription = SimpleNamespace(arn=f"{topic_arn}:{uuid.uuid4()}", topic=SimpleNamespace(arn=topic_arn))
    event = sns_lambda_event(subscription, message, str(uuid.uuid4()), None, None)
    event["Records"][0]["Sns"]["Signature"] = "x" * 344
    return event


def create_queue(name: str) -> str:
    return boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]


def create_table(name: str, key: str) -> None:
    ddb = boto3.client("dynamodb")
    if name not in ddb.list_tables()["TableNames"]:
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


# --- pattern 1 ----------------------------------------------------------------------------


def _documents_complete(stack: harness.Stack, users: list[str], per_user: int) -> bool:
    bucket, s3 = stack.outputs["document_bucket"], stack.client("s3")
    return all(sum(1 for _ in read_history(s3, bucket, u)) == per_user for u in users)


def _ingest_one_per_call(stack: harness.Stack, users: list[str], rounds: range, wait_each_round: bool) -> None:
    """Each user sends one message per ingest call, round after round; with ``wait_each_round`` a
    round is applied before the next is sent, so no dispatcher batch holds two messages of one user."""
    out, lam = stack.outputs["sticky_queue"], stack.client("lambda")
    for i in rounds:
        for user in users:
            payload = {"user_id": user, "body": {"n": i, "text": "x" * 200}}
            lam.invoke(FunctionName=out["ingester_function_name"], Payload=json.dumps(payload))
        if wait_each_round:
            wait(lambda i=i: _documents_complete(stack, users, i + 1))
    wait(lambda: _documents_complete(stack, users, len(rounds)))


def _ingest_batched(stack: harness.Stack, users: list[str], calls: int, per_user: int) -> None:
    """``calls`` ingest calls sent back to back, each with ``per_user`` messages of every user; then
    wait until every user's history holds them all."""
    function = stack.outputs["sticky_queue"]["ingester_function_name"]
    for c in range(calls):
        messages = [
            {"user_id": user, "body": {"n": c * per_user + i, "text": "x" * 200}}
            for i in range(per_user)
            for user in users
        ]
        stack.client("lambda").invoke(FunctionName=function, Payload=json.dumps({"messages": messages}))
    wait(lambda: _documents_complete(stack, users, calls * per_user), timeout=900)


def sticky_ours(stack: harness.Stack, run: int, fifo: bool) -> list[dict]:
    out = stack.outputs["sticky_queue"]
    names = [out["ingester_function_name"], *out["dispatcher_function_names"].values()]
    kind = " (FIFO pool queues)" if fifo else ""
    tag = "fifo-" if fifo else ""
    users = [f"{tag}one-r{run}-{u}" for u in range(USERS)]
    marks = reset(stack)
    _ingest_one_per_call(stack, users, range(PER_USER), wait_each_round=False)
    results = [
        row(
            f"1 sticky queues{kind}, 1 message per call",
            "ours",
            ours(stack, names, marks),
            USERS * PER_USER,
            bytes_=True,
        )
    ]
    if fifo:
        return results

    # batched multi-user calls: BATCH_CALLS calls of BATCH_USERS x BATCH_PER_USER messages
    users = [f"many-r{run}-{u}" for u in range(BATCH_USERS)]
    marks = reset(stack)
    _ingest_batched(stack, users, BATCH_CALLS, BATCH_PER_USER)
    m = BATCH_CALLS * BATCH_USERS * BATCH_PER_USER
    results.append(row("1b sticky queues, batched calls", "ours", ours(stack, names, marks), m, bytes_=True))

    # where batching cannot help: many users, one message each per call and per dispatcher batch
    users = [f"spread-r{run}-{u}" for u in range(SPREAD_USERS)]
    marks = reset(stack)
    _ingest_one_per_call(stack, users, range(SPREAD_ROUNDS), wait_each_round=True)
    m = SPREAD_USERS * SPREAD_ROUNDS
    results.append(
        row("1c sticky queues, 1 message per user per batch", "ours", ours(stack, names, marks), m, bytes_=True)
    )
    return results


def sticky_seed(run: int) -> list[dict]:
    """The seed on the same two one-message-per-call workloads: its own table, URL store and
    4 trigger queues on the same emulator (one set per run and workload)."""
    create_table("seed-recent-user-queue", "userId")
    results = []
    for pattern, tag, users, rounds, drain_each_round in (
        ("1 sticky queues, 1 message per call", "one", USERS, PER_USER, False),
        ("1c sticky queues, 1 message per user per batch", "spread", SPREAD_USERS, SPREAD_ROUNDS, True),
    ):
        boto3.client("s3").create_bucket(Bucket=f"seed-sticky-{tag}-{run}")
        pool = [create_queue(f"seed-sticky-{tag}-{run}-{i}") for i in range(4)]
        env = {
            "RECENT_USER_QUEUE_TABLE_NAME": "seed-recent-user-queue",
            "URL_STORE_QUEUE_URL": create_queue(f"seed-url-store-{tag}-{run}"),
            "PARALLELE_TRIGGER_QUEUE_URLS": ",".join(pool),
            "DATA_BUCKET_NAME": f"seed-sticky-{tag}-{run}",
        }
        seed = SeedLambda()
        counter.take()

        def dispatch(event: dict, env: dict = env) -> None:
            seeds.sticky_dispatcher(event, env)

        for i in range(rounds):
            for u in range(users):
                message = {"userId": f"seed-{tag}-r{run}-{u}", "message": {"n": i, "text": "x" * 200}}
                seed(seeds.sticky_ingester, message, env)
                for url in pool:  # drained during ingest, as ours is
                    poll_as_lambda(url, dispatch, 1, seed)
            if drain_each_round or i == rounds - 1:
                for url in pool:
                    while poll_as_lambda(url, dispatch, 1, seed):
                        pass
        results.append(row(pattern, "seed", seed.used(), users * rounds, bytes_=True))
    return results


def sticky_rate(stack: harness.Stack) -> dict:
    """The highest rate the embedded stack sustains: RATE_CALLS calls of RATE_USERS x RATE_PER_USER
    messages sent back to back, until every document is complete; and what the capacity model
    (docs/sticky.md) predicts for this pool from the dispatchers' measured batches."""
    out = stack.outputs["sticky_queue"]
    dispatchers = list(out["dispatcher_function_names"].values())
    users = [f"rate-{u}" for u in range(RATE_USERS)]
    marks = reset(stack)
    started = time.time()
    _ingest_batched(stack, users, RATE_CALLS, RATE_PER_USER)
    seconds = time.time() - started
    used = ours(stack, dispatchers, marks)
    messages_sent = RATE_USERS * RATE_CALLS * RATE_PER_USER
    busy = used["gb_seconds"] / (stack.runner.functions[dispatchers[0]].memory / 1024)
    per_invocation = busy / used["invocations"]
    records = messages_sent / used["invocations"]
    concurrency = DISPATCHER_CONCURRENCY
    return {
        "messages": messages_sent,
        "users": RATE_USERS,
        "seconds": round(seconds, 1),
        "messages_per_second": round(messages_sent / seconds, 1),
        "pool_size": len(dispatchers),
        "dispatcher_concurrency": concurrency,
        "dispatcher_invocations": used["invocations"],
        "records_per_invocation": round(records, 1),
        "seconds_per_invocation": round(per_invocation, 3),
        "model_messages_per_second": round(len(dispatchers) * concurrency * records / per_invocation, 1),
        "dispatcher_busy_share": round(busy / (seconds * len(dispatchers) * concurrency), 3),
    }


def sticky(stack: harness.Stack, run: int) -> list[dict]:
    return sticky_ours(stack, run, fifo=False) + sticky_ours(stack.view("fifo"), run, fifo=True) + sticky_seed(run)


# --- pattern 2 ----------------------------------------------------------------------------


def fanout(stack: harness.Stack, run: int) -> list[dict]:
    out = stack.outputs["cron_fanout"]
    sqs = stack.client("sqs")
    marks = reset(stack)
    for start in range(0, FANOUT_ITEMS, 10):
        sqs.send_message_batch(
            QueueUrl=out["work_queue"]["url"],
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"key": f"bench-r{run}-{start + i}", "data": {}})}
                for i in range(10)
            ],
        )

    def stored() -> bool:
        return len(scan(stack.client("dynamodb"), out["items_table_name"], "key", f"bench-r{run}-")) >= FANOUT_ITEMS

    for _ in range(10):  # the cron ticks again while work is left (the queue depth is approximate)
        stack.runner.fire(out["schedule_rule_name"], sync=True)
        try:
            wait(stored, timeout=20)
            break
        except TimeoutError:
            continue
    wait(stored, timeout=10)
    used = ours(stack, [out["counter_function_name"], out["worker_function_name"]], marks)
    results = [row("2 cron fan-out", "ours", used, FANOUT_ITEMS, batch_items=FANOUT_ITEMS)]

    create_queue(f"seed-fanout-test-{run}")
    create_table(f"seed-fanout-Test-{run}", "uuid")
    topic = boto3.client("sns").create_topic(Name="seed-fanout")["TopicArn"]
    url = boto3.client("sqs").get_queue_url(QueueName=f"seed-fanout-test-{run}")["QueueUrl"]
    for _ in range(0, FANOUT_ITEMS, 10):
        boto3.client("sqs").send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"key1": "v1", "key2": "v2", "key3": "v3"})} for i in range(10)
            ],
        )
    seed = SeedLambda()
    counter.take()
    tick = scheduled_event(Schedule("cron", f"arn:aws:events:us-east-1:{ACCOUNT_ID}:rule/cron", "", ""), "us-east-1")
    for _ in range(seed(seeds.fanout_cron, tick, f"seed-fanout-test-{run}", topic)):  # a worker per publish
        seed(seeds.fanout_sqs2ddb, sns_event(topic, "test"), f"seed-fanout-test-{run}", f"seed-fanout-Test-{run}")
    results.append(row("2 cron fan-out", "seed", seed.used(), FANOUT_ITEMS, batch_items=FANOUT_ITEMS))
    return results


# --- pattern 3 ----------------------------------------------------------------------------


def relay(stack: harness.Stack, run: int) -> list[dict]:
    out = stack.outputs["relay_consumer"]
    s3 = stack.client("s3")
    for i in range(RELAY_OBJECTS):
        s3.put_object(Bucket=out["inbox_bucket"], Key=f"bench-r{run}/{i}", Body=b"x" * 1000)
    marks = reset(stack)
    stack.runner.fire(out["schedule_rule_name"])
    prefix = f"{out['inbox_bucket']}/bench-r{run}/"
    wait(lambda: len(scan(stack.client("dynamodb"), out["results_table_name"], "object_id", prefix)) >= RELAY_OBJECTS)
    wait(lambda: not stack.client("dynamodb").scan(TableName=out["lease_table_name"])["Items"], timeout=60)
    used = ours(stack, [out["function_name"]], marks)
    results = [row("3 relay consumer", "ours", used, RELAY_OBJECTS, batch_items=RELAY_OBJECTS)]

    seed_url = create_queue(f"seed-relay-{run}")
    create_table("seed-relay-results", "object_id")
    for i in range(RELAY_OBJECTS):
        boto3.client("sqs").send_message(
            QueueUrl=seed_url,
            MessageBody=json.dumps(
                {"Records": [{"s3": {"bucket": {"name": out["inbox_bucket"]}, "object": {"key": f"bench-r{run}/{i}"}}}]}
            ),
        )

    def work(message: dict) -> None:  # the same work ours does per object: read it, record it
        ref = json.loads(message["Body"])["Records"][0]["s3"]
        body = boto3.client("s3").get_object(Bucket=ref["bucket"]["name"], Key=ref["object"]["key"])["Body"].read()
        boto3.client("dynamodb").put_item(
            TableName="seed-relay-results",
            Item={"object_id": {"S": ref["object"]["key"]}, "size": {"N": str(len(body))}},
        )

    seed = SeedLambda()
    counter.take()
    while seed(seeds.relay_hop, seed_url, work):
        counter.calls["lambda:Invoke"] += 1  # the seed invokes itself (InvocationType Event)
    results.append(row("3 relay consumer", "seed", seed.used(), RELAY_OBJECTS))
    return results


# --- pattern 4 ----------------------------------------------------------------------------


def workflow(stack: harness.Stack, run: int) -> list[dict]:
    out = stack.outputs["sns_workflow"]
    lam, s3 = stack.client("lambda"), stack.client("s3")
    marks = reset(stack)
    ids = []
    started = time.monotonic()
    for i in range(WORKFLOW_REQUESTS):
        response = lam.invoke(
            FunctionName=out["preprocessor_function_name"], Payload=json.dumps({"document": {"key1": i, "key2": "v"}})
        )
        ids.append(json.loads(response["Payload"].read())["request_id"])
    ours_pace = (time.monotonic() - started) / WORKFLOW_REQUESTS

    def done() -> bool:
        found: set[str] = set()
        for request_id in ids:
            listed = s3.list_objects_v2(Bucket=out["document_bucket"], Prefix=f"requests/{request_id}/summarize.json")
            found.update(o["Key"] for o in listed.get("Contents", []))
        return len(found) == len(ids)

    wait(done)
    names = [out["preprocessor_function_name"], *out["service_function_names"].values()]
    results = [row("4 SNS workflow (2 services)", "ours", ours(stack, names, marks), WORKFLOW_REQUESTS)]

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    boto3.client("s3").create_bucket(Bucket="seed-workflow")
    env = {
        "S3_BUCKET": "seed-workflow",
        "S3_PREFIX": "data",
        "SNS_TOPIC_ARN_CONNECTOR": sns.create_topic(Name=f"seed-connector-{run}")["TopicArn"],
        "SNS_TOPIC_ARN_NOTIFIER": sns.create_topic(Name="seed-notifier")["TopicArn"],
    }
    # The seed's service queues get the event source settings ours have, and its requests come
    # at the pace ours came: the batches its services see are the ones AWS would hand them.
    ours_mapping = next(m for m in stack.runner.mappings if m.function in out["service_function_names"].values())
    seed = SeedLambda()
    sources = []
    for service in ("service01", "service02"):
        url = create_queue(f"seed-{service}-{run}")
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=env["SNS_TOPIC_ARN_CONNECTOR"], Protocol="sqs", Endpoint=arn)
        handler = functools.partial(seeds.workflow_service, env=env, service_name=service)
        sources.append(
            SeedEventSource(url, handler, seed, ours_mapping.batch_size, float(ours_mapping.batching_window))
        )
    counter.take()
    for i in range(WORKFLOW_REQUESTS):
        started = time.monotonic()
        seed(seeds.workflow_preprocessor, env, {"key1": i, "key2": "v"})
        for source in sources:
            source.step(sqs)
        time.sleep(max(0.0, ours_pace - (time.monotonic() - started)))
    while not all(source.idle(sqs) for source in sources):
        for source in sources:
            source.step(sqs)
        time.sleep(0.5)
    results.append(row("4 SNS workflow (2 services)", "seed", seed.used(), WORKFLOW_REQUESTS))
    return results


# --- summary over runs ----------------------------------------------------------------------


def summarize(runs: list[list[dict]]) -> list[dict]:
    keyed: dict[tuple[str, str], list[dict]] = {}
    for rows in runs:
        for r in rows:
            keyed.setdefault((r["pattern"], r["implementation"]), []).append(r)
    out = []
    for (pattern, impl), rows in keyed.items():
        per = [r["requests_per_message"] for r in rows]
        usd = [r["usd_per_million_messages_total"] for r in rows]
        median_row = sorted(rows, key=lambda r: r["requests_per_message"])[len(rows) // 2]
        out.append(
            {
                "pattern": pattern,
                "implementation": impl,
                "runs": len(rows),
                "messages_per_run": rows[0]["messages"],
                "requests_per_message": {"median": statistics.median(per), "min": min(per), "max": max(per)},
                "usd_per_million_messages": {"median": statistics.median(usd), "min": min(usd), "max": max(usd)},
                "median_run": median_row,
            }
        )
    return sorted(out, key=lambda r: (r["pattern"], r["implementation"]))


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=OUT).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "functions", "shared", "terraform"],
        capture_output=True,
        text=True,
        cwd=OUT,
    ).stdout.strip()
    return head + ("+uncommitted changes" if dirty else "")


def functions(deployed: dict[str, dict[str, str]]) -> dict:
    """Each function's package, imported with the environment the apply gave it (``deployed``:
    function name -> variables): a function reads its configuration at import."""

    def environment(folder: str) -> dict[str, str]:
        dashed = folder.replace("_", "-")
        name = next(n for n in sorted(deployed) if n.endswith(f"-{dashed}") or f"-{dashed}-" in n)
        return {**deployed[name], "POWERTOOLS_SERVICE_NAME": folder, "POWERTOOLS_METRICS_NAMESPACE": "bench"}

    return packages.measure_all(
        {
            folder.name: environment(folder.name)
            for folder in sorted((packages.ROOT / "functions").iterdir())
            if (folder / "app.py").exists()
        }
    )


# --- output ---------------------------------------------------------------------------------


def svg(summary: list[dict]) -> str:
    patterns = list(dict.fromkeys(r["pattern"] for r in summary))
    values = {(r["pattern"], r["implementation"]): r["requests_per_message"] for r in summary}
    top = max(v["max"] for v in values.values()) * 1.2
    bar, gap = 22, 70
    left = 20 + 7 * max(len(p) for p in patterns)  # room for the longest label (13 px sans-serif)
    width = left + 490
    height = 70 + gap * len(patterns)
    colours = {"ours": "#2b6cb0", "seed": "#a0aec0"}
    scale = (width - left - 110) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        ' font-family="sans-serif" font-size="13">',
        '<text x="10" y="22" font-size="15" font-weight="bold">AWS requests per message, median of 5 runs;'
        " whiskers: min-max (lower is better)</text>",
    ]
    for i, pattern in enumerate(patterns):
        y = 45 + i * gap
        parts.append(f'<text x="10" y="{y + 26}">{pattern}</text>')
        for j, impl in enumerate(("ours", "seed")):
            v = values.get((pattern, impl))
            yy = y + j * (bar + 2)
            if v is None:
                parts.append(f'<text x="{left}" y="{yy + 16}" fill="#718096">{impl}: no seed workload</text>')
                continue
            w = scale * v["median"]
            lo, hi = left + scale * v["min"], left + scale * v["max"]
            parts.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar}" fill="{colours[impl]}"/>')
            mid = yy + bar / 2
            parts.append(
                f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" stroke="#1a202c" stroke-width="1.5"/>'
            )
            for x in (lo, hi):
                parts.append(f'<line x1="{x:.1f}" y1="{yy + 5}" x2="{x:.1f}" y2="{yy + bar - 5}" stroke="#1a202c"/>')
            label = f"{impl}: {v['median']:g}" + (f" ({v['min']:g}-{v['max']:g})" if v["min"] != v["max"] else "")
            parts.append(f'<text x="{hi + 6:.1f}" y="{yy + 16}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def markdown(result: dict) -> str:
    lines = [
        f"Measured {result['measured_at']} at commit `{result['commit']}`: {RUNS} runs per workload, median (min-max);"
        f" `make bench` took {result['bench_seconds']} s.",
        "",
        "| pattern | implementation | messages per run | AWS requests per message | of which event-source polling |"
        " empty polls during the run (not priced) | USD per million messages | "
        + " | ".join(COST_COLUMNS.values())
        + " | log bytes per message | requests by operation (median run) | polling (median run) |",
        "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(COST_COLUMNS) + "---:|---|---|",
    ]
    for r in result["summary"]:
        rpm, usd, m = r["requests_per_message"], r["usd_per_million_messages"], r["median_run"]
        parts = m["usd_per_million_messages"]
        cells = [
            r["pattern"],
            r["implementation"],
            r["messages_per_run"],
            f"{rpm['median']:g} ({rpm['min']:g}-{rpm['max']:g})",
            f"{m['polling_requests_per_message']:g}",
            m["empty_polls"],
            f"{usd['median']:.2f} ({usd['min']:.2f}-{usd['max']:.2f})",
            *(f"{parts[k]:.2f}" for k in COST_COLUMNS),
            m["log_bytes_per_message"],
            ", ".join(f"{k} {v}" for k, v in m["by_operation"].items()),
            ", ".join(f"{k} {v}" for k, v in m["polling_by_operation"].items()),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    sources = sorted(set(PRICES["sources"].values()))
    fifo_rows = [r["pattern"] for r in result["summary"] if r["median_run"]["sqs_fifo_requests"]]
    lines += [
        "",
        f"Prices: {PRICES['region']}, list prices as of {PRICES['as_of']}, no free tier (bench/prices.json; "
        + ", ".join(sources)
        + "). SQS requests on FIFO queues are priced as FIFO"
        + (f" ({', '.join(sorted(set(fifo_rows)))})" if fifo_rows else "")
        + ", all others as standard. Lambda GB-seconds are the runner's measured durations (a loaded 2-core"
        " machine: an upper bound) x each function's memory. What the model includes and leaves out: docs/costs.md.",
        "",
        "Seed port deviations and how each side is counted:",
        *(f"- {d}" for d in DEVIATIONS),
        "",
    ]
    r = result["sticky_rate"]
    lines += [
        "## Sticky queues at the highest rate this machine sustains",
        "",
        f"{r['messages']:,} messages of {r['users']} users, {RATE_CALLS} ingest calls sent back to back, until every"
        f" document was complete: **{r['messages_per_second']} messages/s** ({r['seconds']} s) on a pool of"
        f" {r['pool_size']} queues x {r['dispatcher_concurrency']} dispatchers. The dispatchers ran"
        f" {r['dispatcher_invocations']} batches of {r['records_per_invocation']} records,"
        f" {r['seconds_per_invocation']} s each (billed duration), busy {r['dispatcher_busy_share']:.0%} of the time."
        " The capacity model"
        f" (docs/sticky.md) with those batches predicts {r['model_messages_per_second']} messages/s for this pool;"
        " the measured rate is lower by the share of time the dispatchers waited for work: here the ingester, the"
        " emulator and every dispatcher share 2 cores.",
        "",
        "## One user's history, 1,000 to 100,000 entries",
        "",
        *(
            [f"Measured at commit `{result['history_commit']}` (`python -m bench.run history`).", ""]
            if result.get("history_commit", result["commit"]) != result["commit"]
            else []
        ),
        *history.markdown(result["history"], PRICES),
    ]
    f = result["functions"]
    goals = f["goals"]
    baseline = f["baseline_instructions"]
    lines += [
        f"Cold start per handler: {f['python']}, the function's zip (bench/packages.py ``function_zip``) extracted"
        " fresh, `python3.12 -I -S -B` with only the extract and the standard library on sys.path, the Lambda"
        " environment variables, Tracer enabled. Instructions: callgrind"
        + (f" ({f['valgrind']})" if f["valgrind"] else " (not measured: valgrind could not be installed)")
        + ", the process importing the handler minus the same process importing nothing"
        + (f" ({baseline / 1e9:.3f} G)" if baseline else "")
        + "; one count per handler. Wall and CPU: median of 5 fresh processes.",
        "",
        f"| function | zip (goal ≤ {goals['zip_mb']:g} MB, SDK inside) | import instructions (goal ≤"
        f" {goals['instructions_g']:g} G) | import wall, median (goal ≤ {goals['import_ms_median']} ms, idle machine)"
        " | import CPU, median | wall, 5 runs |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for fn in f["functions"]:
        instr = f"{fn['instructions'] / 1e9:.2f} G" if fn["instructions"] is not None else "not measured"
        lines.append(
            f"| {fn['function']} | {fn['zip_bytes'] / 1e6:.2f} MB | {instr} | {fn['import_ms_median']} ms |"
            f" {fn['import_cpu_ms_median']} ms | {', '.join(str(ms) for ms in fn['import_ms'])} |"
        )
    return "\n".join(lines) + "\n"


def history_only() -> int:
    """`python -m bench.run history`: measure the history workload again into results.json (on a
    bare emulator: it needs no deployed stack) and write results.md from it."""
    from local.emulator import Emulator

    started = time.time()
    emulator = Emulator(iam="off").start()
    try:
        grown = history.measure(emulator.env())
    finally:
        emulator.stop()
    result = json.loads((OUT / "results.json").read_text())
    result["history"] = grown
    result["history_commit"] = commit()
    (OUT / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (OUT / "results.md").write_text(markdown(result))
    print(f"Written: {OUT / 'results.json'}, results.md ({time.time() - started:.0f} s)")
    return 0


def main() -> int:
    if sys.argv[1:] == ["history"]:
        return history_only()
    started = time.time()
    stack = harness.start(fifo_variant=True)  # the sticky pattern with FIFO pool queues beside the main root
    runs: list[list[dict]] = []
    try:
        os.environ.update(stack.emulator.env())
        counter.install().only_thread = threading.get_ident()  # not the runner's pollers in this process
        for run in range(RUNS):
            rows = sticky(stack, run) + fanout(stack, run) + relay(stack, run) + workflow(stack, run)
            runs.append(rows)
            print(f"run {run + 1}/{RUNS} done after {time.time() - started:.0f} s", flush=True)
        deployed = {name: spec.environment for name, spec in stack.runner.functions.items()}
        rate = sticky_rate(stack)
        print(f"sticky rate workload done after {time.time() - started:.0f} s", flush=True)
        grown = history.measure(stack.emulator.env())
        print(f"history workload done after {time.time() - started:.0f} s", flush=True)
    finally:
        stack.stop()
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit(),
        "runs": RUNS,
        "prices": PRICES,
        "seed_port_deviations": DEVIATIONS,
        "summary": summarize(runs),
        "functions": functions(deployed),
        "all_runs": runs,
        "history": grown,
        "sticky_rate": rate,
    }
    result["bench_seconds"] = round(time.time() - started)
    (OUT / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (OUT / "results.md").write_text(markdown(result))
    (OUT / "requests_per_message.svg").write_text(svg(result["summary"]) + "\n")
    print(markdown(result))
    print(f"Written: {OUT / 'results.json'}, results.md, requests_per_message.svg ({result['bench_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
