"""The embedded AWS emulator: moto's server, in this process, on 127.0.0.1.

One file per job:
* ``server``: the ``Emulator`` (moto's WSGI app, the IAM check of ``local/iam.py``, Lambda
  ``Invoke`` and code updates handed to the local runner);
* ``patches``: moto corrected once per process, by
  ``sqs_fidelity`` (a queue's messages change under its lock, FIFO long polls, cheap message
  checks, RedriveAllowPolicy), ``sqs_retention`` (messages older than the retention period are
  deleted), ``dynamodb_fidelity`` and ``s3_fidelity`` (conditional writes are atomic, under
  ``write_locks``; bucket policy Conditions) and ``lambda_fidelity`` (event source mappings
  left to the runner, SNS deliveries to Lambda routed to it, the recursion config);
* ``ttl``: the sweeper deleting DynamoDB items whose TTL has passed (and expired messages);
* ``clock``: the clock of retention and TTL, which a test moves ahead (``CLOCK_PATH``);
* ``move_tasks``: SQS DLQ redrive (StartMessageMoveTask and its kin).

A request signed with credentials from ``sts:AssumeRole`` is authorised against that role's
policies as AWS would (``IAM=enforce|report|off``); the emulator's own dummy keys are never
checked.
"""

from local.emulator.clock import CLOCK_PATH, clock
from local.emulator.lambda_fidelity import SnsHandler, sns_lambda_event
from local.emulator.move_tasks import MessageMoveTasks
from local.emulator.patches import patch_moto
from local.emulator.server import ACCOUNT_ID, Emulator, InvokeHandler, endpoint_client, free_port
from local.emulator.sqs_retention import expire_messages, sent_ms
from local.emulator.ttl import TTL_LAG_ENV, TtlSweeper, ttl_expired, ttl_lag_from_env

__all__ = [
    "ACCOUNT_ID",
    "CLOCK_PATH",
    "TTL_LAG_ENV",
    "Emulator",
    "InvokeHandler",
    "MessageMoveTasks",
    "SnsHandler",
    "TtlSweeper",
    "clock",
    "endpoint_client",
    "expire_messages",
    "free_port",
    "patch_moto",
    "sent_ms",
    "sns_lambda_event",
    "ttl_expired",
    "ttl_lag_from_env",
]
