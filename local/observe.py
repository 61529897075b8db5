"""Read the running local stack through its AWS APIs, so trying it needs no AWS CLI: a user's
sticky history, every queue with its depth, a function's log from CloudWatch Logs."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from typing import Any, TextIO

from local.stack_record import Problem
from shared.history import head_key, read_history

DEPTHS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def document(s3: Any, bucket: str, user_id: str) -> str:
    """``user_id``'s whole history, indented: the sealed segments and the head, in seq order
    (shared/history.py). A head that does not parse is shown as it is stored."""
    key = head_key(user_id)
    try:
        entries = [e.model_dump(mode="json") for e in read_history(s3, bucket, user_id)]
    except ValueError:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode(errors="replace")
    if not entries:
        raise Problem(
            f"no document s3://{bucket}/{key} yet: ingest a message for {user_id} first"
            " (make invoke FN=sticky_ingester EVENT=events/sticky_ingester.json)"
        )
    return json.dumps({"user_id": user_id, "entries": entries}, indent=2)


@dataclass(frozen=True)
class Depth:
    name: str
    waiting: int
    in_flight: int
    delayed: int


def depths(sqs: Any) -> list[Depth]:
    """Every queue of the stack, by name, with its approximate message counts."""
    urls = [url for page in sqs.get_paginator("list_queues").paginate() for url in page.get("QueueUrls", [])]
    found = []
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(DEPTHS))["Attributes"]
        waiting, in_flight, delayed = (int(attributes.get(name, 0)) for name in DEPTHS)
        found.append(Depth(url.rsplit("/", 1)[-1], waiting, in_flight, delayed))
    return sorted(found, key=lambda d: d.name)


def depth_table(rows: list[Depth]) -> str:
    width = max([len("queue"), *(len(r.name) for r in rows)])
    lines = [f"{'queue':<{width}}  {'waiting':>7}  {'in flight':>9}  {'delayed':>7}"]
    lines += [f"{r.name:<{width}}  {r.waiting:>7}  {r.in_flight:>9}  {r.delayed:>7}" for r in rows]
    return "\n".join(lines)


def log_group(lam: Any, function: str) -> str:
    """Where the function logs: its LoggingConfig's group, else Lambda's default."""
    config = lam.get_function_configuration(FunctionName=function)
    return str((config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{function}")


class LogTail:
    """New events of some log groups, each once, oldest first (what ``aws logs tail`` shows)."""

    def __init__(self, logs: Any, groups: dict[str, str]) -> None:
        self.logs = logs
        self.groups = groups  # function name -> log group
        self.since = dict.fromkeys(groups, 0)  # the newest timestamp seen, per function
        self.seen: dict[str, set[str]] = {name: set() for name in groups}  # event ids at that timestamp

    def _events(self, name: str) -> list[dict[str, Any]]:
        paginator = self.logs.get_paginator("filter_log_events")
        try:
            pages = paginator.paginate(logGroupName=self.groups[name], startTime=self.since[name])
            return [event for page in pages for event in page.get("events", [])]
        except self.logs.exceptions.ResourceNotFoundException:  # nothing logged yet
            return []

    def poll(self) -> list[tuple[int, str, str]]:
        """(timestamp, function, message) of the events not returned before."""
        new = []
        for name in self.groups:
            for event in sorted(self._events(name), key=lambda e: int(e["timestamp"])):
                stamp = int(event["timestamp"])
                if stamp < self.since[name] or event["eventId"] in self.seen[name]:
                    continue
                if stamp > self.since[name]:
                    self.since[name], self.seen[name] = stamp, set()
                self.seen[name].add(event["eventId"])
                new.append((stamp, name, str(event["message"]).rstrip("\n")))
        return sorted(new, key=lambda e: e[0])


def follow(
    tail: LogTail,
    out: TextIO | None = None,
    last: int = 20,
    stop: threading.Event | None = None,
    every: float = 1.0,
) -> None:
    """Print the last ``last`` events, then each new one as it arrives, until ``stop`` is set
    (or Ctrl-C). Lines carry the function's name when more than one function is followed."""
    out, stop = out or sys.stdout, stop or threading.Event()
    named = len(tail.groups) > 1
    events = tail.poll()[-last:]
    while True:
        for _, name, message in events:
            print(f"{name}  {message}" if named else message, file=out, flush=True)
        if stop.wait(every):
            return
        events = tail.poll()
