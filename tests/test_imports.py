"""What a handler's import loads: nothing it does not use.

Each handler is imported in a fresh process, as Lambda imports it at a cold start (Tracer
enabled: LAMBDA_TASK_ROOT set, POWERTOOLS_TRACE_DISABLED unset), and the modules it loaded
are checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import FUNCTION_ENVIRONMENTS, REPO

HANDLERS = sorted(p.parent.name for p in (REPO / "functions").glob("*/app.py"))

# Powertools packages no handler uses: each costs a cold start tens to hundreds of milliseconds.
# (The parser's models package builds every event model Powertools has; the envelopes package
# imports all of them.)
NOT_IMPORTED = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.parser.envelopes",
    "aws_lambda_powertools.utilities.parser.models",
)

PROBE = """
import json, sys
import app
import botocore.client
print(json.dumps({
    "modules": sorted(sys.modules),
    "botocore_traced": hasattr(botocore.client.BaseClient._make_api_call, "__wrapped__"),
}))
"""


def imported(name: str) -> dict:
    folder = REPO / "functions" / name
    env = {k: v for k, v in os.environ.items() if k not in ("POWERTOOLS_TRACE_DISABLED", "AWS_XRAY_SDK_ENABLED")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(folder), str(REPO)]),
        LAMBDA_TASK_ROOT=str(folder),
        AWS_LAMBDA_FUNCTION_NAME=name,
        POWERTOOLS_SERVICE_NAME=name,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        **FUNCTION_ENVIRONMENTS[name],
    )
    run = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=folder, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", HANDLERS)
def test_a_handler_imports_only_what_it_uses_and_traces_only_botocore(name: str) -> None:
    probe = imported(name)
    modules = probe["modules"]

    unwanted = [m for m in modules if any(m == p or m.startswith(p + ".") for p in NOT_IMPORTED)]
    assert not unwanted, f"{name} imports {sorted({'.'.join(m.split('.')[:4]) for m in unwanted})}"

    # The X-Ray SDK imports aws_xray_sdk.ext.<library>.patch for each library it is asked to
    # patch, and patching a library imports it: only botocore (every AWS call goes through it).
    patched = sorted(m.split(".")[2] for m in modules if m.startswith("aws_xray_sdk.ext.") and m.endswith(".patch"))
    assert patched == ["botocore"], f"{name}'s Tracer patches {patched}"
    assert probe["botocore_traced"], f"{name}'s Tracer did not patch botocore"
    assert not {"sqlite3", "requests", "httpx"} & set(modules), f"{name} imported a library only a patch needs"
