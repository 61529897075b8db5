"""`make bench`: AWS requests and cost per message for each pattern, ours vs the seeds, on the embedded stack.

Not a test: it measures. Five runs of every workload on one stack; writes the median and the
spread (min-max) with the commit measured to bench/results.json, results.md and
requests_per_message.svg (embedded in the README), then zip sizes and handler import times
under Python 3.12 (bench/packages.py). Run it under ``flock /tmp/heavy.lock``.

* Ours: the deployed functions run by the local runner; each invocation reports the AWS
  calls its own botocore made (local/calls.py via the worker bootstrap).
* Seeds: bench/seeds.py, run in this process on the same emulator and workload,
  counted the same way. Polling done on a function's behalf (event source mappings) is not
  counted for either.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

from bench import packages, seeds
from local import stack as harness
from local.calls import CallCounter
from local.runner import sqs_event_record
from local.tables import scan

OUT = Path(__file__).resolve().parent
RUNS = int(os.environ.get("BENCH_RUNS", "5"))  # 5 for the committed results
USERS, PER_USER, FANOUT_ITEMS, RELAY_OBJECTS, WORKFLOW_REQUESTS = 5, 6, 200, 100, 20
BATCH_USERS, BATCH_PER_USER, BATCH_CALLS = 10, 5, 2  # 2 calls of 50 messages, 10 users each
SEED_MEMORY_MB = 128  # the seeds' functions at Lambda's default memory
PRICES = json.loads((OUT / "prices.json").read_text())
DEVIATIONS = [
    "Seeds run in the bench's process on the same emulator (not deployed); their clients honour AWS_ENDPOINT_URL. "
    "Their Lambda duration is the wall time of each handler call, billed at 128 MB.",
    "Sticky seed: its dispatcher reads only Records[0], so it is drained with batch size 1 (a larger batch would lose "
    "messages); like ours it drains during ingest (one poll per pool queue after each ingest call), then the rest. "
    "The batched workload has no seed (the seed ingester takes one message per call).",
    "Relay seed: the JavaScript post ported to Python; receive WaitTimeSeconds 1 (the post's 0 is a short poll); its "
    "self-invocation is counted as a lambda:Invoke and a Lambda request instead of being sent.",
    "Workflow seed: drained after all requests with batch size 10 (ours: the event source with a 2 s batching window).",
    "Event-source polling (ReceiveMessage/DeleteMessageBatch by Lambda's pollers) is counted for neither side.",
]
counter = CallCounter()


def wait(predicate, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.5)
    if not predicate():
        raise TimeoutError("workload did not complete")


# --- what ours used: AWS calls, Lambda invocations and durations (from the runner's REPORT lines) ----

REPORT = re.compile(rb"REPORT RequestId: \S+\tDuration: ([0-9.]+) ms")


def reset(stack: harness.Stack) -> dict[str, tuple[int, int]]:
    marks = {}
    for name, pool in stack.runner.pools.items():
        pool.calls.clear()
        pool.s3_put_bytes = 0
        marks[name] = (pool.invocations, pool.log_file.stat().st_size if pool.log_file.exists() else 0)
    return marks


def ours(stack: harness.Stack, functions: list[str], marks: dict[str, tuple[int, int]]) -> dict:
    time.sleep(3)  # the last invocations report their calls when they return
    calls: Counter[str] = Counter()
    put_bytes, invocations, gb_seconds = 0, 0, 0.0
    for name in functions:
        pool = stack.runner.pools[name]
        calls.update(pool.calls)
        put_bytes += pool.s3_put_bytes
        invocations += pool.invocations - marks[name][0]
        with open(pool.log_file, "rb") as log:
            log.seek(marks[name][1])
            billed_ms = sum(max(1, round(float(ms))) for ms in REPORT.findall(log.read()))
        gb_seconds += billed_ms / 1000 * stack.runner.functions[name].memory / 1024
    return {"calls": calls, "s3_put_bytes": put_bytes, "invocations": invocations, "gb_seconds": gb_seconds}


class SeedLambda:
    """Counts a seed's invocations and their billed duration (wall time of the handler call)."""

    def __init__(self) -> None:
        self.invocations, self.gb_seconds = 0, 0.0

    def __call__(self, handler: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return handler(*args)
        finally:
            self.invocations += 1
            self.gb_seconds += max(1, round((time.perf_counter() - started) * 1000)) / 1000 * SEED_MEMORY_MB / 1024

    def used(self) -> dict:
        got = counter.take()
        return {"calls": Counter(got["calls"]), "s3_put_bytes": got["s3_put_bytes"], **self.__dict__}


def cost(calls: Counter, invocations: int, gb_seconds: float, batch_items: int) -> dict[str, float]:
    """USD for what one run used, by service, at the list prices in prices.json."""
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
    p = PRICES
    return {
        "lambda": invocations * p["lambda_per_million_requests"] / 1e6 + gb_seconds * p["lambda_per_gb_second_x86"],
        "sqs": by_service["sqs"] * p["sqs_standard_per_million_requests"] / 1e6,
        "sns": by_service["sns"] * p["sns_standard_per_million_publish_requests"] / 1e6,
        "dynamodb": write_units * p["dynamodb_on_demand_per_million_write_units"] / 1e6
        + read_units * p["dynamodb_on_demand_per_million_read_units"] / 1e6,
        "s3": s3_writes * p["s3_standard_per_thousand_put_copy_post_list"] / 1e3
        + s3_reads * p["s3_standard_per_thousand_get_select"] / 1e3,
    }


def row(pattern: str, impl: str, used: dict, messages: int, batch_items: int = 0, bytes_: bool = False) -> dict:
    calls = used["calls"]
    usd = cost(calls, used["invocations"], used["gb_seconds"], batch_items)
    return {
        "pattern": pattern,
        "implementation": impl,
        "messages": messages,
        "requests": sum(calls.values()),
        "requests_per_message": round(sum(calls.values()) / messages, 3),
        "s3_bytes_written_per_message": round(used["s3_put_bytes"] / messages) if bytes_ else None,
        "lambda_invocations": used["invocations"],
        "lambda_gb_seconds": round(used["gb_seconds"], 3),
        "usd_per_million_messages": {k: round(v / messages * 1e6, 3) for k, v in usd.items()},
        "usd_per_million_messages_total": round(sum(usd.values()) / messages * 1e6, 3),
        "by_operation": dict(sorted(calls.items())),
    }


def poll_as_lambda(url: str, handler: Any, batch_size: int, seed: SeedLambda) -> int:
    """An event source mapping for a seed function (its polling is not counted)."""
    counter.paused = True
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size, AttributeNames=["All"]).get("Messages", [])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    counter.paused = False
    if got:
        seed(handler, {"Records": [sqs_event_record(m, arn, "us-east-1") for m in got]})
        counter.paused = True
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
        counter.paused = False
    return len(got)


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
    try:
        return all(
            len(json.loads(s3.get_object(Bucket=bucket, Key=f"users/{u}.json")["Body"].read())["entries"]) == per_user
            for u in users
        )
    except s3.exceptions.NoSuchKey:
        return False


def sticky(stack: harness.Stack, run: int) -> list[dict]:
    out = stack.outputs["sticky_queue"]
    lam, n = stack.client("lambda"), USERS * PER_USER
    names = [out["ingester_function_name"], *out["dispatcher_function_names"].values()]
    users = [f"one-r{run}-{u}" for u in range(USERS)]
    marks = reset(stack)
    for i in range(PER_USER):
        for user in users:
            payload = {"user_id": user, "body": {"n": i, "text": "x" * 200}}
            lam.invoke(FunctionName=out["ingester_function_name"], Payload=json.dumps(payload))
    wait(lambda: _documents_complete(stack, users, PER_USER))
    results = [row("1 sticky queues, 1 message per call", "ours", ours(stack, names, marks), n, bytes_=True)]

    # batched multi-user calls: BATCH_CALLS calls of BATCH_USERS x BATCH_PER_USER messages
    users = [f"many-r{run}-{u}" for u in range(BATCH_USERS)]
    marks = reset(stack)
    for c in range(BATCH_CALLS):
        messages = [
            {"user_id": user, "body": {"n": c * BATCH_PER_USER + i, "text": "x" * 200}}
            for i in range(BATCH_PER_USER)
            for user in users
        ]
        lam.invoke(FunctionName=out["ingester_function_name"], Payload=json.dumps({"messages": messages}))
    wait(lambda: _documents_complete(stack, users, BATCH_CALLS * BATCH_PER_USER))
    m = BATCH_CALLS * BATCH_USERS * BATCH_PER_USER
    results.append(row("1b sticky queues, batched calls", "ours", ours(stack, names, marks), m, bytes_=True))

    # the seed: its own table, URL store and 4 trigger queues on the same emulator (one set per run)
    create_table("seed-recent-user-queue", "userId")
    boto3.client("s3").create_bucket(Bucket=f"seed-sticky-data-{run}")
    pool = [create_queue(f"seed-sticky-{run}-{i}") for i in range(4)]
    env = {
        "RECENT_USER_QUEUE_TABLE_NAME": "seed-recent-user-queue",
        "URL_STORE_QUEUE_URL": create_queue(f"seed-url-store-{run}"),
        "PARALLELE_TRIGGER_QUEUE_URLS": ",".join(pool),
        "DATA_BUCKET_NAME": f"seed-sticky-data-{run}",
    }
    seed = SeedLambda()
    counter.take()

    def dispatch(event: dict) -> None:
        seeds.sticky_dispatcher(event, env)

    for i in range(PER_USER):
        for u in range(USERS):
            seed(seeds.sticky_ingester, {"userId": f"seed-r{run}-{u}", "message": {"n": i, "text": "x" * 200}}, env)
            for url in pool:  # drained during ingest, as ours is
                poll_as_lambda(url, dispatch, 1, seed)
    for url in pool:
        while poll_as_lambda(url, dispatch, 1, seed):
            pass
    results.append(row("1 sticky queues, 1 message per call", "seed", seed.used(), n, bytes_=True))
    return results


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
    for _ in range(seed(seeds.fanout_cron, f"seed-fanout-test-{run}", topic)):  # each publish starts one worker
        seed(seeds.fanout_sqs2ddb, f"seed-fanout-test-{run}", f"seed-fanout-Test-{run}")
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
    for i in range(WORKFLOW_REQUESTS):
        response = lam.invoke(
            FunctionName=out["preprocessor_function_name"], Payload=json.dumps({"document": {"key1": i, "key2": "v"}})
        )
        ids.append(json.loads(response["Payload"].read())["request_id"])

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
    queues = {}
    for service in ("service01", "service02"):
        queues[service] = create_queue(f"seed-{service}-{run}")
        arn = sqs.get_queue_attributes(QueueUrl=queues[service], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=env["SNS_TOPIC_ARN_CONNECTOR"], Protocol="sqs", Endpoint=arn)
    seed = SeedLambda()
    counter.take()
    for i in range(WORKFLOW_REQUESTS):
        seed(seeds.workflow_preprocessor, env, {"key1": i, "key2": "v"})
    for service, url in queues.items():
        while poll_as_lambda(url, lambda e, s=service: seeds.workflow_service(e, env, s), 10, seed):
            pass
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


def functions() -> list[dict]:
    return [
        packages.measure(folder.name, {"POWERTOOLS_SERVICE_NAME": folder.name, "POWERTOOLS_METRICS_NAMESPACE": "bench"})
        for folder in sorted((packages.ROOT / "functions").iterdir())
        if (folder / "app.py").exists()
    ]


# --- output ---------------------------------------------------------------------------------


def svg(summary: list[dict]) -> str:
    patterns = list(dict.fromkeys(r["pattern"] for r in summary))
    values = {(r["pattern"], r["implementation"]): r["requests_per_message"] for r in summary}
    top = max(v["max"] for v in values.values()) * 1.2
    width, left, bar, gap = 760, 270, 22, 70
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
        f"Measured {result['measured_at']} at commit `{result['commit']}`: {RUNS} runs per workload, median (min-max).",
        "",
        "| pattern | implementation | messages per run | AWS requests per message | USD per million messages |"
        " Lambda | SQS | SNS | DynamoDB | S3 | requests by operation (median run) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["summary"]:
        rpm, usd, m = r["requests_per_message"], r["usd_per_million_messages"], r["median_run"]
        parts = m["usd_per_million_messages"]
        ops = ", ".join(f"{k} {v}" for k, v in m["by_operation"].items())
        cells = [
            r["pattern"],
            r["implementation"],
            r["messages_per_run"],
            f"{rpm['median']:g} ({rpm['min']:g}-{rpm['max']:g})",
            f"{usd['median']:.2f} ({usd['min']:.2f}-{usd['max']:.2f})",
            *(f"{parts[k]:.2f}" for k in ("lambda", "sqs", "sns", "dynamodb", "s3")),
            ops,
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        f"Prices: {PRICES['region']}, list prices as of {PRICES['as_of']} (bench/prices.json; "
        + ", ".join(PRICES["sources"])
        + "). Lambda GB-seconds are the runner's measured durations (a loaded 2-core machine: an upper bound).",
        "",
        "Seed port deviations:",
        *(f"- {d}" for d in DEVIATIONS),
        "",
        "Zips and imports: Python 3.12 as the Lambda runtime runs it (bench/packages.py): the zip without the"
        " runtime's packages (" + ", ".join(packages.RUNTIME_PROVIDED) + "), fresh extract, no .pyc,"
        " Tracer enabled, a fresh process per import, median of 5; CPU time beside wall time (the machine is shared).",
        "",
        "| function | Python | zip | import (wall) | import (CPU) | zip with 3.12 .pyc | import with .pyc (wall) |"
        " import with .pyc (CPU) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in result["functions"]:
        lines.append(
            f"| {f['function']} | {f['python']} | {f['zip_bytes'] / 1e6:.2f} MB | {f['import_ms_median']} ms |"
            f" {f['import_cpu_ms_median']} ms | {f['zip_bytes_with_pyc'] / 1e6:.2f} MB |"
            f" {f['import_ms_with_pyc_median']} ms | {f['import_cpu_ms_with_pyc_median']} ms |"
        )
    lines += [
        "",
        "The floor under every handler: what each imports before its own code, measured the same way (no .pyc"
        " for the zip's packages; the runtime's boto3 precompiled as in the runtime image).",
        "",
        "| import | wall | CPU |",
        "|---|---:|---:|",
        *(f"| {r['what']} | {r['import_ms_median']} ms | {r['import_cpu_ms_median']} ms |" for r in result["floor"]),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    started = time.time()
    stack = harness.start()
    runs: list[list[dict]] = []
    try:
        os.environ.update(stack.emulator.env())
        counter.install().only_thread = threading.get_ident()  # not the runner's pollers in this process
        for run in range(RUNS):
            rows = sticky(stack, run) + fanout(stack, run) + relay(stack, run) + workflow(stack, run)
            runs.append(rows)
            print(f"run {run + 1}/{RUNS} done after {time.time() - started:.0f} s", flush=True)
    finally:
        stack.stop()
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit(),
        "runs": RUNS,
        "prices": PRICES,
        "seed_port_deviations": DEVIATIONS,
        "summary": summarize(runs),
        "functions": functions(),
        "floor": packages.floor(),
        "all_runs": runs,
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
