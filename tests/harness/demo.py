"""`make demo`: embedded emulator -> terraform apply -> sample traffic -> readable summary."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter

from tests.harness import stack as harness

USERS, PER_USER, THREADS = 12, 20, 6


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
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key=f"users/{user}.json")["Body"].read())["entries"]
        except s3.exceptions.NoSuchKey:
            return []

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


def main() -> int:
    print("Starting the embedded AWS emulator and applying terraform/ (environment: local)...", flush=True)
    stack = harness.start()
    try:
        print(f"  applied in {stack.apply_seconds:.0f}s; emulator at {stack.emulator.endpoint}")
        print(f"  local runner: {len(stack.runner.functions)} functions, {len(stack.runner.mappings)} SQS mappings")
        for name, spec in sorted(stack.runner.functions.items()):
            print(f"    {name:<36} concurrency {spec.concurrency}, timeout {spec.timeout}s")
        print()
        lines = sticky_queue_demo(stack)
        print("\n".join(lines))
        print()
        print("Invocations:", {n: p.invocations for n, p in sorted(stack.runner.pools.items())})
        print(f"Function logs: {stack.runner.log_dir}")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
