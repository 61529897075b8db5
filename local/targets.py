"""Where the end-to-end scenarios run: one interface, one implementation per target.

A scenario gets a deployed ``Target`` and uses only this interface plus the AWS APIs
(``target.client(service)``): it never imports the runner, so the same scenario proves the
system on the embedded emulator + local runner, on LocalStack (its own event source mapping
pollers, redrive, SNS delivery, S3 notifications and schedules) and on a deployed AWS
environment (``TARGET=aws``: never applied, reset or run against prod from here).

* ``deploy()``: apply the project's Terraform root; returns its outputs.
* ``invoke(function, payload, sync=True)``: the Lambda Invoke API (RequestResponse / Event).
* ``fire_schedule(rule, sync=False)``: what EventBridge does when a schedule fires, through the
  Lambda Invoke API: each Lambda target of the rule gets the scheduled event (or its Input).
* ``function_configuration(function)``: Lambda GetFunctionConfiguration.
* ``logs(function)``: the function's log lines, from CloudWatch Logs where the target has them.
* ``await_ttl_deletion(table, key, timeout)``: return once DynamoDB's TTL has deleted an item
  whose TTL attribute is already in the past (embedded: the emulator's sweeper; LocalStack:
  triggered; aws: deleted by the caller, since TTL takes up to days).
* ``resize_pool(pool_size, queues_kept=0)``: apply the root again with the sticky pattern's
  ``pool_size`` (and ``queues_kept``) changed, as an operator resizes the pool; returns the
  outputs. Only a target that applies (``applies``) can.
* ``reset()`` / ``stop()``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local.runner.schedules import Schedule, scheduled_event

REPO = Path(__file__).resolve().parents[1]
TARGETS = ("embedded", "localstack", "aws")
AWS_ENVIRONMENTS = ("dev", "stg")  # the aws target never runs against prod (nor local)


@dataclass
class Invocation:
    ok: bool
    payload: Any = None
    error: dict[str, Any] | None = None


@dataclass
class Target:
    """The interface, with what every AWS-API target shares; subclasses start and stop the platform."""

    name: str = "abstract"
    outputs: dict[str, Any] = field(default_factory=dict)
    endpoint: str | None = None
    region: str = "us-east-1"
    timings: dict[str, float] = field(default_factory=dict)
    applies: bool = True  # whether deploy() and resize_pool() apply Terraform here
    var_file: str = "environments/local.tfvars"
    deployed_vars: dict[str, str] = field(default_factory=dict)  # the extra_vars deploy() applied

    # --- platform (per target) -------------------------------------------------------------

    def reapply(self, extra_vars: dict[str, str]) -> dict[str, Any]:
        """Apply the deployed root again with ``extra_vars`` over the deployed ones; the outputs."""
        raise NotImplementedError

    def resize_pool(self, pool_size: int, queues_kept: int = 0) -> dict[str, Any]:
        """Apply the root with the sticky pattern's ``pool_size`` and ``queues_kept`` changed and
        every other sticky setting as deployed (docs/sticky.md, pool resize)."""
        sticky = sticky_settings(self.deployed_vars.get("sticky") or var_file_block(self.var_file, "sticky"))
        sticky |= {"pool_size": str(pool_size), "queues_kept": str(queues_kept)}
        started = time.monotonic()
        self.outputs = {**self.outputs, **self.reapply({"sticky": hcl_object(sticky)})}
        kept = f" ({queues_kept} kept)" if queues_kept > pool_size else ""
        self.timings[f"resize to {pool_size}{kept}"] = time.monotonic() - started
        return self.outputs

    def deploy(self, extra_vars: dict[str, str] | None = None, fifo_variant: bool = False) -> dict[str, Any]:
        """Deploy the root; with ``fifo_variant``, the sticky pattern on FIFO queues too (outputs["fifo"])."""
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    # --- AWS APIs ---------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        from local.emulator import endpoint_client

        return endpoint_client(service, self.endpoint, self.region)

    def invoke(self, function: str, payload: Any, sync: bool = True) -> Invocation:
        response = self.client("lambda").invoke(
            FunctionName=function,
            InvocationType="RequestResponse" if sync else "Event",
            Payload=json.dumps(payload).encode(),
        )
        if not sync:
            return Invocation(ok=response["StatusCode"] == 202)
        body = response["Payload"].read()
        decoded = json.loads(body) if body else None
        if "FunctionError" in response:
            return Invocation(ok=False, error=decoded)
        return Invocation(ok=True, payload=decoded)

    def schedules(self, rule: str) -> list[Schedule]:
        events = self.client("events")
        described = events.describe_rule(Name=rule)
        return [
            Schedule(
                rule=rule,
                rule_arn=described["Arn"],
                expression=described.get("ScheduleExpression", ""),
                function=t["Arn"].split(":")[6],
                input=t.get("Input"),
            )
            for t in events.list_targets_by_rule(Rule=rule)["Targets"]
            if t["Arn"].startswith("arn:aws:lambda:")
        ]

    def fire_schedule(self, rule: str, sync: bool = False) -> list[Invocation]:
        found = self.schedules(rule)
        if not found:
            raise KeyError(f"no schedule {rule!r} with a Lambda target")
        return [self.invoke(s.function, scheduled_event(s, self.region), sync=sync) for s in found]

    def function_configuration(self, function: str) -> dict[str, Any]:
        return self.client("lambda").get_function_configuration(FunctionName=function)

    def await_ttl_deletion(self, table: str, key: dict[str, Any], timeout: float = 30.0) -> None:
        """Return once the item at ``key`` (low-level attribute values) of ``table``, whose TTL
        attribute is already in the past, is gone; TimeoutError after ``timeout`` seconds. The
        embedded emulator's sweeper deletes it within ``EMULATOR_TTL_LAG_SECONDS`` + ~1 s."""
        self._await_gone(table, key, timeout)

    def _await_gone(self, table: str, key: dict[str, Any], timeout: float, poke: Any = None) -> None:
        ddb = self.client("dynamodb")
        deadline = time.monotonic() + timeout
        while True:
            if poke is not None:
                poke()
            if "Item" not in ddb.get_item(TableName=table, Key=key, ConsistentRead=True):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{table} item {key} still there after {timeout:.1f} s")
            time.sleep(0.1)

    def logs(self, function: str) -> list[str]:
        cfg = self.function_configuration(function)
        group = (cfg.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{function}"
        client = self.client("logs")
        lines: list[str] = []
        try:
            for page in client.get_paginator("filter_log_events").paginate(logGroupName=group):
                lines += [e["message"] for e in page["events"]]
        except client.exceptions.ResourceNotFoundException:
            return []
        return lines


def var_file_block(var_file: str, name: str) -> str:
    """The text of ``name = { ... }`` in ``terraform/<var_file>`` (a flat object of settings)."""
    import re

    text = (REPO / "terraform" / var_file).read_text()
    found = re.search(rf"^{name}\s*=\s*(\{{.*?^\}})", text, re.M | re.S)
    if found is None:
        raise ValueError(f"terraform/{var_file} sets no {name} = {{ ... }}")
    return found.group(1)


def sticky_settings(block: str) -> dict[str, str]:
    """``{key = value, ...}`` (one a line or comma-separated; numbers and quoted strings) as
    key -> the value's HCL text."""
    import re

    lines = [re.sub(r"\s*#.*$", "", line) for line in block.strip().strip("{}").splitlines()]
    pairs = [p.strip() for line in lines for p in line.split(",") if p.strip()]
    return {key.strip(): value.strip() for key, value in (p.split("=", 1) for p in pairs)}


def hcl_object(settings: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key} = {value}" for key, value in settings.items()) + "}"


def _terraform_env(endpoint_env: dict[str, str]) -> dict[str, str]:
    venv_bin = Path(sys.executable).parent
    env = {**endpoint_env, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not Path(os.environ.get("TF_CLI_CONFIG_FILE", "/nonexistent")).exists():
        env["TF_CLI_CONFIG_FILE"] = os.devnull
    return env


def _apply(
    endpoint_env: dict[str, str],
    var_file: str,
    extra_vars: dict[str, str] | None,
    fifo_variant: bool = False,
    state_dir: Path | None = None,
) -> dict[str, Any]:
    """Apply the root (and, with ``fifo_variant``, the FIFO sticky variant beside it, under the
    output ``fifo``: terraform/variants/sticky_fifo); return the outputs. The states are kept in
    ``state_dir`` when given (``_reapply``), else removed."""
    from local import terraform, variant
    from local.stack import apply_in_thread

    env = _terraform_env(endpoint_env)
    kept = state_dir is not None
    state_dir = state_dir or Path(tempfile.mkdtemp(prefix="tfstate-"))
    results: dict[str, Any] = {}
    try:
        thread = None
        if fifo_variant:
            terraform.generate()  # once, before the two applies share the copy
            fifo_state = state_dir / "fifo.tfstate"
            thread = apply_in_thread(results, "fifo", variant.apply, env, fifo_state, extra_vars, var_file=var_file)
        outputs = terraform.apply(env, state_dir / "terraform.tfstate", var_file=var_file, extra_vars=extra_vars)
        if thread is not None:
            thread.join()
            if isinstance(results["fifo"], BaseException):
                raise results["fifo"]
            outputs["fifo"] = results["fifo"]
        return outputs
    finally:
        if not kept:
            shutil.rmtree(state_dir, ignore_errors=True)


def _reapply(
    endpoint_env: dict[str, str], var_file: str, extra_vars: dict[str, str], state_dir: Path
) -> dict[str, Any]:
    """Apply the root again over the state ``_apply`` kept in ``state_dir``; return the outputs."""
    from local import terraform

    return terraform.apply(_terraform_env(endpoint_env), state_dir / "terraform.tfstate", var_file, extra_vars)


@dataclass
class LocalStackTarget(Target):
    """LocalStack. Host mode (local/localstack): started here, our executor runs the functions.

    With ``LOCALSTACK_ENDPOINT`` set (Docker: docker-compose.yml) the running LocalStack there
    is used as it is, and LocalStack runs the functions in its own containers.
    """

    name: str = "localstack"
    var_file: str = "environments/localstack.tfvars"
    instance: Any = None
    state_dir: Path | None = None  # the applied states, kept for reapply
    terraform_env: dict[str, str] = field(default_factory=dict)

    def deploy(self, extra_vars: dict[str, str] | None = None, fifo_variant: bool = False) -> dict[str, Any]:
        from local.localstack import install
        from local.localstack.launcher import LocalStack

        external = os.environ.get("LOCALSTACK_ENDPOINT")
        if external:
            self.endpoint = external
        else:
            self.timings["install"] = install.ensure_installed(verbose=False)
            self.instance = LocalStack().start()
            self.timings["start"] = self.instance.start_seconds
            self.endpoint = self.instance.endpoint
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
        started = time.monotonic()
        self.terraform_env, self.deployed_vars = env, dict(extra_vars or {})
        self.state_dir = Path(tempfile.mkdtemp(prefix="tfstate-"))
        try:
            self.outputs = _apply(env, self.var_file, extra_vars, fifo_variant, self.state_dir)
        except Exception:
            self.stop()
            raise
        self.timings["apply"] = time.monotonic() - started
        return self.outputs

    def reapply(self, extra_vars: dict[str, str]) -> dict[str, Any]:
        assert self.state_dir is not None, "deploy() first"
        self.deployed_vars |= extra_vars
        return _reapply(self.terraform_env, self.var_file, self.deployed_vars, self.state_dir)

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint}/_localstack/state/reset", method="POST")
        urllib.request.urlopen(request, timeout=60).read()

    def await_ttl_deletion(self, table: str, key: dict[str, Any], timeout: float = 30.0) -> None:
        """LocalStack 4.14 deletes expired items only when asked (its hourly worker runs only
        with ``DYNAMODB_REMOVE_EXPIRED_ITEMS``): ``DELETE /_aws/dynamodb/expired`` scans every
        table with TTL enabled and deletes each item whose TTL is <= now. Asked before each look."""
        import urllib.request

        def sweep() -> None:
            request = urllib.request.Request(f"{self.endpoint}/_aws/dynamodb/expired", method="DELETE")
            urllib.request.urlopen(request, timeout=60).read()

        self._await_gone(table, key, timeout, poke=sweep)

    def stop(self) -> None:
        if self.instance is not None:
            started = time.monotonic()
            self.instance.stop()
            self.timings["stop"] = time.monotonic() - started
            self.instance = None
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None


@dataclass
class EmbeddedTarget(Target):
    """The embedded emulator + local runner (local/stack.py), driven through the same APIs."""

    name: str = "embedded"
    stack: Any = None

    def deploy(self, extra_vars: dict[str, str] | None = None, fifo_variant: bool = False) -> dict[str, Any]:
        from local import stack

        started = time.monotonic()
        self.deployed_vars = dict(extra_vars or {})
        self.stack = stack.start(extra_vars=extra_vars, fifo_variant=fifo_variant, keep_state=True)
        self.timings["start+apply"] = time.monotonic() - started
        self.timings["apply"] = self.stack.apply_seconds
        env = self.stack.emulator.env()
        self.endpoint, self.region = env["AWS_ENDPOINT_URL"], env["AWS_REGION"]
        self.outputs = dict(self.stack.outputs)
        if fifo_variant:
            self.outputs["fifo"] = self.stack.variants["fifo"]
        return self.outputs

    def reapply(self, extra_vars: dict[str, str]) -> dict[str, Any]:
        """The stack applies over its kept state and serves what changed (local/stack.py)."""
        self.deployed_vars |= extra_vars
        return dict(self.stack.reapply(extra_vars))

    def logs(self, function: str) -> list[str]:
        """The runner writes each function's output to a file, not to CloudWatch Logs."""
        path = self.stack.runner.log_dir / f"{function}.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request).read()

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None


def terraform_outputs(environment: str) -> dict[str, Any]:
    """The deployed root's outputs: ``TARGET_OUTPUTS`` (a ``terraform output -json`` file), else
    ``.build/outputs-<env>.json`` (``make outputs ENV=<env>``), else ``terraform output -json`` in
    ``terraform/`` (initialised for ``environment``'s backend, as ``make plan ENV=<env>`` leaves it)."""
    import subprocess

    how = (
        f"run `make outputs ENV={environment}` first (it reads them from the {environment} state) "
        "or set TARGET_OUTPUTS=<a terraform output -json file>"
    )
    saved = REPO / ".build" / f"outputs-{environment}.json"
    path = os.environ.get("TARGET_OUTPUTS") or (str(saved) if saved.exists() else None)
    if path:
        raw = json.loads(Path(path).read_text())
    else:
        proc = subprocess.run(
            ["terraform", "output", "-json"], cwd=REPO / "terraform", capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"cannot read the {environment} outputs: {how}\n{proc.stderr}")
        raw = json.loads(proc.stdout or "{}")
    outputs = {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in raw.items()}
    if not outputs:
        raise RuntimeError(f"no outputs for {environment} (is it deployed?): {how}")
    return outputs


def environment_region(environment: str) -> str:
    """``region`` of ``terraform/environments/<env>.tfvars``."""
    import re

    text = (REPO / "terraform" / "environments" / f"{environment}.tfvars").read_text()
    found = re.search(r'^\s*region\s*=\s*"([^"]+)"', text, re.M)
    return found.group(1) if found else "us-east-1"


@dataclass
class AwsTarget(Target):
    """A deployed AWS environment (``ENV=dev|stg``), with the caller's credentials.

    Deployed by ``make plan``/``make apply`` (or the deploy workflow), never from here: the
    scenarios read its outputs, send their own uniquely named messages and objects, and leave
    everything else alone -- no apply, no reset, never prod.
    """

    name: str = "aws"
    environment: str = "dev"
    applies: bool = False

    def reapply(self, extra_vars: dict[str, str]) -> dict[str, Any]:
        """Never from here: a deployed environment is resized by its own plan and apply, with
        ``sticky.pool_size`` (and ``queues_kept``) changed in terraform/environments/<env>.tfvars
        (``make plan ENV=<env>`` then ``make apply ENV=<env>``, or the deploy workflow)."""
        raise RuntimeError(
            f"the aws target does not apply: set sticky {extra_vars} in environments/{self.environment}.tfvars "
            f"and run make plan/apply ENV={self.environment}"
        )

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)  # the default credential chain

    def deploy(self, extra_vars: dict[str, str] | None = None, fifo_variant: bool = False) -> dict[str, Any]:
        """Read the environment's outputs. Nothing is deployed here, so ``fifo`` is the environment
        itself when its pool queues are FIFO, and absent otherwise (the FIFO scenarios then skip)."""
        if extra_vars:
            raise ValueError("the aws target does not apply: deploy with make plan/apply ENV=<env>")
        if self.environment not in AWS_ENVIRONMENTS:
            raise ValueError(f"TARGET=aws runs against {' or '.join(AWS_ENVIRONMENTS)}, not {self.environment!r}")
        self.region = os.environ.get("AWS_REGION") or environment_region(self.environment)
        started = time.monotonic()
        self.outputs = terraform_outputs(self.environment)
        if fifo_variant:
            pools = self.outputs["sticky_queue"]["pool_queues"].values()
            if all(q["url"].endswith(".fifo") for q in pools):
                self.outputs["fifo"] = {k: self.outputs[k] for k in ("document_bucket", "sticky_queue")}
        self.timings["outputs"] = time.monotonic() - started
        return self.outputs

    def reset(self) -> None:
        raise RuntimeError("a deployed environment is never reset by the scenarios")

    def await_ttl_deletion(self, table: str, key: dict[str, Any], timeout: float = 30.0) -> None:
        """DynamoDB deletes an expired item within a few days (typically within 48 hours), far
        beyond a scenario: the scenario deletes the item itself (DeleteItem, as TTL would), so
        what follows runs as it will once TTL has acted. It proves our code's handling of the
        deletion, not DynamoDB's TTL. The scenarios role of terraform/bootstrap may delete only
        the lease scenarios' users' items (dynamodb:LeadingKeys idle-*, repair-*)."""
        self.client("dynamodb").delete_item(TableName=table, Key=key)
        self._await_gone(table, key, timeout)

    def stop(self) -> None:
        pass  # nothing was started


def create(name: str) -> Target:
    if name == "localstack":
        return LocalStackTarget()
    if name == "embedded":
        return EmbeddedTarget()
    if name == "aws":
        return AwsTarget(environment=os.environ.get("ENV", "dev"))
    raise ValueError(f"unknown target {name!r}: one of {', '.join(TARGETS)}")
