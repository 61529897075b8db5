"""The local Lambda runner: runs deployed functions the way the Lambda service would.

Everything comes from the emulator after ``terraform apply``: functions (handler, timeout,
memory, environment, reserved concurrency), SQS event source mappings (batch size,
batching window, max concurrency, ReportBatchItemFailures). Nothing is listed twice.

* Each function runs in its own worker processes (at most its concurrency), with exactly
  its deployed environment plus the variables the Lambda runtime itself sets.
* SQS: pollers receive up to ``batch_size`` messages, invoke, then delete what succeeded
  (all, or all but ``batchItemFailures``). A function with reserved concurrency is polled
  as AWS does (the mapping's maximum concurrency, else five batches at once) and a batch
  beyond its concurrency is throttled: not invoked, its receive spent, back after the
  visibility timeout. Failed messages are left to their visibility
  timeout; the emulator moves them to the DLQ after ``maxReceiveCount`` receives.
  The pollers count the SQS requests they make, per mapping (``poll_calls``): AWS bills
  the account for its pollers' requests.
* Invoke API (served by the emulator): RequestResponse runs and answers; Event is queued and
  retried twice on error, like Lambda's async invocation.
* SNS subscriptions of protocol lambda: the emulator hands each delivery to ``deliver_sns``,
  an asynchronous invocation with the SNS event.
* EventBridge schedules (rules with a ScheduleExpression and Lambda targets): fired on
  demand (``fire``, for tests) or on a clock (``start_clock``, for the demo; rate() only).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import queue
import re
import select
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger("local-runner")
AWS_INITIAL_POLLERS = 5  # an SQS mapping starts with five concurrent batches (Lambda developer guide)
# AWS Lambda quotas (docs: API_Invoke): payload of a synchronous invocation <= 6 MB (request
# and response), of an asynchronous one <= 1 MB. moto would accept anything; AWS refuses.
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
# A worker is the python3.12 runtime: the function's zip and the standard library, nothing else
# (-I: no PYTHON* variables, no script folder on sys.path; -S: no site-packages; -B: no .pyc
# written, the task root being read-only on AWS; -u: unbuffered, as PYTHONUNBUFFERED would be).
RUNTIME_FLAGS = ["-I", "-S", "-B", "-u"]


def runtime_python() -> str:
    """The interpreter workers run on: Python 3.12, the runtime's version."""
    if sys.version_info[:2] == (3, 12):
        return sys.executable
    found = shutil.which("python3.12")
    if not found:
        raise RuntimeError("the local runner needs python3.12 (the Lambda runtime's version) on PATH")
    return found


REPO = Path(__file__).resolve().parents[1]


@dataclass
class FunctionSpec:
    name: str
    arn: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]
    concurrency: int
    log_group: str
    reserved: int | None = None  # ReservedConcurrentExecutions: a hard cap, as on AWS
    role: str | None = None  # the execution role's ARN: workers and pollers run with its credentials


@dataclass
class SqsMapping:
    uuid: str
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window: int
    report_failures: bool
    maximum_concurrency: int | None


@dataclass
class Schedule:
    rule: str
    rule_arn: str
    expression: str
    function: str
    input: str | None = None


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of a ``rate(...)`` expression; None for cron() expressions."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        return None
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


def scheduled_event(schedule: Schedule, region: str) -> dict:
    """The event EventBridge sends for a scheduled rule (or the target's fixed Input)."""
    if schedule.input:
        return json.loads(schedule.input)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": schedule.rule_arn.split(":")[4],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [schedule.rule_arn],
        "detail": {},
    }


@dataclass
class InvocationResult:
    ok: bool
    payload: Any = None
    error: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None  # AWS calls the invocation made (bootstrap counts them)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def trace_header() -> str:
    """An X-Ray trace header as the Lambda runtime sets it; not sampled, so nothing is sent."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


CREDENTIALS_REFRESH_SECONDS = 300.0  # new credentials when the current ones expire sooner than this
ROLE_SESSION_SECONDS = 3600  # the DurationSeconds of each AssumeRole


@dataclass
class RoleCredentials:
    """Temporary credentials of a function's execution role, as Lambda hands them to the runtime."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expires: float  # epoch seconds

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def fresh(self, margin: float = CREDENTIALS_REFRESH_SECONDS) -> bool:
        return self.expires - time.time() > margin


class ExecutionRoles:
    """Lambda assumes each function's execution role and gives the runtime the temporary
    credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN); its SQS pollers use
    the same role. Locally the runner stands in for the Lambda service principal: it calls
    sts:AssumeRole with the emulator's own (never checked) keys, after checking that the role's
    trust policy lets lambda.amazonaws.com assume it, as Lambda's CreateFunction does. Credentials
    are renewed when they expire within ``margin`` seconds."""

    def __init__(self, client: Callable[[str], Any], margin: float = CREDENTIALS_REFRESH_SECONDS) -> None:
        self._client = client
        self.margin = margin
        self.duration = ROLE_SESSION_SECONDS
        self._current: dict[tuple[str, str], RoleCredentials] = {}
        self._lock = threading.Lock()
        self.assumed = 0  # AssumeRole calls made (tests)

    def get(self, function: str, role_arn: str) -> RoleCredentials:
        with self._lock:
            current = self._current.get((function, role_arn))
            if current is not None and current.fresh(self.margin):
                return current
            creds = self._client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName=function[:64], DurationSeconds=self.duration
            )["Credentials"]
            current = RoleCredentials(
                creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], creds["Expiration"].timestamp()
            )
            self._current[(function, role_arn)] = current
            self.assumed += 1
            return current

    def trusts_lambda(self, role_arn: str) -> bool:
        """Whether the role's trust policy allows lambda.amazonaws.com to sts:AssumeRole it."""
        try:
            role = self._client("iam").get_role(RoleName=role_arn.split("/")[-1])["Role"]
        except Exception:  # noqa: BLE001 - no such role
            return False
        document = role["AssumeRolePolicyDocument"]
        if isinstance(document, str):
            document = json.loads(urllib.parse.unquote(document))
        for statement in document.get("Statement", []):
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            services = (statement.get("Principal") or {}).get("Service", [])
            services = [services] if isinstance(services, str) else services
            if (
                statement.get("Effect") == "Allow"
                and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions)
                and "lambda.amazonaws.com" in services
            ):
                return True
        return False


class Worker:
    def __init__(
        self,
        spec: FunctionSpec,
        code_dir: Path,
        base_env: dict[str, str],
        log_file: Path,
        credentials: RoleCredentials | None = None,
    ) -> None:
        self.credentials = credentials
        env = {
            **base_env,
            **(credentials.env() if credentials else {}),
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": spec.handler,
            "PYTHONUNBUFFERED": "1",
        }
        self.spec = spec
        self._log = open(log_file, "ab")
        self.proc = subprocess.Popen(
            [runtime_python(), *RUNTIME_FLAGS, str(BOOTSTRAP), str(code_dir), spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=code_dir,
        )
        ready = self._read_line(timeout=60)  # init phase has its own (10 s in AWS) budget
        if ready is None:
            self.kill()
            raise RuntimeError(f"{spec.name}: worker did not start")

    def _read_line(self, timeout: float) -> dict | None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def invoke(self, event: Any) -> InvocationResult:
        assert self.proc.stdin is not None
        request = {
            "event": event,
            "request_id": str(uuid.uuid4()),
            "function_arn": self.spec.arn,
            "deadline": time.time() + self.spec.timeout,
            "trace_id": trace_header(),
        }
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            message = f"RequestId: {request['request_id']} Error: Runtime exited without providing a reason"
            return InvocationResult(False, error={"errorType": "Runtime.ExitError", "errorMessage": message})
        started = time.monotonic()
        answer = self._read_line(timeout=self.spec.timeout)
        self._report(request["request_id"], started, timed_out=answer is None)
        if answer is None:
            self.kill()
            message = f"RequestId: {request['request_id']} Error: Task timed out after {self.spec.timeout:.2f} seconds"
            return InvocationResult(False, error={"errorType": "Sandbox.Timedout", "errorMessage": message})
        if "error" in answer:
            error = {**answer["error"], "requestId": request["request_id"]}
            if "stackTrace" in answer["error"]:  # the Python runtime's key order
                error["stackTrace"] = error.pop("stackTrace")
            return InvocationResult(False, error=error, usage=answer.get("usage"))
        return InvocationResult(True, payload=answer["payload"], usage=answer.get("usage"))

    def _report(self, request_id: str, started: float, timed_out: bool) -> None:
        """The platform.report line Lambda writes after each invocation in the JSON log format
        (durations for tuning timeouts); every line of a function's log is JSON."""
        duration = (time.monotonic() - started) * 1000
        record = {
            "requestId": request_id,
            "metrics": {
                "durationMs": round(duration, 2),
                "billedDurationMs": int(duration) + 1,
                "memorySizeMB": self.spec.memory,
            },
            "status": "timeout" if timed_out else "success",
        }
        self._log.write((json.dumps({"time": utc_now(), "type": "platform.report", "record": record}) + "\n").encode())
        self._log.flush()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class FunctionPool:
    """At most ``concurrency`` warm workers; an invocation waits for a free one (throttling)."""

    def __init__(
        self,
        spec: FunctionSpec,
        code_dir: Path,
        base_env: dict[str, str],
        log_file: Path,
        credentials: Callable[[], RoleCredentials | None] | None = None,
    ) -> None:
        self.spec, self.code_dir, self.base_env, self.log_file = spec, code_dir, base_env, log_file
        self.credentials = credentials or (lambda: None)  # the execution role's, renewed before they expire
        self._slots = threading.BoundedSemaphore(spec.concurrency)
        self._idle: list[Worker] = []
        self._lock = threading.Lock()
        self.invocations = 0
        self.errors = 0
        self.calls: Counter[str] = Counter()  # AWS API calls made by this function's invocations
        self.s3_put_bytes = 0
        self.sqs_fifo_calls = 0  # of ``calls``, the SQS requests on FIFO queues
        self.throttles = 0
        self.closed = False  # replaced by a new deployment: workers finishing now are not kept

    def try_invoke(self, event: Any) -> InvocationResult | None:
        """Invoke if a slot is free now; None (a throttle, counted) if the function is at its concurrency."""
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self.throttles += 1
            return None
        self._slots.release()  # a race with another poller blocks briefly instead of throttling
        return self.invoke(event)

    def invoke(self, event: Any) -> InvocationResult:
        with self._slots:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            credentials = self.credentials()
            if worker is not None and worker.credentials is not credentials:  # renewed: a new environment
                worker.kill()
                worker = None
            if worker is None or not worker.alive:
                worker = Worker(self.spec, self.code_dir, self.base_env, self.log_file, credentials)
            result = worker.invoke(event)
            with self._lock:
                self.invocations += 1
                self.errors += 0 if result.ok else 1
                if result.usage:
                    self.calls.update(result.usage["calls"])
                    self.s3_put_bytes += result.usage["s3_put_bytes"]
                    self.sqs_fifo_calls += result.usage.get("sqs_fifo_calls", 0)
                if worker.alive and not self.closed:
                    self._idle.append(worker)
                elif worker.alive:
                    worker.kill()
            return result

    def close(self) -> None:
        with self._lock:
            self.closed = True
            for worker in self._idle:
                worker.kill()
            self._idle.clear()


def sqs_event_record(message: dict, queue_arn: str, region: str) -> dict:
    attributes = dict(message.get("Attributes", {}))
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            k: {
                "stringValue": v.get("StringValue"),
                "binaryValue": v.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": v["DataType"],
            }
            for k, v in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def successful_receipts(records: list[dict], result: InvocationResult, report_failures: bool) -> list[dict]:
    """Which records Lambda deletes after an invocation (AWS semantics)."""
    if not result.ok:
        return []
    if not report_failures:
        return records
    payload = result.payload if isinstance(result.payload, dict) else {}
    failures = payload.get("batchItemFailures") or []
    ids = [f.get("itemIdentifier") for f in failures if isinstance(f, dict)]
    known = {r["messageId"] for r in records}
    if any(not i or i not in known for i in ids):  # malformed response: whole batch failed
        return []
    return [r for r in records if r["messageId"] not in set(ids)]


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
        self._role_clients: dict[tuple[str, str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self.functions: dict[str, FunctionSpec] = {}
        self.mappings: list[SqsMapping] = []
        self.schedules: list[Schedule] = []
        self.pools: dict[str, FunctionPool] = {}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._async: dict[str, queue.Queue] = {}
        self._async_lock = threading.Lock()
        # SQS requests the mappings' pollers made, per mapping UUID (AWS bills them to the
        # account): "sqs:ReceiveMessage" (with messages), "sqs:ReceiveMessage:empty", "sqs:DeleteMessageBatch"
        self.poll_calls: dict[str, Counter[str]] = {}
        self._poll_lock = threading.Lock()
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

    # --- discovery -------------------------------------------------------------------------

    def discover(self) -> None:
        lam, sqs = self.client("lambda"), self.client("sqs")
        esm_concurrency: dict[str, int] = {}
        for page in lam.get_paginator("list_event_source_mappings").paginate():
            for m in page["EventSourceMappings"]:
                arn = m["EventSourceArn"]
                if not arn.startswith("arn:aws:sqs:") or m.get("State", "Enabled") not in (
                    "Enabled",
                    "Creating",
                    "Updating",
                ):
                    continue
                _, _, _, _, account, queue_name = arn.split(":")
                url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                max_conc = (m.get("ScalingConfig") or {}).get("MaximumConcurrency")
                function = m["FunctionArn"].split(":")[6]
                self.mappings.append(
                    SqsMapping(
                        uuid=m["UUID"],
                        function=function,
                        queue_url=url,
                        queue_arn=arn,
                        batch_size=m.get("BatchSize", 10),
                        batching_window=m.get("MaximumBatchingWindowInSeconds", 0),
                        report_failures="ReportBatchItemFailures" in (m.get("FunctionResponseTypes") or []),
                        maximum_concurrency=max_conc,
                    )
                )
                if max_conc:
                    esm_concurrency[function] = max_conc
        for page in lam.get_paginator("list_functions").paginate():
            for cfg in page["Functions"]:
                name = cfg["FunctionName"]
                reserved = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
                if reserved == 0:
                    continue  # throttled to zero: AWS never runs it
                concurrency = reserved or esm_concurrency.get(name) or self.default_concurrency
                self.functions[name] = FunctionSpec(
                    name=name,
                    arn=cfg["FunctionArn"],
                    handler=cfg["Handler"],
                    timeout=cfg.get("Timeout", 3),
                    memory=cfg.get("MemorySize", 128),
                    environment=(cfg.get("Environment") or {}).get("Variables", {}),
                    concurrency=min(concurrency, self.default_concurrency) if not reserved else reserved,
                    reserved=reserved,
                    log_group=(cfg.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}",
                    role=cfg.get("Role"),
                )
        self._discover_schedules()

    def _discover_schedules(self) -> None:
        events = self.client("events")
        for page in events.get_paginator("list_rules").paginate():
            for rule in page["Rules"]:
                if not rule.get("ScheduleExpression") or rule.get("State") != "ENABLED":
                    continue
                for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                    if target["Arn"].startswith("arn:aws:lambda:"):
                        self.schedules.append(
                            Schedule(
                                rule=rule["Name"],
                                rule_arn=rule["Arn"],
                                expression=rule["ScheduleExpression"],
                                function=target["Arn"].split(":")[6],
                                input=target.get("Input"),
                            )
                        )

    def _code_dir(self, name: str) -> Path:
        code = self.code_fetcher(name)
        target = self.work_dir / "code" / f"{name}-{hashlib.sha256(code).hexdigest()[:12]}"
        if not target.exists():
            tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.tmp")
            zipfile.ZipFile(io.BytesIO(code)).extractall(tmp)
            tmp.rename(target)
        return target

    # --- lifecycle -------------------------------------------------------------------------

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
                spec, self._code_dir(name), self.base_env, log_file, self._role_credentials(spec)
            )
        for mapping in self.mappings:
            if mapping.function not in self.pools:
                continue
            for i in range(self.pollers(mapping)):
                self._spawn(self._poll_sqs, mapping, name=f"poll-{mapping.function}-{i}")
        return self

    def _role_credentials(self, spec: FunctionSpec) -> Callable[[], RoleCredentials | None]:
        """The function's execution-role credentials, renewed before they expire (None: the runner's own)."""
        role = spec.role
        if not self.run_as_roles or not role:
            return lambda: None
        return lambda: self.roles.get(spec.name, role)

    def role_client(self, function: str, service: str) -> Any:
        """A client with ``function``'s execution-role credentials (what Lambda's pollers use)."""
        pool = self.pools[function]
        credentials = pool.credentials()
        if credentials is None:
            return self.client(service)
        key = (function, service, credentials.access_key_id)
        with self._clients_lock:  # boto3's default session is not thread-safe
            return self._role_clients.get(key) or self._new_role_client(key, credentials)

    def _new_role_client(self, key: tuple[str, str, str], credentials: RoleCredentials) -> Any:
        service = key[1]
        if key not in self._role_clients:
            self._role_clients[key] = boto3.client(
                service,
                endpoint_url=self.endpoint,
                region_name=self.region,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )
        return self._role_clients[key]

    def ship_logs_to_cloudwatch(self, every: float = 1.0) -> None:
        """Copy each function's log lines to its CloudWatch Logs group on the emulator (one
        stream per run), so ``aws logs tail /aws/lambda/<name>`` works as on AWS."""
        self._spawn(self._ship_logs, every, name="log-shipper")

    def _ship_logs(self, every: float) -> None:
        logs = self.client("logs")
        stream = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        offsets = {
            name: pool.log_file.stat().st_size if pool.log_file.exists() else 0 for name, pool in self.pools.items()
        }
        created: set[str] = set()
        while not self._stop.wait(every):
            for name, pool in list(self.pools.items()):
                try:
                    with open(pool.log_file, "rb") as f:
                        f.seek(offsets.get(name, 0))
                        data = f.read()
                    complete = data[: data.rfind(b"\n") + 1]  # whole lines only
                    offsets[name] = offsets.get(name, 0) + len(complete)
                    lines = [line for line in complete.decode(errors="replace").splitlines() if line.strip()]
                    if not lines:
                        continue
                    if name not in created:
                        try:
                            logs.create_log_group(logGroupName=pool.spec.log_group)
                        except logs.exceptions.ResourceAlreadyExistsException:
                            pass
                        try:
                            logs.create_log_stream(logGroupName=pool.spec.log_group, logStreamName=stream)
                        except logs.exceptions.ResourceAlreadyExistsException:
                            pass
                        created.add(name)
                    now = int(time.time() * 1000)
                    for start in range(0, len(lines), 1000):
                        logs.put_log_events(
                            logGroupName=pool.spec.log_group,
                            logStreamName=stream,
                            logEvents=[{"timestamp": now, "message": line} for line in lines[start : start + 1000]],
                        )
                except FileNotFoundError:
                    continue
                except Exception:
                    if not self._stop.is_set():
                        log.exception("shipping %s's logs", name)

    def reload(self, name: str) -> bool:
        """The function's code changed (UpdateFunctionCode): later invocations run the new code
        in fresh workers; invocations in flight finish on the old. Returns whether it was known."""
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
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        for pool in self.pools.values():
            pool.close()

    def _spawn(self, target: Callable, *args: Any, name: str) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    # --- SQS event source mapping ---------------------------------------------------------

    def pollers(self, mapping: SqsMapping) -> int:
        """Concurrent batches the mapping takes, as AWS: its maximum concurrency, else five to start.

        Only a function with reserved concurrency is capped on AWS; there, batches beyond the
        cap are throttled (``_poll_sqs``). Others run as many batches as the local pool has slots.
        """
        spec = self.pools[mapping.function].spec
        if spec.reserved:
            return mapping.maximum_concurrency or AWS_INITIAL_POLLERS
        return spec.concurrency

    def _count_poll(self, mapping: SqsMapping, operation: str) -> None:
        with self._poll_lock:
            self.poll_calls.setdefault(mapping.uuid, Counter())[operation] += 1

    def _poll_sqs(self, mapping: SqsMapping) -> None:
        """One of the mapping's pollers; it calls SQS with the function's execution role, as AWS's does."""
        while not self._stop.is_set():
            try:
                sqs = self.role_client(mapping.function, "sqs")
                messages = self._receive(sqs, mapping)
                if not messages:
                    continue
                records = [sqs_event_record(m, mapping.queue_arn, self.region) for m in messages]
                pool = self.pools[mapping.function]  # the current code (make deploy replaces pools)
                if pool.spec.reserved:
                    throttled = pool.try_invoke({"Records": records})
                    if throttled is None:  # AWS: the batch returns after its visibility timeout, a receive spent
                        log.warning(
                            "%s throttled: %d messages left to their visibility timeout", pool.spec.name, len(records)
                        )
                        continue
                    result = throttled
                else:
                    result = pool.invoke({"Records": records})
                if not result.ok:
                    log.warning("%s failed: %s", mapping.function, result.error)
                done = successful_receipts(records, result, mapping.report_failures)
                for start in range(0, len(done), 10):
                    self._count_poll(mapping, "sqs:DeleteMessageBatch")
                    sqs.delete_message_batch(
                        QueueUrl=mapping.queue_url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                            for i, r in enumerate(done[start : start + 10])
                        ],
                    )
            except ClientError as exc:  # an AccessDenied of the execution role: the mapping's error, as AWS shows it
                if not self._stop.is_set():
                    error = exc.response.get("Error", {})
                    log.error("poller for %s: %s: %s", mapping.function, error.get("Code"), error.get("Message"))
                    time.sleep(1.0)
            except Exception:  # keep polling, as the service does
                if not self._stop.is_set():
                    log.exception("poller for %s", mapping.function)
                    time.sleep(0.5)

    def _receive(self, sqs: Any, mapping: SqsMapping) -> list[dict]:
        deadline = time.time() + mapping.batching_window
        messages: list[dict] = []
        while len(messages) < mapping.batch_size and not self._stop.is_set():
            got = sqs.receive_message(
                QueueUrl=mapping.queue_url,
                MaxNumberOfMessages=min(10, mapping.batch_size - len(messages)),
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            self._count_poll(mapping, "sqs:ReceiveMessage" if got else "sqs:ReceiveMessage:empty")
            messages.extend(got)
            if not got or time.time() >= deadline:
                break
        return messages

    # --- EventBridge schedules and SNS subscriptions -----------------------------------------

    def schedule(self, rule: str) -> Schedule:
        return next(s for s in self.schedules if s.rule == rule)

    def fire(self, rule: str, sync: bool = False) -> list[Any]:
        """Fire a schedule now: asynchronously like EventBridge (returns the events queued), or
        synchronously (tests; returns each target's InvocationResult)."""
        targets = [s for s in self.schedules if s.rule == rule and s.function in self.pools]
        if not targets:
            raise KeyError(f"no schedule {rule!r} with a Lambda target")
        results: list[Any] = []
        for schedule in targets:
            event = scheduled_event(schedule, self.region)
            if sync:
                results.append(self.pools[schedule.function].invoke(event))
            else:
                self._async_queue(schedule.function).put((event, 0))
                results.append(event)
        return results

    def start_clock(self) -> None:
        """Fire every rate() schedule at its rate, first one period after start (as EventBridge)."""
        for schedule in self.schedules:
            period = rate_seconds(schedule.expression)
            if period is None:
                log.warning("clock skips %s: only rate() expressions run on the clock", schedule.rule)
                continue
            self._spawn(self._tick, schedule, period, name=f"clock-{schedule.rule}")

    def _tick(self, schedule: Schedule, period: float) -> None:
        while not self._stop.wait(period):
            if schedule.function in self.pools:
                self._async_queue(schedule.function).put((scheduled_event(schedule, self.region), 0))

    def deliver_sns(self, endpoint: str, event: dict) -> None:
        """An SNS delivery to a Lambda subscription: an asynchronous invocation."""
        try:
            name = self._resolve(endpoint)
        except KeyError:
            log.warning("SNS delivery to unknown function %s dropped", endpoint)
            return
        self._async_queue(name).put((event, 0))

    # --- Invoke API ------------------------------------------------------------------------

    def _resolve(self, name_or_arn: str) -> str:
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn
        if name not in self.pools:
            raise KeyError(name)
        return name

    def handle_invoke(self, name_or_arn: str, kind: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """The Invoke API as Lambda answers it: refusals first (nothing runs), then the function."""
        try:
            name = self._resolve(name_or_arn)
        except KeyError:
            arn = name_or_arn if name_or_arn.startswith("arn:") else f"function:{name_or_arn}"
            return api_error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        if kind not in ("RequestResponse", "Event", "DryRun"):
            return api_error(400, "InvalidParameterValueException", f"Unsupported invocation type: {kind}")
        limit = ASYNC_PAYLOAD_LIMIT if kind == "Event" else SYNC_PAYLOAD_LIMIT
        if len(body) > limit:
            return api_error(
                413,
                "RequestEntityTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            )
        try:
            event = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError) as exc:
            return api_error(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: Could not parse payload into json: {exc}",
            )
        if kind == "DryRun":
            return 204, {}, b""
        if kind == "Event":
            self._async_queue(name).put((event, 0))
            return 202, {}, b""
        result = self.pools[name].invoke(event)
        headers = {"X-Amz-Executed-Version": "$LATEST", "Content-Type": "application/json"}
        if result.ok:
            payload = json.dumps(result.payload).encode()
            if len(payload) <= SYNC_PAYLOAD_LIMIT:
                return 200, headers, payload
            result = InvocationResult(
                False,
                error={
                    "errorMessage": f"Response payload size ({len(payload)} bytes) exceeded maximum allowed"
                    f" payload size ({SYNC_PAYLOAD_LIMIT} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge",
                },
            )
        return 200, {**headers, "X-Amz-Function-Error": "Unhandled"}, json.dumps(result.error).encode()

    def pending(self, name: str) -> int:
        """Asynchronous invocations of ``name`` (an ARN or name) queued and not yet started."""
        with self._async_lock:
            q = self._async.get(self._resolve(name))
        return q.qsize() if q is not None else 0

    def _async_queue(self, name: str) -> queue.Queue:
        with self._async_lock:
            if name not in self._async:
                self._async[name] = queue.Queue()
                for i in range(self.pools[name].spec.concurrency):
                    self._spawn(self._run_async, name, name=f"async-{name}-{i}")
            return self._async[name]

    def _run_async(self, name: str) -> None:
        q = self._async[name]
        while not self._stop.is_set():
            try:
                event, attempt = q.get(timeout=0.5)
            except queue.Empty:
                continue
            result = self.pools[name].invoke(event)
            if not result.ok and attempt < len(self.async_retry_delays):
                threading.Timer(self.async_retry_delays[attempt], q.put, args=((event, attempt + 1),)).start()
            elif not result.ok:
                log.error("async invocation of %s dropped after retries: %s", name, result.error)


def api_error(status: int, kind: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """An error of the Lambda API itself (rest-json: the type in x-amzn-ErrorType, the message in the body)."""
    headers = {"x-amzn-ErrorType": kind, "Content-Type": "application/json"}
    return status, headers, json.dumps({"Type": "User", "message": message}).encode()
