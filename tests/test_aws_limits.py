"""AWS's documented limits over the plan of every environment (tests/harness/aws_limits.py).

The unit tests feed synthetic plan JSON: each rule must refuse a bad value and accept a good
one. The e2e test plans the offline copy of terraform/ for local, dev, stg and prod against
the embedded emulator (plans create nothing) and fails on any value AWS would refuse.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from tests.conftest import PLAN_ENVIRONMENTS
from tests.harness import aws_limits

ENVIRONMENTS = PLAN_ENVIRONMENTS


def plan_of(*resources: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "planned_values": {
            "root_module": {
                "resources": [],
                "child_modules": [
                    {
                        "resources": [
                            {"address": f"module.x{i}.{type_}.r{i}", "mode": "managed", "type": type_, "values": values}
                            for i, (type_, values) in enumerate(resources)
                        ]
                    }
                ],
            }
        }
    }


GOOD_QUEUE = {
    "name": "qp-dev-work",
    "fifo_queue": False,
    "visibility_timeout_seconds": 180,
    "message_retention_seconds": 345600,
    "max_message_size": 262144,
    "receive_wait_time_seconds": 20,
    "delay_seconds": 0,
    "redrive_policy": json.dumps(
        {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:qp-dev-work-dlq", "maxReceiveCount": 5}
    ),
}
GOOD_FUNCTION = {
    "function_name": "qp-dev-worker",
    "timeout": 30,
    "memory_size": 256,
    "reserved_concurrent_executions": -1,
    "environment": [{"variables": {"TABLE": "qp-dev-items"}}],
}
GOOD_MAPPING = {
    "event_source_arn": "arn:aws:sqs:us-east-1:123456789012:qp-dev-work",
    "batch_size": 10,
    "maximum_batching_window_in_seconds": 0,
    "scaling_config": [{"maximum_concurrency": 2}],
}
GOOD = [
    ("aws_sqs_queue", GOOD_QUEUE),
    ("aws_lambda_function", GOOD_FUNCTION),
    ("aws_lambda_event_source_mapping", GOOD_MAPPING),
    ("aws_iam_role", {"name": "qp-dev-worker"}),
    ("aws_s3_bucket", {"bucket": "qp-dev-documents-123456789012"}),
    ("aws_dynamodb_table", {"name": "qp-dev-items"}),
    ("aws_sns_topic", {"name": "qp-dev-alarms"}),
    ("aws_cloudwatch_event_rule", {"name": "qp-dev-tick", "schedule_expression": "rate(5 minutes)"}),
]


def with_value(index: int, **changes: Any) -> dict[str, Any]:
    resources = copy.deepcopy(GOOD)
    resources[index][1].update(changes)
    return plan_of(*resources)


def test_a_plan_within_every_limit_passes():
    assert aws_limits.violations(plan_of(*GOOD)) == []


BAD = {
    "maxReceiveCount above 1000": (0, {"redrive_policy": json.dumps({"maxReceiveCount": 1000000})}),
    "maxReceiveCount 0": (0, {"redrive_policy": json.dumps({"maxReceiveCount": 0})}),
    "visibility above 12 h": (0, {"visibility_timeout_seconds": 43201}),
    "retention below 60 s": (0, {"message_retention_seconds": 59}),
    "retention above 14 days": (0, {"message_retention_seconds": 1209601}),
    "message size above 1 MiB": (0, {"max_message_size": 1048577}),
    "message size below 1 KiB": (0, {"max_message_size": 1023}),
    "long poll above 20 s": (0, {"receive_wait_time_seconds": 21}),
    "delay above 15 min": (0, {"delay_seconds": 901}),
    "queue name of 81 characters": (0, {"name": "q" * 81}),
    "queue name with a dot": (0, {"name": "qp.dev"}),
    "FIFO queue without .fifo": (0, {"fifo_queue": True}),
    "function timeout above 900 s": (1, {"timeout": 901}),
    "function memory below 128 MB": (1, {"memory_size": 64}),
    "function memory above 10240 MB": (1, {"memory_size": 10241}),
    "function name of 65 characters": (1, {"function_name": "f" * 65}),
    "environment above 4 KB": (1, {"environment": [{"variables": {"BIG": "x" * 4100}}]}),
    "batch above 10 without a window": (2, {"batch_size": 100}),
    "batch above 10000": (2, {"batch_size": 10001, "maximum_batching_window_in_seconds": 5}),
    "FIFO batch above 10": (
        2,
        {
            "event_source_arn": "arn:aws:sqs:us-east-1:1:q.fifo",
            "batch_size": 11,
            "maximum_batching_window_in_seconds": 1,
        },
    ),
    "window above 300 s": (2, {"maximum_batching_window_in_seconds": 301}),
    "maximum_concurrency 1": (2, {"scaling_config": [{"maximum_concurrency": 1}]}),
    "maximum_concurrency above 1000": (2, {"scaling_config": [{"maximum_concurrency": 1001}]}),
    "role name of 65 characters": (3, {"name": "r" * 65}),
    "bucket name with capitals": (4, {"bucket": "QP-dev-documents"}),
    "bucket name of 64 characters": (4, {"bucket": "b" * 64}),
    "bucket name of 2 characters": (4, {"bucket": "bb"}),
    "table name of 2 characters": (5, {"name": "ab"}),
    "topic name with a space": (6, {"name": "qp dev"}),
    "rate(1 minutes)": (7, {"schedule_expression": "rate(1 minutes)"}),
    "cron with five fields": (7, {"schedule_expression": "cron(0 12 * * ?)"}),
}


@pytest.mark.parametrize("case", BAD)
def test_each_limit_refuses_a_bad_value(case: str):
    index, changes = BAD[case]
    found = aws_limits.violations(with_value(index, **changes))
    assert len(found) == 1, (case, found)


def test_reserved_concurrency_must_leave_100_unreserved():
    functions = [("aws_lambda_function", {**GOOD_FUNCTION, "reserved_concurrent_executions": 300}) for _ in range(3)]
    assert aws_limits.violations(plan_of(*functions)) == []  # 900 reserved, 100 left
    functions.append(("aws_lambda_function", {**GOOD_FUNCTION, "reserved_concurrent_executions": 1}))
    (problem,) = aws_limits.violations(plan_of(*functions))
    assert "901" in problem


def test_a_mapping_needs_queue_visibility_at_least_the_function_timeout():
    def plan(visibility: int) -> dict[str, Any]:
        return {
            "planned_values": {
                "root_module": {
                    "child_modules": [
                        {
                            "resources": [
                                {
                                    "address": "module.f.module.lambda.aws_lambda_function.this[0]",
                                    "mode": "managed",
                                    "type": "aws_lambda_function",
                                    "values": GOOD_FUNCTION,
                                },
                                {
                                    "address": 'module.f.module.lambda.aws_lambda_event_source_mapping.this["sqs"]',
                                    "mode": "managed",
                                    "type": "aws_lambda_event_source_mapping",
                                    "values": GOOD_MAPPING,
                                },
                                {
                                    "address": "module.q.aws_sqs_queue.this",
                                    "mode": "managed",
                                    "type": "aws_sqs_queue",
                                    "values": {**GOOD_QUEUE, "visibility_timeout_seconds": visibility},
                                },
                            ]
                        }
                    ]
                }
            }
        }

    assert aws_limits.violations(plan(30)) == []
    (problem,) = aws_limits.violations(plan(29))
    assert "visibility 29s < function timeout 30s" in problem


def test_values_unknown_at_plan_time_are_skipped_not_guessed():
    unknown_arn = {**GOOD_MAPPING, "event_source_arn": None, "batch_size": 100, "maximum_batching_window_in_seconds": 1}
    assert aws_limits.violations(plan_of(("aws_lambda_event_source_mapping", unknown_arn))) == []
    fifo_queue = {**GOOD_QUEUE, "name": "qp-dev-pool.fifo", "fifo_queue": True}
    found = aws_limits.violations(
        plan_of(("aws_sqs_queue", fifo_queue), ("aws_lambda_event_source_mapping", unknown_arn))
    )
    assert len(found) == 1 and "1-10" in found[0]  # with FIFO queues in the plan an unknown source may be FIFO


# --- every environment's real plan ---------------------------------------------------------


# environment_plans: tests/conftest.py (one plan per environment per session)


@pytest.mark.plans
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_environment_plans_within_aws_limits(environment_plans: dict[str, dict], environment: str):
    assert aws_limits.violations(environment_plans[environment]) == []


@pytest.mark.plans
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_queue_triggered_function_gets_its_mapping(environment_plans: dict[str, dict], environment: str):
    """Defect 1, over the plan: each function module called with an sqs_trigger has a mapping."""
    plan = environment_plans[environment]
    expected = set()

    def walk(config: dict, path: str) -> None:
        for name, call in config.get("module_calls", {}).items():
            inner = call.get("module", {})
            if (
                "sqs_trigger" in call.get("expressions", {})
                and "module_calls" in inner
                and "lambda" in inner["module_calls"]
            ):
                expected.add(f"{path}module.{name}")
            walk(inner, f"{path}module.{name}.")

    walk(plan["configuration"]["root_module"], "")
    assert expected, "no function module with an sqs_trigger in the configuration"
    functions = {
        r["address"].split(".module.lambda.")[0]
        for r in aws_limits.resources(plan)
        if r["type"] == "aws_lambda_function"
    }
    mapped = {
        r["address"].split(".module.lambda.")[0]
        for r in aws_limits.resources(plan)
        if r["type"] == "aws_lambda_event_source_mapping"
    }
    triggered = {f for f in functions if re.sub(r"\[[^\]]*\]", "", f) in expected}
    assert {re.sub(r"\[[^\]]*\]", "", f) for f in triggered} == expected
    assert triggered - mapped == set(), "queue-triggered functions without an event source mapping"


@pytest.mark.plans
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_function_has_its_own_package(environment_plans: dict[str, dict], environment: str):
    """Defect 3: two module calls with one source_path and hash_extra build one zip from parallel runs."""
    packages: dict[str, list[str]] = {}
    for r in aws_limits.resources(environment_plans[environment]):
        if r["type"] == "terraform_data" and r["name"] == "package_filename_for_hash":
            filename = (r["values"].get("input") or {}).get("filename")
            assert filename, f"{r['address']}: package file name unknown at plan time"
            packages.setdefault(filename, []).append(r["address"])
    assert len(packages) >= 8
    shared = {f: a for f, a in packages.items() if len(a) > 1}
    assert not shared, f"functions sharing one package build: {shared}"


@pytest.mark.plans
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_the_relay_allows_recursive_loops(environment_plans: dict[str, dict], environment: str):
    """Lambda stops a request chain past 16 invocations unless the function's recursion config is
    Allow: the relay's chain of self-invocations runs up to max_hops; every other function keeps
    AWS's default (Terminate: no config resource)."""
    plan = environment_plans[environment]
    configs = {
        r["address"].split(".module.lambda.")[0]: r["values"]
        for r in aws_limits.resources(plan)
        if r["type"] == "aws_lambda_function_recursion_config"
    }
    assert set(configs) == {"module.relay_consumer.module.consumer"}, configs
    functions = {
        r["address"].split(".module.lambda.")[0]: r["values"]["function_name"]
        for r in aws_limits.resources(plan)
        if r["type"] == "aws_lambda_function"
    }
    (relay,) = configs.values()
    assert relay == {"function_name": functions["module.relay_consumer.module.consumer"], "recursive_loop": "Allow"}
