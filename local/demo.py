"""`make demo`: embedded emulator -> terraform apply -> sample traffic -> readable summary."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter

from local import stack as harness
from local.tables import scan
from shared.history import read_history

USERS, PER_USER, THREADS = 12, 20, 6
FANOUT_ITEMS, RELAY_OBJECTS, WORKFLOW_REQUESTS = 300, 120, 5


def sticky_queue_demo(stack: harness.Stack) -> list[str]:
    out = stack.outputs["sticky_queue"]
    function, bucket = out["ingester_function_name"], stack.outputs["document_bucket"]
    users = [f"demo-user-{i:02d}" for i in range(USERS)]
    routed: dict[str, set[str]] = {u: set() for u in users}
    started = time.time()

    def send(index: int) -> None:
        lam = stack.client("lambda")
        for n in range(PER_USER):
            for user in users[index::THREADS]:
                payload = {"user_id": user, "body": {"n": n}, "message_id": f"{user}-{n}"}
                response = lam.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
                routed[user].update(json.loads(response["Payload"].read())["queues"].values())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent_at = time.time()

    s3 = stack.client("s3")

    def entries(user: str) -> list[dict]:
        return [e.model_dump(mode="json") for e in read_history(s3, bucket, user)]

    deadline = time.time() + 120
    while time.time() < deadline and not all(len(entries(u)) == PER_USER for u in users):
        time.sleep(0.5)
    done_at = time.time()

    in_order = sum([e["body"]["n"] for e in entries(u)] == list(range(PER_USER)) for u in users)
    per_queue = Counter(next(iter(q)).rsplit("/", 1)[-1] for q in routed.values() if q)
    sqs = stack.client("sqs")
    dlq_depth = sum(
        int(
            sqs.get_queue_attributes(QueueUrl=q["dlq_url"], AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        for q in out["pool_queues"].values()
    )
    lines = [
        "Pattern 1 - sticky queues",
        f"  sent {USERS * PER_USER} messages for {USERS} users from {THREADS} threads in {sent_at - started:.1f}s",
        f"  all documents complete {done_at - sent_at:.1f}s later; in send order: {in_order}/{USERS} users",
        f"  users per pool queue: {dict(sorted(per_queue.items()))}",
        f"  users that ever changed queue: {sum(len(q) > 1 for q in routed.values())}",
        f"  dead letters: {dlq_depth}",
        f"  sample document s3://{bucket}/users/{users[0]}.json: {len(entries(users[0]))} entries",
    ]
    return lines


def _scan(stack: harness.Stack, table: str, attribute: str, prefix: str) -> list[dict]:
    """Items whose ``attribute`` starts with ``prefix`` (the demo's own items)."""
    return scan(stack.client("dynamodb"), table, attribute, prefix)


def _depth(stack: harness.Stack, url: str) -> int:
    attrs = stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def _wait(predicate, timeout: float) -> float:
    started = time.time()
    while time.time() - started < timeout and not predicate():
        time.sleep(0.5)
    return time.time() - started


def fanout_send(stack: harness.Stack, items: int = FANOUT_ITEMS) -> None:
    sqs, url = stack.client("sqs"), stack.outputs["cron_fanout"]["work_queue"]["url"]
    for start in range(0, items, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps({"key": f"demo-item-{n}", "data": {"n": n}})}
                for n in range(start, min(start + 10, items))
            ],
        )


def fanout_report(stack: harness.Stack, items: int = FANOUT_ITEMS, fire: bool = False) -> list[str]:
    out = stack.outputs["cron_fanout"]
    if fire:
        stack.runner.fire(out["schedule_rule_name"])
    stored = lambda: _scan(stack, out["items_table_name"], "key", "demo-item-")  # noqa: E731
    waited = _wait(lambda: len(stored()) >= items, timeout=150)
    workers = stack.runner.pools[out["worker_function_name"]].invocations
    ticks = len({i["tick_id"]["S"] for i in stored()})
    return [
        "Pattern 2 - cron fan-out",
        f"  {items} work items queued; schedule {stack.runner.schedule(out['schedule_rule_name']).expression}",
        f"  demo items in the table: {len(stored())} after {waited:.1f}s, from {ticks} tick(s);"
        f" worker invocations so far: {workers}",
        f"  left on the work queue: {_depth(stack, out['work_queue']['url'])};"
        f" dead letters: {_depth(stack, out['work_queue']['dlq_url'])}",
    ]


def relay_send(stack: harness.Stack, objects: int = RELAY_OBJECTS, prefix: str = "demo/") -> None:
    s3, bucket = stack.client("s3"), stack.outputs["relay_consumer"]["inbox_bucket"]
    for n in range(objects):
        s3.put_object(Bucket=bucket, Key=f"{prefix}object-{n:04d}.txt", Body=f"object {n}\n".encode())


def relay_report(
    stack: harness.Stack, objects: int = RELAY_OBJECTS, fire: bool = False, prefix: str = "demo/"
) -> list[str]:
    out = stack.outputs["relay_consumer"]
    if fire:
        stack.runner.fire(out["schedule_rule_name"])
    mine = f"{out['inbox_bucket']}/{prefix}"
    waited = _wait(lambda: len(_scan(stack, out["results_table_name"], "object_id", mine)) >= objects, timeout=150)
    _wait(lambda: not stack.client("dynamodb").scan(TableName=out["lease_table_name"])["Items"], timeout=30)
    items = _scan(stack, out["results_table_name"], "object_id", mine)
    chains = Counter(i["chain_id"]["S"] for i in items)
    hops = max((int(i["hop"]["N"]) for i in items), default=0)
    return [
        "Pattern 3 - relay consumer",
        f"  {objects} objects put; schedule {stack.runner.schedule(out['schedule_rule_name']).expression}",
        f"  processed: {len(items)} after {waited:.1f}s"
        f" by {len(chains)} chain(s), {hops} hops;"
        f" consumer invocations: {stack.runner.pools[out['function_name']].invocations}",
        f"  left on the relay queue: {_depth(stack, out['relay_queue']['url'])};"
        f" dead letters: {_depth(stack, out['relay_queue']['dlq_url'])}",
    ]


def workflow_demo(stack: harness.Stack, requests: int = WORKFLOW_REQUESTS) -> list[str]:
    out = stack.outputs["sns_workflow"]
    lam, s3, bucket = stack.client("lambda"), stack.client("s3"), out["document_bucket"]
    started = time.time()
    ids = []
    for n in range(requests):
        document = {"title": f"request {n}", "tags": ["demo"], "blob": "x" * (400_000 if n == 0 else 10)}
        response = lam.invoke(
            FunctionName=out["preprocessor_function_name"], Payload=json.dumps({"document": document})
        )
        ids.append(json.loads(response["Payload"].read())["request_id"])

    def done(request_id: str) -> bool:
        try:
            s3.head_object(Bucket=bucket, Key=f"requests/{request_id}/summarize.json")
            return True
        except s3.exceptions.ClientError:
            return False

    waited = _wait(lambda: all(done(i) for i in ids), timeout=120)
    stages = sorted(
        {
            k["Key"].rsplit("/", 1)[-1]
            for k in s3.list_objects_v2(Bucket=bucket, Prefix=f"requests/{ids[0]}/")["Contents"]
        }
    )
    offloaded = sum(
        s3.list_objects_v2(Bucket=bucket, Prefix=f"requests/{i}/enrich.json")["Contents"][0]["Size"] > 262_144
        for i in ids
    )
    return [
        "Pattern 4 - SNS preprocessor / services",
        f"  {requests} requests through preprocessor -> enrich -> summarize in {time.time() - started:.1f}s"
        f" (waited {waited:.1f}s); complete: {sum(done(i) for i in ids)}/{requests}",
        f"  documents of request {ids[0]}: {', '.join(stages)}",
        f"  results larger than 256 KiB sent as S3 pointers: {offloaded}",
    ]


def main() -> int:
    from local import progress

    print("Starting the embedded AWS emulator and applying terraform/ (environment: local)...", flush=True)
    try:
        stack = harness.start(progress=progress.bar, log_path=harness.REPO / ".build" / "apply.log")
    except KeyboardInterrupt:
        print("\nInterrupted: terraform stopped, emulator stopped, no state left behind.", file=sys.stderr)
        return 130
    try:
        print(f"  applied in {stack.apply_seconds:.0f}s; emulator at {stack.emulator.endpoint}")
        print(
            f"  local runner: {len(stack.runner.functions)} functions, {len(stack.runner.mappings)} SQS mappings,"
            f" {len(stack.runner.schedules)} schedules (running on the clock)"
        )
        for name, spec in sorted(stack.runner.functions.items()):
            print(f"    {name:<36} concurrency {spec.concurrency}, timeout {spec.timeout}s")
        stack.runner.start_clock()
        fanout_send(stack)
        relay_send(stack)
        print()
        for lines in (sticky_queue_demo(stack), workflow_demo(stack)):
            print("\n".join(lines), end="\n\n", flush=True)
        print("Waiting for the next scheduled tick (patterns 2 and 3 run on EventBridge schedules)...", flush=True)
        for lines in (fanout_report(stack), relay_report(stack)):
            print("\n".join(lines), end="\n\n", flush=True)
        print("Invocations:", {n: p.invocations for n, p in sorted(stack.runner.pools.items())})
        print(f"Function logs: {stack.runner.log_dir}")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
