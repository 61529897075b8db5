from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import patch

import pytest

REPO = Path(__file__).resolve().parents[1]
# Importing a handler creates AWS clients (the X-Ray SDK's among them) before any fixture runs,
# so a shell's AWS_PROFILE naming a profile this host lacks would stop collection. TARGET=aws
# runs the scenarios as the caller, profile included.
if os.environ.get("TARGET") != "aws":
    os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "QueuePatternsTest")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


# Each case's new botocore Session parses the service models again; one shared cache halves the unit tests' CPU.
def _share_botocore_models() -> None:
    from botocore import loaders

    shared: dict[tuple[str, ...], dict] = {}
    init = loaders.Loader.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        init(self, *args, **kwargs)
        self._cache = shared.setdefault(tuple(self.search_paths), {})

    loaders.Loader.__init__ = __init__  # type: ignore[method-assign]


_share_botocore_models()


STANDARD = pytest.mark.parametrize("stack", ["standard"], indirect=True)
BOTH_QUEUE_TYPES = pytest.mark.parametrize("stack", ["standard", "fifo"], indirect=True)
# pytest runs a session fixture's tests grouped by parameter, standard first: a test marked
# LATE runs with the FIFO group, minutes after the standard ones (for scenarios whose
# timeouts should run out meanwhile). It must use only outputs both views share.
LATE = pytest.mark.parametrize("stack", ["fifo"], indirect=True)


# Each function's environment as Terraform sets it (its module's `environment` block), with
# stand-in values: a function reads every one of them at import, and none has a default.
FUNCTION_ENVIRONMENTS: dict[str, dict[str, str]] = {
    "fanout_counter": {
        "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/work",
        "FANOUT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:fanout",
        "MAX_WORKERS": "100",
    },
    "fanout_worker": {
        "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/work",
        "ITEMS_TABLE": "items",
        "RECEIVE_WAIT_SECONDS": "1",
    },
    "relay_consumer": {
        "RELAY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/relay",
        "LEASE_TABLE": "leases",
        "RESULTS_TABLE": "results",
        "MAX_HOPS": "200",
        "CHAIN_BUDGET_SECONDS": "900",
        "BATCHES_PER_HOP": "5",
    },
    "sticky_dispatcher": {"DOCUMENT_BUCKET": "documents", "QUEUE_TYPE": "standard"},
    "sticky_ingester": {
        "ASSIGNMENT_TABLE": "assignments",
        "ASSIGNMENT_LEASE_SECONDS": "345900",
        "MAX_MESSAGE_BYTES": "262144",
        "URL_STORE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/url-store",
        "POOL_QUEUE_URL_TEMPLATE": "https://sqs.us-east-1.amazonaws.com/123456789012/pool-{index}",
        "POOL_SIZE": "4",
    },
    "workflow_preprocessor": {
        "DOCUMENT_BUCKET": "workflow",
        "CONNECTOR_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:connector",
        "ENTRY_SERVICE": "all",
        "IDEMPOTENCY_TABLE": "idempotency",
    },
    **{
        f"workflow_{name}": {
            "SERVICE_NAME": name,
            "INPUT_STAGE": stage,
            "NEXT_SERVICE": following,
            "DOCUMENT_BUCKET": "workflow",
            "NOTIFIER_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:notifier",
            "CONNECTOR_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:connector",
        }
        for name, stage, following in (("enrich", "preprocessor", "summarize"), ("summarize", "enrich", ""))
    },
}


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py, imported once under a unique module name (every function has an app.py)."""
    module_name = f"fn_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    return import_function(name, FUNCTION_ENVIRONMENTS[name], module_name)


def import_function(name: str, environ: dict[str, str], module_name: str) -> ModuleType:
    """Import functions/<name>/app.py as its cold start does: ``environ`` as the function's variables
    (those of FUNCTION_ENVIRONMENTS[name] it leaves out are unset), and the folder's other modules
    (config.py) importable by their own names, as they are at the top of the function's zip."""
    folder = REPO / "functions" / name
    own = [p.stem for p in folder.glob("*.py") if p.stem != "app"]
    spec = importlib.util.spec_from_file_location(module_name, folder / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    unset = set(FUNCTION_ENVIRONMENTS[name]) - set(environ)
    saved = {key: sys.modules.pop(key) for key in own if key in sys.modules}
    sys.path.insert(0, str(folder))
    sys.modules[module_name] = module
    try:
        with patch.dict(os.environ, environ):
            for key in unset:
                os.environ.pop(key, None)
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    finally:
        sys.path.remove(str(folder))
        for key in own:
            sys.modules.pop(key, None)
        sys.modules.update(saved)
    return module


def configure(monkeypatch: pytest.MonkeyPatch, function: ModuleType, **changes: Any) -> None:
    """Replace fields of a function's configuration (its CONFIG) for one test."""
    monkeypatch.setattr(function, "CONFIG", dataclasses.replace(function.CONFIG, **changes))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in decorator mode, with fresh process-wide clients."""
    from moto import mock_aws

    from shared import clients

    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clients.reset()
    with mock_aws():
        yield
    clients.reset()


# The test environment: local.tfvars with the sticky settings the scenarios are written for.
TEST_VARS = {
    "sticky": '{pool_size=4, queue_type="standard", dispatcher_timeout=10, assignment_ttl_seconds=60}',
}


@pytest.fixture(scope="session")
def deployment():
    """One deployment per session: the real root (standard sticky queues) and, beside it on the
    same emulator, the FIFO sticky variant; one runner serves both."""
    from local import stack as harness
    from tests.harness import dead_letters

    deployed = harness.start(extra_vars=TEST_VARS, fifo_variant=True)
    dead_letters.start(deployed)  # their visibility timeouts run out while the other tests run
    yield deployed
    for scenario in deployed.scenarios.values():
        if isinstance(scenario, dead_letters.FanoutPoison):
            scenario.stop.set()
    deployed.runner.stop()
    urllib.request.urlopen(urllib.request.Request(f"{deployed.emulator.endpoint}/moto-api/reset", method="POST"))
    deployed.emulator.stop()


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, deployment):
    """The deployment seen through one sticky queue type.

    Tests choose the type with ``@pytest.mark.parametrize("stack", [...], indirect=True)``
    (see ``STANDARD`` / ``BOTH_QUEUE_TYPES``).
    """
    return deployment.view(getattr(request, "param", "standard"))


# --- plans: `terraform show -json` of every environment, against one emulator ----------------
# Shared by every `plans` test module (AWS limits, security rules, IAM lint, deliveries): each
# root and environment is planned once per session. Plans create nothing.

PLAN_ENVIRONMENTS = ("local", "dev", "stg", "prod")
BOOTSTRAP_ENVIRONMENTS = ("dev", "prod")
REPOSITORY = "acme/queue-patterns"


@pytest.fixture(scope="session")
def plan_emulator():
    from local.emulator import Emulator

    emulator = Emulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def environment_plans(plan_emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """``terraform show -json`` of the main root planned with each environment's tfvars."""
    from local import terraform

    env = {**plan_emulator.env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    state_dir = tmp_path_factory.mktemp("environment-plans")
    return {
        name: terraform.plan_json(
            env,
            state_dir / f"{name}.tfstate",
            var_file=f"environments/{name}.tfvars",
            extra_vars={"emulator": "true"},  # endpoint from AWS_ENDPOINT_URL, fake credentials
        )
        for name in PLAN_ENVIRONMENTS
    }


@pytest.fixture(scope="session")
def bootstrap_plans(plan_emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """``terraform show -json`` of terraform/bootstrap (the CI roles) for dev and prod."""
    import json

    from local import terraform
    from local.emulator import ACCOUNT_ID

    root = terraform.generate() / "bootstrap"
    env = {**plan_emulator.env(), "TF_CLI_CONFIG_FILE": "/dev/null"}  # no CLI-config warning before the JSON
    terraform.run(["init", "-input=false", f"-plugin-dir={terraform.plugin_dir()}"], root, env=env, capture=True)
    plans = {}
    for name in BOOTSTRAP_ENVIRONMENTS:
        tmp = tmp_path_factory.mktemp(f"bootstrap-{name}")
        args = [
            f"-var=environment={name}",
            f"-var=github_repository={REPOSITORY}",
            "-var=create_oidc_provider=false",
            f"-var=region={plan_emulator.region}",
            f'-var=deploy_policy_arns=["arn:aws:iam::{ACCOUNT_ID}:policy/deploy"]',
        ]
        plan = tmp / "plan.bin"
        terraform.run(
            ["plan", "-input=false", "-lock=false", f"-state={tmp / 'state.json'}", f"-out={plan}", *args],
            root,
            env=env,
            capture=True,
        )
        plans[name] = json.loads(terraform.run(["show", "-json", str(plan)], root, env=env, capture=True))
    return plans
