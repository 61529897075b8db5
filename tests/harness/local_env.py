"""`make plan` / `make apply` for ENV=local: the embedded emulator as an environment.

python -m tests.harness.local_env plan   # what terraform would create (fresh emulator)
python -m tests.harness.local_env apply  # apply, then serve it (runner + schedules on the clock) until Ctrl-C
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.harness import stack as harness
from tests.harness import terraform
from tests.harness.emulator import Emulator


def plan() -> int:
    emulator = Emulator().start()
    try:
        env = {**emulator.env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        with tempfile.TemporaryDirectory() as state_dir:
            print(terraform.plan(env, Path(state_dir) / "local.tfstate"))
    finally:
        emulator.stop()
    return 0


def apply() -> int:
    stack = harness.start()
    stack.runner.start_clock()
    print(f"Applied in {stack.apply_seconds:.0f}s. Outputs:")
    print(json.dumps(stack.outputs, indent=2))
    print(
        f"\nEmulator: export AWS_ENDPOINT_URL={stack.emulator.endpoint}"
        " AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"
    )
    print(f"Function logs: {stack.runner.log_dir}. Schedules run on the clock. Ctrl-C stops everything.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    commands = {"plan": plan, "apply": apply}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    sys.exit(commands[sys.argv[1]]())
