"""Function packages: the patterns the function module passes, applied as 8.8.1 applies them.

Unit tests check the stand-in's pattern filter against the real module's semantics. The e2e
test builds every function's zip with Python 3.12 and imports each handler in a clean 3.12
venv holding only what the python3.12 Lambda runtime ships (boto3/botocore), the zip first
on sys.path as /var/task is: a package that needs something the runtime lacks, or that ships
its own copy of the SDK, fails here instead of on AWS.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("standin_package", REPO / "local/lambda_standin/package.py")
assert _spec and _spec.loader
package = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(package)
FUNCTION = REPO / "terraform" / "modules" / "function" / "main.tf"
BUILD = REPO / ".build" / "runtime-check"
# The SDK the python3.12 runtime ships (AWS: "Runtime-included SDK versions" in the Lambda
# Python guide); a 1.34 release, as on the runtime through 2024-2025.
RUNTIME_SDK = ["boto3==1.34.145", "botocore==1.34.145"]
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")


def package_patterns() -> list[str]:
    text = FUNCTION.read_text()
    block = re.search(r"package_patterns = \[(.*?)\n  \]", text, re.S)
    assert block, "modules/function has no local.package_patterns"
    return [s.replace("\\\\", "\\") for s in re.findall(r'"((?:[^"\\]|\\.)*)"', block.group(1))]


def kept(path: str, prefix: str = "") -> bool:
    rules = package.compile_patterns(package_patterns())
    name = os.path.normpath(os.path.join(prefix, path)) + ("/" if path.endswith("/") else "")
    return package.included(name, rules)


def test_runtime_sdk_and_bytecode_are_left_out_of_every_zip():
    for path in [
        "boto3/",
        "boto3/session.py",
        "botocore/data/sqs/2012-11-05/service-2.json.gz",
        "botocore-1.35.99.dist-info/METADATA",
        "s3transfer/manager.py",
        "jmespath/parser.py",
        "urllib3/connection.py",
        "dateutil/tz/tz.py",
        "python_dateutil-2.9.0.post0.dist-info/RECORD",
        "six.py",
        "six-1.16.0.dist-info/METADATA",
        "__pycache__/app.cpython-312.pyc",
        "bin/jp.py",
    ]:
        assert not kept(path), path
    assert not kept("__pycache__/messages.cpython-312.pyc", prefix="shared")
    for path in [
        "app.py",
        "pydantic/main.py",
        "pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so",
        "aws_xray_sdk/core/recorder.py",
        "aws_lambda_powertools/logging/logger.py",
        "wrapt/wrappers.py",
    ]:
        assert kept(path), path
    assert kept("messages.py", prefix="shared")


def test_filter_has_the_real_modules_semantics():
    """fullmatch, '!' excludes, the last matching pattern wins, a directory is tested as 'dir/'."""
    rules = package.compile_patterns(["!.*\\.txt", "keep\\.txt", "!docs/.*"])
    assert not package.included("a.txt", rules)
    assert package.included("keep.txt", rules)
    assert package.included("sub/keep.txt.bak", rules)  # fullmatch: ".*\.txt" does not match
    assert not package.included("docs/", rules) and not package.included("docs/keep.txt", rules)
    assert package.included("anything", None)


def test_stand_in_zip_honours_patterns(tmp_path: Path):
    src = tmp_path / "src"
    (src / "__pycache__").mkdir(parents=True)
    (src / "app.py").write_text("x = 1\n")
    (src / "six.py").write_text("")
    (src / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"")
    out = tmp_path / "out.zip"
    package.build(out, [{"path": str(src), "prefix_in_zip": "", "patterns": package_patterns()}])
    assert zipfile.ZipFile(out).namelist() == ["app.py"]


def python312() -> str:
    candidates = (
        os.environ.get("PYTHON312"),
        shutil.which("python3.12"),
        str(Path.home() / ".pyenv/versions/3.12.1/bin/python"),
    )
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
            if probe.stdout.strip() == b"(3, 12)":  # a pyenv shim may exist yet run no 3.12
                return candidate
    pytest.fail("python3.12 is needed to build and import the packages as the python3.12 runtime does")


def runtime_venv(python: str) -> Path:
    """A venv with only the runtime's SDK, cached under .build/ (built once)."""
    venv = BUILD / ("runtime-" + "-".join(RUNTIME_SDK).replace("==", ""))
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *RUNTIME_SDK],
            check=True,
        )
        (venv / ".complete").touch()
    return venv


@pytest.mark.plans
def test_every_handler_imports_on_the_python312_runtime_with_only_its_zip(tmp_path: Path):
    python = python312()
    venv = runtime_venv(python)
    functions = sorted(p.parent.name for p in (REPO / "functions").glob("*/app.py"))
    assert len(functions) >= 8
    for name in functions:
        spec = [
            {
                "path": str(REPO / "functions" / name),
                "prefix_in_zip": "",
                "pip_requirements": True,
                "patterns": package_patterns(),
            },
            {"path": str(REPO / "shared"), "prefix_in_zip": "shared", "patterns": package_patterns()},
        ]
        zip_path = BUILD / f"{name}.zip"
        script = REPO / "local" / "lambda_standin" / "package.py"
        subprocess.run([python, str(script), "--output", str(zip_path), "--spec", json.dumps(spec)], check=True)
        task = tmp_path / name
        with zipfile.ZipFile(zip_path) as zf:
            names = zf.namelist()
            zf.extractall(task)
        top = {n.split("/")[0] for n in names}
        assert not top & set(RUNTIME_PROVIDED), f"{name}: ships {sorted(top & set(RUNTIME_PROVIDED))}"
        assert any(n.startswith("pydantic_core/") and "cpython-312-x86_64-linux-gnu" in n for n in names), name
        probe = (
            "import sys; sys.path.insert(0, '/var/task'.replace('/var/task', sys.argv[1]))\n"
            "import app, botocore, boto3\n"
            "assert not botocore.__file__.startswith(sys.argv[1]), botocore.__file__\n"
            "print(boto3.__version__, botocore.__version__)\n"
        )
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "Check",
            "POWERTOOLS_SERVICE_NAME": name,
            "LAMBDA_TASK_ROOT": str(task),
        }
        done = subprocess.run(
            [str(venv / "bin/python"), "-s", "-c", probe, str(task)], cwd=task, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{name} does not import on the runtime:\n{done.stderr[-3000:]}"
        assert done.stdout.split() == [v.split("==")[1] for v in RUNTIME_SDK], done.stdout
