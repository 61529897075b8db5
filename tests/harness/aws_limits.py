"""AWS's documented limits, checked over ``terraform show -json`` of a plan.

moto accepts what AWS refuses (a maxReceiveCount of 1,000,000, a 100-character queue name, a
batch of 100 without a batching window); this module refuses it first. Each rule cites the
page it comes from. ``violations(plan)`` returns one line per value outside a limit; values
still unknown at plan time are skipped (the plan test runs against the emulator, where data
sources resolve, so names and sizes are known).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

# Lambda's default account concurrency, and what Lambda keeps unreserved: reserved concurrency
# may total at most limit - 100.
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MINIMUM = 100

# SQS queue attributes (SetQueueAttributes / CreateQueue) and redrive policy:
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html
# (MaximumMessageSize: up to 1,048,576 bytes since August 2025.)
SQS = {
    "visibility_timeout_seconds": (0, 43200),
    "message_retention_seconds": (60, 1209600),
    "max_message_size": (1024, 1048576),
    "receive_wait_time_seconds": (0, 20),
    "delay_seconds": (0, 900),
}
SQS_MAX_RECEIVE_COUNT = (1, 1000)
SQS_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")  # ".fifo" counts toward the 80

# Lambda: https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html and
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_TIMEOUT = (1, 900)
LAMBDA_MEMORY = (128, 10240)
LAMBDA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
LAMBDA_ENVIRONMENT_BYTES = 4096  # all keys and values together

# Event source mappings for SQS: https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html (MaximumConcurrency 2-1000)
ESM_BATCH_STANDARD = (1, 10000)
ESM_BATCH_FIFO = (1, 10)
ESM_WINDOW = (0, 300)
ESM_MAX_CONCURRENCY = (2, 1000)
# CreateEventSourceMapping refuses an SQS queue whose visibility timeout is below the function's
# timeout: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html

# IAM role names: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
IAM_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
# S3 bucket names: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
S3_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# DynamoDB table names: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
DYNAMODB_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
# SNS topic names: https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html (".fifo" included)
SNS_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
# EventBridge schedule expressions: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
RATE = re.compile(r"rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)")
CRON = re.compile(r"cron\((\S+ ){5}\S+\)")  # six fields: minutes hours day-of-month month day-of-week year
# EventBridge rule names: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html
EVENT_RULE_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,64}")


def resources(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every managed resource instance the plan would have (planned_values, all modules)."""
    stack = [plan.get("planned_values", {}).get("root_module", {})]
    while stack:
        module = stack.pop()
        for r in module.get("resources", []):
            if r.get("mode") == "managed":
                yield r
        stack.extend(module.get("child_modules", []))


def _in(value: Any, bounds: tuple[int, int]) -> bool:
    return isinstance(value, int | float) and bounds[0] <= value <= bounds[1] and value == int(value)


def _check_sqs_queue(r: dict, v: dict, out: list[str]) -> None:
    name = v.get("name")
    if name is not None:
        fifo = bool(v.get("fifo_queue"))
        base = name[: -len(".fifo")] if name.endswith(".fifo") else name
        if len(name) > 80 or not SQS_NAME.fullmatch(base):
            out.append(f"{r['address']}: queue name {name!r}: up to 80 characters of A-Z a-z 0-9 _ - (.fifo included)")
        if fifo != name.endswith(".fifo"):
            out.append(f"{r['address']}: queue name {name!r}: a FIFO queue's name, and only its, ends in .fifo")
    for key, bounds in SQS.items():
        if v.get(key) is not None and not _in(v[key], bounds):
            out.append(f"{r['address']}: {key} = {v[key]} outside SQS's {bounds[0]}-{bounds[1]}")
    if v.get("redrive_policy"):
        count = json.loads(v["redrive_policy"]).get("maxReceiveCount")
        if not _in(count, SQS_MAX_RECEIVE_COUNT):
            out.append(f"{r['address']}: maxReceiveCount = {count} outside SQS's 1-1000")


def _check_lambda_function(r: dict, v: dict, out: list[str]) -> None:
    name = v.get("function_name")
    if name is not None and not LAMBDA_NAME.fullmatch(name):
        out.append(f"{r['address']}: function name {name!r}: 1-64 characters of A-Z a-z 0-9 _ -")
    if v.get("timeout") is not None and not _in(v["timeout"], LAMBDA_TIMEOUT):
        out.append(f"{r['address']}: timeout = {v['timeout']} outside Lambda's 1-900 s")
    if v.get("memory_size") is not None and not _in(v["memory_size"], LAMBDA_MEMORY):
        out.append(f"{r['address']}: memory_size = {v['memory_size']} outside Lambda's 128-10240 MB")
    environment: list[dict[str, Any]] = v.get("environment") or [{}]
    variables: dict[str, Any] = environment[0].get("variables") or {}
    size = sum(len(k) + len(str(val)) for k, val in variables.items() if val is not None)
    if size > LAMBDA_ENVIRONMENT_BYTES:
        out.append(f"{r['address']}: environment variables take {size} bytes > Lambda's 4 KB")


def _check_event_source_mapping(r: dict, v: dict, out: list[str], fifo_possible: bool) -> None:
    arn = v.get("event_source_arn")
    if arn is not None and ":sqs:" not in arn:
        return
    # An ARN unknown at plan time (queue created in the same apply): FIFO if the plan has FIFO queues.
    fifo = arn.endswith(".fifo") if arn is not None else fifo_possible
    batch, window = v.get("batch_size"), v.get("maximum_batching_window_in_seconds") or 0
    if batch is not None:
        bounds = ESM_BATCH_FIFO if fifo else ESM_BATCH_STANDARD
        if not _in(batch, bounds):
            out.append(f"{r['address']}: batch_size = {batch} outside {bounds[0]}-{bounds[1]} for this SQS queue")
        if not fifo and batch > 10 and window < 1:
            out.append(f"{r['address']}: batch_size {batch} > 10 needs maximum_batching_window_in_seconds >= 1")
    if not _in(window, ESM_WINDOW):
        out.append(f"{r['address']}: maximum_batching_window_in_seconds = {window} outside 0-300")
    for scaling in v.get("scaling_config") or []:
        concurrency = scaling.get("maximum_concurrency")
        if concurrency is not None and not _in(concurrency, ESM_MAX_CONCURRENCY):
            out.append(f"{r['address']}: maximum_concurrency = {concurrency} outside SQS mappings' 2-1000")


def _check_name(pattern: re.Pattern[str], key: str, what: str) -> Callable[[dict, dict, list[str]], None]:
    def check(r: dict, v: dict, out: list[str]) -> None:
        name = v.get(key)
        if name is not None and not pattern.fullmatch(name):
            out.append(f"{r['address']}: {what} {name!r} breaks AWS's naming rule {pattern.pattern}")

    return check


def _check_bucket(r: dict, v: dict, out: list[str]) -> None:
    name = v.get("bucket")
    if name is None:
        return
    if not S3_BUCKET_NAME.fullmatch(name) or ".." in name or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        out.append(f"{r['address']}: bucket name {name!r}: 3-63 lowercase letters, digits, dots, hyphens")


def _check_topic(r: dict, v: dict, out: list[str]) -> None:
    name = v.get("name")
    if name is not None:
        base = name[: -len(".fifo")] if name.endswith(".fifo") else name
        if len(name) > 256 or not SNS_TOPIC_NAME.fullmatch(base):
            out.append(f"{r['address']}: topic name {name!r}: up to 256 characters of A-Z a-z 0-9 _ -")


def _check_event_rule(r: dict, v: dict, out: list[str]) -> None:
    _check_name(EVENT_RULE_NAME, "name", "rule name")(r, v, out)
    expression = v.get("schedule_expression")
    if expression and not (RATE.fullmatch(expression) or CRON.fullmatch(expression)):
        out.append(f"{r['address']}: schedule_expression {expression!r} is neither rate(<n> <unit>) nor cron(6 fields)")


def _mapping_visibility(all_resources: list[dict[str, Any]]) -> list[str]:
    """A mapping's queue must be visible-timeout at least as long as its function's timeout."""
    out = []
    queues = {r["values"].get("name"): r["values"] for r in all_resources if r["type"] == "aws_sqs_queue"}
    timeouts = {
        r["address"].rsplit("aws_lambda_function.", 1)[0]: r["values"].get("timeout")
        for r in all_resources
        if r["type"] == "aws_lambda_function"
    }
    for r in all_resources:
        if r["type"] != "aws_lambda_event_source_mapping" or not r["values"].get("event_source_arn"):
            continue
        queue = queues.get(r["values"]["event_source_arn"].rsplit(":", 1)[-1])
        timeout = timeouts.get(r["address"].rsplit("aws_lambda_event_source_mapping.", 1)[0])
        visibility = (queue or {}).get("visibility_timeout_seconds")
        if visibility is not None and timeout is not None and visibility < timeout:
            out.append(f"{r['address']}: queue visibility {visibility}s < function timeout {timeout}s")
    return out


CHECKS: dict[str, Callable[[dict, dict, list[str]], None]] = {
    "aws_sqs_queue": _check_sqs_queue,
    "aws_lambda_function": _check_lambda_function,
    "aws_iam_role": _check_name(IAM_ROLE_NAME, "name", "role name"),
    "aws_s3_bucket": _check_bucket,
    "aws_dynamodb_table": _check_name(DYNAMODB_TABLE_NAME, "name", "table name"),
    "aws_sns_topic": _check_topic,
    "aws_cloudwatch_event_rule": _check_event_rule,
}


def violations(plan: dict[str, Any], account_concurrency: int = ACCOUNT_CONCURRENCY) -> list[str]:
    out: list[str] = []
    all_resources = list(resources(plan))
    fifo_possible = any(r["type"] == "aws_sqs_queue" and r["values"].get("fifo_queue") for r in all_resources)
    reserved = 0
    for r in all_resources:
        values = r.get("values") or {}
        if r["type"] in CHECKS:
            CHECKS[r["type"]](r, values, out)
        if r["type"] == "aws_lambda_event_source_mapping":
            _check_event_source_mapping(r, values, out, fifo_possible)
        if r["type"] == "aws_lambda_function" and (values.get("reserved_concurrent_executions") or -1) > 0:
            reserved += values["reserved_concurrent_executions"]
    out += _mapping_visibility(all_resources)
    if reserved > account_concurrency - UNRESERVED_MINIMUM:
        out.append(
            f"reserved concurrency totals {reserved}: Lambda keeps {UNRESERVED_MINIMUM} of the account's "
            f"{account_concurrency} unreserved, so at most {account_concurrency - UNRESERVED_MINIMUM}"
        )
    return out
