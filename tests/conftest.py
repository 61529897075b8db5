from __future__ import annotations

import importlib.util
import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
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


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (every function has an app.py)."""
    module_name = f"fn_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, REPO / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


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
