"""`make bench`: AWS requests per message for each pattern, ours vs the seeds, on the embedded stack.

Not a test: it measures. Writes tests/bench/results.json, results.md and
requests_per_message.svg (embedded in the README).

* Ours: the deployed functions run by the local runner; each invocation reports the AWS
  calls its own botocore made (tests/harness/calls.py via the worker bootstrap).
* Seeds: tests/bench/seeds.py, run in this process on the same emulator and workload,
  counted the same way. Polling done on a function's behalf (event source mappings) is not
  counted for either.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

from tests.bench import seeds
from tests.harness import stack as harness
from tests.harness.calls import CallCounter
from tests.harness.runner import sqs_event_record
from tests.helpers import scan

OUT = Path(__file__).resolve().parent
USERS, PER_USER, FANOUT_ITEMS, RELAY_OBJECTS, WORKFLOW_REQUESTS = 10, 10, 200, 100, 20
counter = CallCounter()


def wait(predicate, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.5)
    if not predicate():
        raise TimeoutError("workload did not complete")


def ours(stack: harness.Stack, functions: list[str]) -> tuple[Counter, int]:
    time.sleep(3)  # the last invocations report their calls when they return
    calls, put_bytes = Counter(), 0
    for name in functions:
        calls.update(stack.runner.pools[name].calls)
        put_bytes += stack.runner.pools[name].s3_put_bytes
    return calls, put_bytes


def reset(stack: harness.Stack) -> None:
    for pool in stack.runner.pools.values():
        pool.calls.clear()
        pool.s3_put_bytes = 0


def row(pattern: str, impl: str, calls: Counter, messages: int, put_bytes: int | None = None) -> dict:
    return {
        "pattern": pattern,
        "implementation": impl,
        "messages": messages,
        "requests": sum(calls.values()),
        "requests_per_message": round(sum(calls.values()) / messages, 2),
        "s3_bytes_written_per_message": None if put_bytes is None else round(put_bytes / messages),
        "by_operation": dict(sorted(calls.items())),
    }


def poll_as_lambda(url: str, handler: Any, batch_size: int) -> int:
    """An event source mapping for a seed function (not counted)."""
    counter.paused = True
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch_size, AttributeNames=["All"]).get("Messages", [])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    counter.paused = False
    if got:
        handler({"Records": [sqs_event_record(m, arn, "us-east-1") for m in got]})
        counter.paused = True
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
        counter.paused = False
    return len(got)


def create_queue(name: str) -> str:
    return boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]


def create_table(name: str, key: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


# --- pattern 1 ----------------------------------------------------------------------------


def sticky(stack: harness.Stack) -> list[dict]:
    out = stack.outputs["sticky_queue"]
    lam, n = stack.client("lambda"), USERS * PER_USER
    reset(stack)
    for i in range(PER_USER):
        for u in range(USERS):
            payload = {"user_id": f"bench-{u}", "body": {"n": i, "text": "x" * 200}}
            lam.invoke(FunctionName=out["ingester_function_name"], Payload=json.dumps(payload))
    bucket, s3 = stack.outputs["document_bucket"], stack.client("s3")

    def done() -> bool:
        try:
            return all(
                len(json.loads(s3.get_object(Bucket=bucket, Key=f"users/bench-{u}.json")["Body"].read())["entries"])
                == PER_USER
                for u in range(USERS)
            )
        except s3.exceptions.NoSuchKey:
            return False

    wait(done)
    calls, put_bytes = ours(stack, [out["ingester_function_name"], *out["dispatcher_function_names"].values()])
    results = [row("1 sticky queues", "ours", calls, n, put_bytes)]

    # the seed: its own table, URL store and 4 trigger queues on the same emulator
    create_table("seed-recent-user-queue", "userId")
    boto3.client("s3").create_bucket(Bucket="seed-sticky-data")
    pool = [create_queue(f"seed-sticky-{i}") for i in range(4)]
    env = {
        "RECENT_USER_QUEUE_TABLE_NAME": "seed-recent-user-queue",
        "URL_STORE_QUEUE_URL": create_queue("seed-url-store"),
        "PARALLELE_TRIGGER_QUEUE_URLS": ",".join(pool),
        "DATA_BUCKET_NAME": "seed-sticky-data",
    }
    counter.take()
    for i in range(PER_USER):
        for u in range(USERS):
            seeds.sticky_ingester({"userId": f"bench-{u}", "message": {"n": i, "text": "x" * 200}}, env)
    for url in pool:
        while poll_as_lambda(url, lambda e: seeds.sticky_dispatcher(e, env), batch_size=1):
            pass
    used = counter.take()
    results.append(row("1 sticky queues", "seed", Counter(used["calls"]), n, used["s3_put_bytes"]))
    return results


# --- pattern 2 ----------------------------------------------------------------------------


def fanout(stack: harness.Stack) -> list[dict]:
    out = stack.outputs["cron_fanout"]
    sqs = stack.client("sqs")
    reset(stack)
    for start in range(0, FANOUT_ITEMS, 10):
        sqs.send_message_batch(
            QueueUrl=out["work_queue"]["url"],
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"key": f"bench-{start + i}", "data": {}})} for i in range(10)
            ],
        )
    stack.runner.fire(out["schedule_rule_name"], sync=True)
    wait(lambda: len(scan(stack.client("dynamodb"), out["items_table_name"], "key", "bench-")) >= FANOUT_ITEMS)
    calls, _ = ours(stack, [out["counter_function_name"], out["worker_function_name"]])
    results = [row("2 cron fan-out", "ours", calls, FANOUT_ITEMS)]

    create_queue("seed-fanout-test")
    create_table("seed-fanout-Test", "uuid")
    topic = boto3.client("sns").create_topic(Name="seed-fanout")["TopicArn"]
    url = boto3.client("sqs").get_queue_url(QueueName="seed-fanout-test")["QueueUrl"]
    for _ in range(0, FANOUT_ITEMS, 10):
        boto3.client("sqs").send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"key1": "v1", "key2": "v2", "key3": "v3"})} for i in range(10)
            ],
        )
    counter.take()
    for _ in range(seeds.fanout_cron("seed-fanout-test", topic)):  # each publish triggers one worker
        seeds.fanout_sqs2ddb("seed-fanout-test", "seed-fanout-Test")
    results.append(row("2 cron fan-out", "seed", Counter(counter.take()["calls"]), FANOUT_ITEMS))
    return results


# --- pattern 3 ----------------------------------------------------------------------------


def relay(stack: harness.Stack) -> list[dict]:
    out = stack.outputs["relay_consumer"]
    s3 = stack.client("s3")
    for i in range(RELAY_OBJECTS):
        s3.put_object(Bucket=out["inbox_bucket"], Key=f"bench/{i}", Body=b"x" * 1000)
    wait(lambda: stack.runner.pools[out["function_name"]] is not None)
    reset(stack)
    stack.runner.fire(out["schedule_rule_name"])
    prefix = f"{out['inbox_bucket']}/bench/"
    wait(lambda: len(scan(stack.client("dynamodb"), out["results_table_name"], "object_id", prefix)) >= RELAY_OBJECTS)
    wait(lambda: not stack.client("dynamodb").scan(TableName=out["lease_table_name"])["Items"], timeout=60)
    calls, _ = ours(stack, [out["function_name"]])
    results = [row("3 relay consumer", "ours", calls, RELAY_OBJECTS)]

    seed_url = create_queue("seed-relay")
    create_table("seed-relay-results", "object_id")
    for i in range(RELAY_OBJECTS):
        boto3.client("sqs").send_message(
            QueueUrl=seed_url,
            MessageBody=json.dumps(
                {"Records": [{"s3": {"bucket": {"name": out["inbox_bucket"]}, "object": {"key": f"bench/{i}"}}}]}
            ),
        )

    def work(message: dict) -> None:  # the same work ours does per object: read it, record it
        ref = json.loads(message["Body"])["Records"][0]["s3"]
        body = boto3.client("s3").get_object(Bucket=ref["bucket"]["name"], Key=ref["object"]["key"])["Body"].read()
        boto3.client("dynamodb").put_item(
            TableName="seed-relay-results",
            Item={"object_id": {"S": ref["object"]["key"]}, "size": {"N": str(len(body))}},
        )

    counter.take()
    while seeds.relay_hop(seed_url, work):
        counter.calls["lambda:Invoke"] += 1  # the seed invokes itself (InvocationType Event)
    results.append(row("3 relay consumer", "seed", Counter(counter.take()["calls"]), RELAY_OBJECTS))
    return results


# --- pattern 4 ----------------------------------------------------------------------------


def workflow(stack: harness.Stack) -> list[dict]:
    out = stack.outputs["sns_workflow"]
    lam, s3 = stack.client("lambda"), stack.client("s3")
    reset(stack)
    ids = []
    for i in range(WORKFLOW_REQUESTS):
        response = lam.invoke(
            FunctionName=out["preprocessor_function_name"], Payload=json.dumps({"document": {"key1": i, "key2": "v"}})
        )
        ids.append(json.loads(response["Payload"].read())["request_id"])

    def done() -> bool:
        keys = {
            o["Key"] for o in s3.list_objects_v2(Bucket=out["document_bucket"], Prefix="requests/").get("Contents", [])
        }
        return all(f"requests/{i}/summarize.json" in keys for i in ids)

    wait(done)
    names = [out["preprocessor_function_name"], *out["service_function_names"].values()]
    results = [row("4 SNS workflow (2 services)", "ours", ours(stack, names)[0], WORKFLOW_REQUESTS)]

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    boto3.client("s3").create_bucket(Bucket="seed-workflow")
    env = {
        "S3_BUCKET": "seed-workflow",
        "S3_PREFIX": "data",
        "SNS_TOPIC_ARN_CONNECTOR": sns.create_topic(Name="seed-connector")["TopicArn"],
        "SNS_TOPIC_ARN_NOTIFIER": sns.create_topic(Name="seed-notifier")["TopicArn"],
    }
    queues = {}
    for service in ("service01", "service02"):
        queues[service] = create_queue(f"seed-{service}")
        arn = sqs.get_queue_attributes(QueueUrl=queues[service], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=env["SNS_TOPIC_ARN_CONNECTOR"], Protocol="sqs", Endpoint=arn)
    counter.take()
    for i in range(WORKFLOW_REQUESTS):
        seeds.workflow_preprocessor(env, {"key1": i, "key2": "v"})
    for service, url in queues.items():
        while poll_as_lambda(url, lambda e, s=service: seeds.workflow_service(e, env, s), batch_size=10):
            pass
    results.append(row("4 SNS workflow (2 services)", "seed", Counter(counter.take()["calls"]), WORKFLOW_REQUESTS))
    return results


# --- per function: zip size and import time ------------------------------------------------


def functions(stack: harness.Stack) -> list[dict]:
    rows = []
    for name, spec in sorted(stack.runner.functions.items()):
        code = stack.emulator.function_code(name)
        code_dir = stack.runner._code_dir(name)
        module = spec.handler.rsplit(".", 1)[0]
        probe = (
            f"import sys,time; sys.path.insert(0, {str(code_dir)!r}); t=time.perf_counter(); import {module}; "
            "print(time.perf_counter()-t)"
        )
        env = {**os.environ, **stack.runner.base_env, **spec.environment, "AWS_LAMBDA_FUNCTION_NAME": name}
        times = [
            float(
                subprocess.run(
                    [sys.executable, "-c", probe], env=env, cwd=code_dir, capture_output=True, text=True, check=True
                ).stdout
            )
            for _ in range(3)
        ]
        rows.append({"function": name, "zip_bytes": len(code), "import_seconds": round(statistics.median(times), 3)})
    return rows


# --- output ---------------------------------------------------------------------------------


def svg(rows: list[dict]) -> str:
    patterns = list(dict.fromkeys(r["pattern"] for r in rows))
    values = {(r["pattern"], r["implementation"]): r["requests_per_message"] for r in rows}
    top = max(values.values()) * 1.15
    width, height, left, bar, gap = 720, 60 + 70 * len(patterns), 230, 22, 70
    colours = {"ours": "#2b6cb0", "seed": "#a0aec0"}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        ' font-family="sans-serif" font-size="13">',
        '<text x="10" y="22" font-size="15" font-weight="bold">AWS requests per message (lower is better)</text>',
    ]
    for i, pattern in enumerate(patterns):
        y = 45 + i * gap
        parts.append(f'<text x="10" y="{y + 26}">{pattern}</text>')
        for j, impl in enumerate(("ours", "seed")):
            v = values.get((pattern, impl), 0)
            w = (width - left - 80) * v / top
            yy = y + j * (bar + 2)
            parts.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar}" fill="{colours[impl]}"/>')
            parts.append(f'<text x="{left + w + 6:.1f}" y="{yy + 16}">{impl}: {v}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def markdown(rows: list[dict], fns: list[dict]) -> str:
    lines = [
        "| pattern | implementation | messages | AWS requests | per message | S3 bytes written per message |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        s3 = "" if r["s3_bytes_written_per_message"] is None else f"{r['s3_bytes_written_per_message']:,}"
        cells = [r["pattern"], r["implementation"], r["messages"], r["requests"], r["requests_per_message"], s3]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "| function | zip size | handler import time |", "|---|---:|---:|"]
    for f in fns:
        lines.append(f"| {f['function']} | {f['zip_bytes'] / 1e6:.1f} MB | {f['import_seconds'] * 1000:.0f} ms |")
    return "\n".join(lines) + "\n"


def main() -> int:
    stack = harness.start()
    try:
        os.environ.update(stack.emulator.env())
        counter.install().only_thread = threading.get_ident()  # not the runner's pollers in this process
        rows = sticky(stack) + fanout(stack) + relay(stack) + workflow(stack)
        fns = functions(stack)
    finally:
        stack.stop()
    result = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "patterns": rows, "functions": fns}
    (OUT / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (OUT / "results.md").write_text(markdown(rows, fns))
    (OUT / "requests_per_message.svg").write_text(svg(rows) + "\n")
    print(markdown(rows, fns))
    print(f"Written: {OUT / 'results.json'}, results.md, requests_per_message.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
