"""`make bench` workload: one sticky user's history grown to 100,000 entries, batch by batch.

The dispatcher's handler runs in a child process against the emulator (run in the parent), on
SQS events of 10 records carrying the sticky workload's message body, so the child's thread CPU
time and its allocations are the dispatcher's alone. Measured around each checkpoint of the
history's length: the bytes written per batch, the handler's CPU time per batch (thread time,
so the emulator's work is not counted), the memory a batch allocates at its peak (tracemalloc),
and the bytes each batch leaves behind as old versions on a versioned bucket (what it
overwrote). A cold batch (a new process: nothing cached, the head read first) is measured at
each checkpoint too. The whole run reports the largest write of any batch and the child's
peak RSS.

Two layouts: ours (a bounded head plus sealed segments, shared/history.py), and one document
per user rewritten whole by every batch (the seeds' layout: the same handler with no rollover),
grown only to ``SINGLE_ENTRIES`` because every batch rewrites the whole history.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BATCH = 100  # a standard pool queue's batch size (sticky.dispatcher_batch_size): the largest batch and write
CHECKPOINTS = (1_000, 10_000, 50_000, 100_000)
SINGLE_ENTRIES = 5_000
SINGLE_CHECKPOINTS = (1_000, 5_000)
WINDOW = 8  # batches measured before each checkpoint: more than two rollover cycles of the head
USER = "history-user"
BUCKET = "bench-history"


class Context:
    function_name = "sticky-dispatcher"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sticky-dispatcher"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def event(first_seq: int) -> dict:
    """One SQS event of BATCH records, the sticky workload's body (bench/run.py) in each."""
    now = datetime.now(UTC).isoformat()
    records = []
    for seq in range(first_seq, first_seq + BATCH):
        body = {"user_id": USER, "seq": seq, "message_id": f"m-{seq}", "body": {"n": seq, "text": "x" * 200}}
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "rh",
                "body": json.dumps(body | {"ingested_at": now}),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "x"}
                | {"ApproximateFirstReceiveTimestamp": "1"},
                "messageAttributes": {},
                "md5OfBody": "x",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:pool-00",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def load_dispatcher() -> Any:
    path = REPO / "functions" / "sticky_dispatcher" / "app.py"
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("sticky_dispatcher_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grow(layout: str, entries: int, checkpoints: tuple[int, ...]) -> dict:
    """In the child: grow the history, measuring the windows before each checkpoint."""
    app = load_dispatcher()
    if layout == "single":
        app.HEAD_MAX_BYTES = 2**62  # never rolls over: one document rewritten whole
    s3 = app.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sizes: dict[str, int] = {}
    batch_io = {"written": 0, "overwritten": 0, "puts": 0, "gets": 0, "lists": 0}

    def on_put(params: dict, **_: Any) -> None:
        size = len(params["Body"])
        batch_io["written"] += size
        batch_io["puts"] += 1
        batch_io["overwritten"] += sizes.get(params["Key"], 0)
        sizes[params["Key"]] = size

    s3.meta.events.register("provide-client-params.s3.PutObject", on_put)
    s3.meta.events.register(
        "provide-client-params.s3.GetObject", lambda **_: batch_io.__setitem__("gets", batch_io["gets"] + 1)
    )
    s3.meta.events.register(
        "provide-client-params.s3.ListObjectsV2", lambda **_: batch_io.__setitem__("lists", batch_io["lists"] + 1)
    )
    context = Context()
    largest_write = 0
    totals = {"puts": 0, "gets": 0, "lists": 0, "written": 0, "overwritten": 0}
    windows: list[dict] = []
    started = time.time()

    def run_batch(seq: int, traced: bool) -> dict:
        for k in batch_io:
            batch_io[k] = 0
        if traced:
            tracemalloc.start()
        cpu = time.thread_time()
        response = app.lambda_handler(event(seq), context)
        cpu = time.thread_time() - cpu
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        if traced:
            tracemalloc.stop()
        assert not response["batchItemFailures"], response
        for k in totals:
            totals[k] += batch_io[k]
        return dict(batch_io) | {"cpu_ms": cpu * 1000, "peak_bytes": peak}

    seq = 1
    for checkpoint in checkpoints:
        while seq + BATCH - 1 <= checkpoint - WINDOW * BATCH:
            largest_write = max(largest_write, run_batch(seq, traced=False)["written"])
            seq += BATCH
        measured: list[dict] = []
        traced: list[dict] = []
        while seq + BATCH - 1 <= checkpoint:  # every other batch traced: tracemalloc slows what it traces
            (traced if len(measured) > len(traced) else measured).append(
                run_batch(seq, traced=len(measured) > len(traced))
            )
            largest_write = max(largest_write, max(b["written"] for b in measured + traced))
            seq += BATCH
        app.documents.entries.clear()  # a new process: nothing cached
        app.documents.size = 0
        cold = run_batch(seq, traced=True)
        largest_write = max(largest_write, cold["written"])
        seq += BATCH
        windows.append(
            {
                "entries": checkpoint,
                "cpu_ms_per_batch": round(statistics.median(b["cpu_ms"] for b in measured), 2),
                "bytes_written_per_batch": round(statistics.mean(b["written"] for b in measured + traced)),
                "max_bytes_written_per_batch": max(b["written"] for b in measured + traced),
                "peak_mb_per_batch": round(max(b["peak_bytes"] for b in traced) / 2**20, 2),
                "old_version_bytes_per_batch": round(statistics.mean(b["overwritten"] for b in measured + traced)),
                "cold_cpu_ms": round(cold["cpu_ms"], 2),
                "cold_peak_mb": round(cold["peak_bytes"] / 2**20, 2),
                "cold_requests": {"get": cold["gets"], "put": cold["puts"], "list": cold["lists"]},
                "requests": {
                    op: round(statistics.mean(b[f"{op}s"] for b in measured + traced), 3)
                    for op in ("put", "get", "list")
                },
            }
        )
    head = json.loads(s3.get_object(Bucket=BUCKET, Key=f"users/{USER}.json")["Body"].read())
    return {
        "layout": layout,
        "entries": seq - 1,
        "batches": (seq - 1) // BATCH,
        "segments": head.get("segments", 0),
        "largest_write_bytes": largest_write,
        "s3_requests": {"put": totals["puts"], "get": totals["gets"], "list": totals["lists"]},
        "bytes_written": totals["written"],
        "old_version_bytes": totals["overwritten"],
        "peak_rss_mb": peak_rss_mb(),
        "seconds": round(time.time() - started),
        "checkpoints": windows,
    }


def peak_rss_mb() -> float:
    """This process's peak resident set since it started (VmHWM: getrusage's maxrss would count
    the parent's memory at fork, which exec does not reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(emulator_env: dict[str, str]) -> list[dict]:
    """In the parent: one child per layout, each on a fresh bucket of the running emulator."""
    results = []
    for layout, entries, checkpoints in (
        ("segments", CHECKPOINTS[-1], CHECKPOINTS),
        ("single", SINGLE_ENTRIES, SINGLE_CHECKPOINTS),
    ):
        env = os.environ | emulator_env | child_environment(f"{BUCKET}-{layout}")
        args = ["--layout", layout, "--entries", str(entries), "--checkpoints", ",".join(map(str, checkpoints))]
        out = subprocess.run(
            [sys.executable, "-m", "bench.history", *args], env=env, cwd=REPO, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise RuntimeError(f"history workload ({layout}) failed:\n{out.stderr[-3000:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def child_environment(bucket: str) -> dict[str, str]:
    """What the deployed dispatcher's environment holds (terraform/modules/sticky_queue), plus quiet Powertools."""
    return {
        "DOCUMENT_BUCKET": bucket,
        "QUEUE_TYPE": "standard",
        "DOCUMENT_CACHE_BYTES": str(16 * 2**20),
        "POWERTOOLS_SERVICE_NAME": "sticky-dispatcher",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


NONCURRENT_DAYS = 7  # the document bucket keeps an overwritten version this long (terraform/modules/bucket)
DAYS_PER_MONTH = 30.4


def usd_per_million_messages(window: dict, prices: dict) -> dict[str, float]:
    """S3 requests and old-version storage per million messages of a user at that history length."""
    per_message = 1 / BATCH
    puts = window["requests"]["put"] + window["requests"]["list"]
    requests = (puts * prices["s3_standard_per_thousand_put_copy_post_list"] / 1e3) * per_message * 1e6
    requests += window["requests"]["get"] * prices["s3_standard_per_thousand_get_select"] / 1e3 * per_message * 1e6
    old_gb = window["old_version_bytes_per_batch"] * per_message * 1e6 / 2**30
    storage = old_gb * NONCURRENT_DAYS / DAYS_PER_MONTH * prices["s3_standard_per_gb_month"]
    return {"requests": round(requests, 3), "old_versions": round(storage, 3)}


def markdown(results: list[dict], prices: dict) -> list[str]:
    """The workload's section of bench/results.md."""
    lines = [
        "One user's history grown batch by batch (bench/history.py): the dispatcher's handler on SQS events of"
        f" {BATCH} records with the sticky workload's body, against the emulator, in its own process. CPU is the"
        " handler's thread time per batch (median of the batches before each checkpoint, untraced), peak memory is"
        " the most a batch allocated at once (tracemalloc, every other batch), old versions are the bytes a batch"
        f" overwrote, kept {NONCURRENT_DAYS} days by the versioned bucket. Cold: the first batch of a new process"
        " (the head read first). Cost: S3 requests and old-version storage per million messages of that user, at"
        " bench/prices.json's prices (the history itself costs the same in both layouts).",
        "",
        "| layout | entries | CPU per batch | cold batch CPU | bytes written per batch (mean / max) |"
        " peak memory per batch | old-version bytes per batch | USD per million messages: S3 requests |"
        " old-version storage |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for w in r["checkpoints"]:
            usd = usd_per_million_messages(w, prices)
            lines.append(
                f"| {r['layout']} | {w['entries']:,} | {w['cpu_ms_per_batch']} ms | {w['cold_cpu_ms']} ms |"
                f" {w['bytes_written_per_batch'] / 1024:.0f} KiB / {w['max_bytes_written_per_batch'] / 1024:.0f} KiB |"
                f" {w['peak_mb_per_batch']} MB | {w['old_version_bytes_per_batch'] / 1024:.0f} KiB |"
                f" {usd['requests']:.2f} | {usd['old_versions']:.2f} |"
            )
    lines.append("")
    for r in results:
        lines.append(
            f"- {r['layout']}: {r['entries']:,} entries in {r['batches']:,} batches, {r['segments']} segments;"
            f" largest write of any batch {r['largest_write_bytes'] / 1024:.0f} KiB; S3 requests"
            f" {r['s3_requests']}; peak RSS of the process {r['peak_rss_mb']} MB; {r['seconds']} s."
        )
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layout", choices=("segments", "single"), required=True)
    parser.add_argument("--entries", type=int, required=True)
    parser.add_argument("--checkpoints", required=True)
    args = parser.parse_args()
    global BUCKET
    BUCKET = os.environ["DOCUMENT_BUCKET"]
    checkpoints = tuple(int(c) for c in args.checkpoints.split(","))
    assert checkpoints[-1] == args.entries
    stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the handler's metrics and logs
    result = grow(args.layout, args.entries, checkpoints)
    print(json.dumps(result), file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
