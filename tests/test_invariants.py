"""Queue rules (DLQ, visibility >= 6x consumer timeout, encryption, partial batch responses)."""

from __future__ import annotations

import pytest

from tests.conftest import STANDARD
from tests.harness.invariants import Inventory, QueueInfo, violations

Q, DLQ = "arn:aws:sqs:us-east-1:123456789012:q", "arn:aws:sqs:us-east-1:123456789012:q-dlq"


def inventory(
    visibility: int = 60,
    redrive: bool = True,
    encrypted: bool = True,
    partial: bool = True,
    alarms: bool = True,
    tls_only: bool = True,
) -> Inventory:
    inv = Inventory()
    inv.queues[DLQ] = QueueInfo(DLQ, 30, None, True)
    inv.queues[Q] = QueueInfo(
        Q, visibility, {"deadLetterTargetArn": DLQ, "maxReceiveCount": 3} if redrive else None, encrypted, tls_only
    )
    inv.timeouts = {"f": 10, "poller": 5}
    inv.consumers = {Q: {"f", "poller"}}
    inv.alarms = {("ApproximateNumberOfMessagesVisible", "q-dlq")} | {
        (m, f) for m in ("Errors", "Throttles") for f in ("f", "poller")
    }
    if not alarms:
        inv.alarms = set()
    inv.mappings = [
        {
            "EventSourceArn": Q,
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "FunctionResponseTypes": ["ReportBatchItemFailures"] if partial else [],
        }
    ]
    return inv


def test_a_compliant_inventory_has_no_violations():
    assert violations(inventory()) == []


@pytest.mark.parametrize(
    ("inv", "expected"),
    [
        (inventory(visibility=59), "visibility 59s < 6 x f's timeout 10s"),
        (inventory(redrive=False), "no dead-letter queue"),
        (inventory(encrypted=False), "not encrypted at rest"),
        (inventory(tls_only=False), "does not deny plain-HTTP requests"),
        (inventory(partial=False), "no partial batch responses"),
        (inventory(alarms=False), "no alarm when it holds a message"),
        (inventory(alarms=False), "f: no Throttles alarm"),
    ],
)
def test_each_broken_rule_is_reported(inv, expected):
    assert any(expected in v for v in violations(inv)), violations(inv)


@pytest.mark.e2e
@STANDARD
def test_every_deployed_queue_follows_the_rules(stack):
    from tests.harness.invariants import read_inventory

    inv = read_inventory(stack.client)
    consumed = {arn for arn, functions in inv.consumers.items() if functions}
    assert len(inv.queues) >= 20 and len(consumed) >= 9  # the inventory really saw the stack
    assert violations(inv) == []
