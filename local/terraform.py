"""Run the real root module offline: a generated copy whose registry module is the stand-in.

``terraform/`` is never modified. The copy lives in ``.build/offline/terraform`` next to
symlinks to ``functions/`` and ``shared/`` so relative paths resolve as in the original.
Only two things differ in the copy: the lambda module's source (the project stand-in, same
interface, kept in ``local/lambda_standin`` and copied in as ``modules/lambda_standin``) and
the provider constraint (the offline mirror has aws 5.100), plus a local backend instead of S3.

``TF_REAL_MODULE=1`` (where the Terraform registry is reachable: a laptop, GitHub Actions)
keeps the registry module and the provider constraint as written and lets ``init`` download
them (no plugin dir): the same harness then plans/applies with terraform-aws-modules/lambda.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TERRAFORM_DIR = REPO / "terraform"
OFFLINE_ROOT = REPO / ".build" / "offline"
REGISTRY_SOURCE = re.compile(r'source\s*=\s*"terraform-aws-modules/lambda/aws"\s*\n\s*version\s*=\s*"[^"]*"')
STANDIN_DIR = REPO / "local" / "lambda_standin"  # not among terraform/'s modules: never deployed
STANDIN_IN_COPY = Path("modules") / "lambda_standin"
STANDIN_SOURCE = 'source = "../lambda_standin"'
# The roots applied from the copy: the main one and the FIFO sticky variant beside it.
MAIN_ROOT = Path(".")
FIFO_VARIANT_ROOT = Path("variants") / "sticky_fifo"
PROVIDER_CONSTRAINT = re.compile(r'(source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*)"[^"]*"')
BACKEND_OVERRIDE = 'terraform {\n  backend "local" {}\n}\n'


def real_module() -> bool:
    """True when the harness should use the registry module and providers instead of the stand-in."""
    return os.environ.get("TF_REAL_MODULE", "") not in ("", "0", "false")


def plugin_dir() -> str:
    return os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins")


def plugin_args() -> list[str]:
    """``-plugin-dir`` when the offline mirror exists; without it ``terraform init`` uses the registry."""
    path = plugin_dir()
    return [f"-plugin-dir={path}"] if path and Path(path).is_dir() else []


def terraform_bin() -> str:
    found = os.environ.get("TERRAFORM") or shutil.which("terraform")
    if not found:
        raise RuntimeError("terraform CLI not found: set TERRAFORM or put terraform on PATH")
    return found


def _generated(src: Path) -> bytes:
    if src.suffix not in (".tf", ".hcl", ".tfvars"):
        return src.read_bytes()
    text = src.read_text()
    if not real_module():
        text = REGISTRY_SOURCE.sub(STANDIN_SOURCE, text)
        text = PROVIDER_CONSTRAINT.sub(r'\1">= 5.100"', text)
    return text.encode()


def _kept(rel: Path) -> bool:
    """Terraform's own working files in the copy (any root's): never removed by a regeneration."""
    return any(part.startswith(".terraform") or part == "builds" or part.endswith(".tfplan") for part in rel.parts)


def _generated_files(target: Path) -> list[Path]:
    """Every file and folder of the copy outside Terraform's working files, which are not
    walked: builds/ holds the package builds, hundreds of thousands of files."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(target):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not _kept((here / d).relative_to(target))]
        files = [here / f for f in filenames if not _kept((here / f).relative_to(target))]
        found += [here / d for d in dirnames] + files
    return found


def generate() -> Path:
    """Bring the offline copy up to date with ``terraform/``; keeps every ``.terraform`` directory.

    Safe while another process (a parallel test shard, an apply) uses the copy: a file lock
    serialises regenerations, unchanged files are not touched, changed ones are replaced
    atomically, and only files gone from ``terraform/`` are removed.
    """
    base = OFFLINE_ROOT.with_name("real") if real_module() else OFFLINE_ROOT
    target = base / "terraform"
    target.mkdir(parents=True, exist_ok=True)
    with open(base / ".generate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for link in ("functions", "shared"):
            path = base / link
            if not path.is_symlink():
                path.symlink_to(REPO / link)
        wanted: dict[Path, bytes] = {
            src.relative_to(TERRAFORM_DIR): _generated(src)
            for src in TERRAFORM_DIR.rglob("*")
            if src.is_file() and not _kept(src.relative_to(TERRAFORM_DIR))
        }
        if not real_module():
            wanted.update(
                {
                    STANDIN_IN_COPY / src.relative_to(STANDIN_DIR): _generated(src)
                    for src in STANDIN_DIR.rglob("*")
                    if src.is_file() and "__pycache__" not in src.parts
                }
            )
        for root in (MAIN_ROOT, FIFO_VARIANT_ROOT):
            wanted[root / "backend_override.tf"] = BACKEND_OVERRIDE.encode()
        for rel, data in wanted.items():
            dst = target / rel
            if dst.is_file() and dst.read_bytes() == data:
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(dst)
        for path in sorted(_generated_files(target), reverse=True):  # children before their folders
            rel = path.relative_to(target)
            if rel in wanted or rel.name == ".terraform.lock.hcl":
                continue
            if path.is_dir() and not path.is_symlink():
                if not any(path.iterdir()):
                    path.rmdir()
            else:
                path.unlink()
    return target


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, capture: bool = False) -> str:
    full_env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", **(env or {})}
    proc = subprocess.run(
        [terraform_bin(), *args],
        cwd=cwd,
        env=full_env,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"terraform {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout or ''}")
    return proc.stdout or ""


def init(root: Path) -> None:
    if real_module():
        run(["init", "-input=false", "-upgrade=false"], root, capture=True)
        return
    if (root / ".terraform" / "modules" / "modules.json").exists() and (root / ".terraform.lock.hcl").exists():
        # modules are local paths; refresh the module manifest only (no provider install)
        run(
            ["init", "-input=false", "-backend=true", *plugin_args(), "-upgrade=false"],
            root,
            capture=True,
        )
        return
    run(["init", "-input=false", *plugin_args()], root, capture=True)


def var_args(root: Path, var_file: str, extra_vars: dict[str, str] | None = None) -> list[str]:
    """The variables of an offline apply/plan: the environment's tfvars (``var_file`` under the
    copy ``root``), zips under ``root``, overrides. Every root of the copy shares the builds."""
    args = [f"-var-file={root / var_file}", f"-var=artifacts_dir={root / 'builds'}"]
    return args + [f"-var={key}={value}" for key, value in (extra_vars or {}).items()]


def apply(
    env: dict[str, str],
    state_file: Path,
    var_file: str = "environments/local.tfvars",
    extra_vars: dict[str, str] | None = None,
    root: Path = MAIN_ROOT,
) -> dict:
    """Generate, init and apply one root of the copy (the main one unless ``root`` names another,
    e.g. ``FIFO_VARIANT_ROOT``); return its outputs."""
    copy = generate()
    config = copy / root
    init(config)
    run(
        [
            "apply",
            "-input=false",
            "-auto-approve",
            "-parallelism=20",
            f"-state={state_file}",
            *var_args(copy, var_file, extra_vars),
        ],
        config,
        env=env,
        capture=True,
    )
    out = run(["output", "-json", f"-state={state_file}"], config, env=env, capture=True)
    return {k: v["value"] for k, v in json.loads(out).items()}


def plan(env: dict[str, str], state_file: Path, var_file: str = "environments/local.tfvars") -> str:
    """Generate, init and plan the root module against ``env``'s endpoint; return the plan text."""
    root = generate()
    init(root)
    return run(
        ["plan", "-input=false", f"-state={state_file}", *var_args(root, var_file)],
        root,
        env=env,
        capture=True,
    )


def plan_json(
    env: dict[str, str],
    state_file: Path,
    var_file: str = "environments/local.tfvars",
    extra_vars: dict[str, str] | None = None,
) -> dict:
    """Plan the root module for one environment's tfvars and return ``terraform show -json`` of it."""
    root = generate()
    init(root)
    plan_file = state_file.with_suffix(".tfplan")
    plan_args = [
        "plan",
        "-input=false",
        f"-state={state_file}",
        f"-out={plan_file}",
        *var_args(root, var_file, extra_vars),
    ]
    run(plan_args, root, env=env, capture=True)
    out = run(["show", "-json", str(plan_file)], root, env=env, capture=True)  # stderr warnings come first
    return json.loads(next(line for line in reversed(out.splitlines()) if line.startswith("{")))
