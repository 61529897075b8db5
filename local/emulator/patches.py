"""The emulator's corrections to moto, applied once per process (moto's models are global)."""

from __future__ import annotations

import threading

from local.emulator.dynamodb_fidelity import atomic_dynamodb_writes
from local.emulator.lambda_fidelity import (
    detach_moto_event_source_mappings,
    lambda_recursion_config,
    route_sns_lambda_deliveries,
)
from local.emulator.s3_fidelity import atomic_s3_writes, conditional_bucket_policy_statements
from local.emulator.sqs_fidelity import (
    atomic_queues,
    cheap_message_checks,
    fifo_long_poll_waits,
    keep_redrive_allow_policy,
)
from local.emulator.sqs_retention import sqs_retention

_PATCHED = threading.Lock()
_patched = False


def patch_moto() -> None:
    """Apply the emulator's corrections to moto once per process."""
    global _patched
    with _PATCHED:
        if _patched:
            return
        atomic_queues()
        atomic_dynamodb_writes()
        atomic_s3_writes()
        cheap_message_checks()
        sqs_retention()
        route_sns_lambda_deliveries()
        fifo_long_poll_waits()
        detach_moto_event_source_mappings()
        keep_redrive_allow_policy()
        conditional_bucket_policy_statements()
        lambda_recursion_config()
        _patched = True
