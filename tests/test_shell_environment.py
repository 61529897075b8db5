"""The unit tests make their own AWS environment: the `export` line `make apply` prints (an
endpoint, a region, dummy keys) or a profile this host lacks, left in the shell, changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# One test of each kind that reached the shell's endpoint or profile: a module importing a
# handler (clients at import), moto started by the test itself, the AWS target's own clients.
TESTS = [
    "tests/test_fanout.py::test_counter_respects_the_cap",
    "tests/test_reliability.py::test_malformed_messages_are_logged_and_dead_lettered_and_no_good_one_is_lost[relay]",
    "tests/test_targets.py::test_the_aws_target_signs_with_the_callers_credentials",
    "tests/test_redrive.py::test_limit_moves_at_most_that_many",
]


def test_unit_tests_pass_whatever_aws_variables_the_shell_exports():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    env.update(
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # nothing listens there
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_PROFILE="no-such-profile",
    )
    env.pop("TARGET", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout
