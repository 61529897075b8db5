"""The local Lambda runner: runs deployed functions the way the Lambda service would.

Everything comes from the emulator after ``terraform apply`` (``discovery``): nothing is
listed twice. ``LocalLambdaRunner`` composes the parts, one job each:

* ``worker``: one function process, exactly its deployed environment plus the variables the
  Lambda runtime itself sets; ``pool``: a function's warm workers within its concurrency;
* ``roles``: the execution role's credentials, which workers and pollers run with;
* ``code_cache``: each deployed zip unpacked once; ``reload`` (UpdateFunctionCode) swaps a
  function's pool for one on the new code;
* ``sqs_pollers``: the SQS event source mappings; ``invoke_api``: Lambda's Invoke API;
  ``async_invocations``: the queue behind Event invokes, ``sns_delivery`` and ``schedules``
  (EventBridge rules fired on demand or on a clock); ``log_shipping``: logs to CloudWatch Logs.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local.runner import discovery, invoke_api, sns_delivery
from local.runner.async_invocations import AsyncInvocations
from local.runner.code_cache import unpacked
from local.runner.log_shipping import ship_logs
from local.runner.pool import FunctionPool, FunctionSpec, resolve
from local.runner.roles import ExecutionRoles, RoleClients, RoleCredentials
from local.runner.schedules import Schedule, Scheduler
from local.runner.sqs_pollers import SqsMapping, SqsPollers
from local.runner.threads import Threads
from local.runner.worker import utc_now

log = logging.getLogger("local-runner")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class LocalLambdaRunner:
    endpoint: str
    region: str
    code_fetcher: Callable[[str], bytes]
    work_dir: Path = field(default_factory=lambda: REPO / ".build" / "runner")
    default_concurrency: int = 4
    async_retry_delays: tuple[float, ...] = (1.0, 2.0)
    run_as_roles: bool = True  # workers and pollers use each function's execution role (False: IAM=off)

    def __post_init__(self) -> None:
        self.roles = ExecutionRoles(self.client)
        self.role_clients = RoleClients(self.endpoint, self.region)
        self.functions: dict[str, FunctionSpec] = {}
        self.mappings: list[SqsMapping] = []
        self.schedules: list[Schedule] = []
        # One pool per function, shared with the parts below: reload replaces an entry, never the dict.
        self.pools: dict[str, FunctionPool] = {}
        self.threads = Threads()
        self.async_invocations = AsyncInvocations(self.pools, self.threads, self.async_retry_delays)
        self.sqs = SqsPollers(self.pools, self.threads, self.role_client, self.region)
        self.scheduler = Scheduler(self.region, self.pools, self.async_invocations, self.threads)
        self._reload_lock = threading.Lock()
        self.log_dir = self.work_dir / "logs"
        self.base_env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            "AWS_SESSION_TOKEN": os.environ.get("AWS_SESSION_TOKEN", "test"),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.base_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.base_env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.base_env["AWS_SESSION_TOKEN"],
        )

    # --- lifecycle -------------------------------------------------------------------------

    def discover(self) -> None:
        found = discovery.discover(self.client, self.default_concurrency)
        self.functions.update(found.functions)
        self.mappings.extend(found.mappings)
        self.schedules.extend(found.schedules)

    def start(self) -> LocalLambdaRunner:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if not self.functions:
            self.discover()
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for name, spec in self.functions.items():
            log_file = self.log_dir / f"{name}.log"
            with open(log_file, "a") as f:  # runs are separated in the log
                record = {"functionName": name, "endpoint": self.endpoint, "started": started}
                f.write(json.dumps({"time": utc_now(), "type": "local.runner.start", "record": record}) + "\n")
            if self.run_as_roles and spec.role and not self.roles.trusts_lambda(spec.role):
                log.error("%s: its role %s does not trust lambda.amazonaws.com (AWS would refuse it)", name, spec.role)
            self.pools[name] = FunctionPool(
                spec, self._code_dir(name), self.base_env, log_file, self.role_credentials(spec)
            )
        for mapping in self.mappings:
            if mapping.function in self.pools:
                self.sqs.start(mapping)
        return self

    def _code_dir(self, name: str) -> Path:
        return unpacked(self.code_fetcher(name), name, self.work_dir / "code")

    def reload(self, name: str) -> bool:
        """The function's code changed (UpdateFunctionCode): later invocations run the new code
        in fresh workers; invocations in flight finish on the old. Returns whether it was known."""
        with self._reload_lock:  # two updates at once: each old pool is closed, the last code wins
            old = self.pools.get(name)
            if old is None:
                return False
            pool = FunctionPool(old.spec, self._code_dir(name), self.base_env, old.log_file, old.credentials)
            pool.invocations, pool.errors = old.invocations, old.errors
            self.pools[name] = pool
            old.close()
        log.info("%s: new code deployed (%s)", name, pool.code_dir.name)
        return True

    def stop(self) -> None:
        self.threads.stop()
        for pool in self.pools.values():
            pool.close()

    # --- execution roles -------------------------------------------------------------------

    def role_credentials(self, spec: FunctionSpec) -> Callable[[], RoleCredentials | None]:
        """The function's execution-role credentials, renewed before they expire (None: the runner's own)."""
        role = spec.role
        if not self.run_as_roles or not role:
            return lambda: None
        return lambda: self.roles.get(spec.name, role)

    def role_client(self, function: str, service: str) -> Any:
        """A client with ``function``'s execution-role credentials (what Lambda's pollers use)."""
        credentials = self.pools[function].credentials()
        if credentials is None:
            return self.client(service)
        return self.role_clients.get(function, service, credentials)

    # --- what the emulator, the tests and the tools call ----------------------------------

    @property
    def poll_calls(self) -> dict[str, Counter[str]]:
        """SQS requests the mappings' pollers made, per mapping UUID (``SqsPollers.calls``)."""
        return self.sqs.calls

    def pollers(self, mapping: SqsMapping) -> int:
        return self.sqs.concurrency(mapping)

    def schedule(self, rule: str) -> Schedule:
        return next(s for s in self.schedules if s.rule == rule)

    def fire(self, rule: str, sync: bool = False) -> list[Any]:
        return self.scheduler.fire(self.schedules, rule, sync)

    def start_clock(self) -> None:
        self.scheduler.start_clock(self.schedules)

    def deliver_sns(self, endpoint: str, event: dict) -> None:
        sns_delivery.deliver(self.pools, self.async_invocations, endpoint, event)

    def handle_invoke(self, name_or_arn: str, kind: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return invoke_api.handle_invoke(self.pools, self.async_invocations, name_or_arn, kind, body)

    def pending(self, name: str) -> int:
        """Asynchronous invocations of ``name`` (an ARN or name) queued and not yet started."""
        return self.async_invocations.pending(resolve(self.pools, name))

    def ship_logs_to_cloudwatch(self, every: float = 1.0) -> None:
        """Copy each function's log lines to its CloudWatch Logs group on the emulator."""
        self.threads.spawn(ship_logs, self.client("logs"), self.pools, self.threads.stopping, every, name="log-shipper")
