"""Terraform: interface of the registry module, static rules, validate and `terraform test`."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tests.harness import terraform

REPO = Path(__file__).resolve().parents[1]
TF = REPO / "terraform"
REFERENCE = REPO.parent / "shared" / "reference" / "terraform-aws-lambda-8.8.1-variables.tsv"


def registry_variables() -> dict[str, str]:
    with open(REFERENCE) as f:
        return {row["name"]: row["type"].split("#")[0].strip() for row in csv.DictReader(f, delimiter="\t")}


def block_body(text: str, header: str) -> str:
    start = text.index(header)
    i, depth = text.index("{", start), 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    raise ValueError(header)


def top_level_arguments(body: str) -> set[str]:
    """Names assigned at the block's own nesting level."""
    names, depth = set(), 0
    for line in body.splitlines():
        if depth == 0:
            m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
            if m:
                names.add(m.group(1))
        depth += line.count("{") + line.count("[") + line.count("(")
        depth -= line.count("}") + line.count("]") + line.count(")")
    return names


def module_calls_of_registry_module() -> list[tuple[Path, str]]:
    calls = []
    for path in TF.rglob("*.tf"):
        text = path.read_text()
        for m in re.finditer(r'module\s+"([^"]+)"\s*\{', text):
            body = block_body(text, m.group(0))
            if '"terraform-aws-modules/lambda/aws"' in body:
                calls.append((path, body))
    return calls


@pytest.mark.skipif(not REFERENCE.exists(), reason="team handout ../shared/reference not present")
def test_every_argument_we_pass_is_a_variable_of_the_real_module():
    calls = module_calls_of_registry_module()
    assert calls, "the registry module is not called anywhere"
    known = registry_variables()
    for path, body in calls:
        passed = top_level_arguments(body) - {"source", "version", "providers", "count", "for_each", "depends_on"}
        unknown = passed - known.keys()
        assert not unknown, f"{path}: not variables of terraform-aws-modules/lambda 8.8.1: {sorted(unknown)}"
        assert {"function_name", "source_path", "event_source_mapping"} <= passed


@pytest.mark.skipif(not REFERENCE.exists(), reason="team handout ../shared/reference not present")
def test_stand_in_has_the_real_modules_variable_names_and_types():
    known = registry_variables()
    text = (TF / "modules" / "lambda_standin" / "variables.tf").read_text()
    for name, type_ in re.findall(r'variable\s+"([^"]+)"\s*\{[^}]*?type\s*=\s*([^\n]+)', text):
        assert name in known, f"stand-in variable {name} is not in the real module"
        assert type_.strip() == known[name], f"{name}: stand-in type {type_.strip()} != real {known[name]}"
    # and it accepts everything the project passes
    stand_in = set(re.findall(r'variable\s+"([^"]+)"', text))
    for path, body in module_calls_of_registry_module():
        missing = top_level_arguments(body) - {"source", "version"} - stand_in
        assert not missing, f"stand-in lacks {sorted(missing)} used in {path}"


def test_production_pins_the_registry_module_and_a_current_provider():
    (_, body), *_ = module_calls_of_registry_module()
    assert re.search(r'version\s*=\s*"~> 8\.8"', body)
    assert re.search(r'version\s*=\s*"~> 6\.28"', (TF / "versions.tf").read_text())  # bounded: issue 8 item 5


def test_every_variable_has_a_description_and_a_type():
    for path in TF.rglob("variables.tf"):
        text = path.read_text()
        for m in re.finditer(r'variable\s+"([^"]+)"\s*\{', text):
            body = block_body(text, m.group(0))
            assert "description" in top_level_arguments(body), f"{path}: {m.group(1)} has no description"
            assert "type" in top_level_arguments(body), f"{path}: {m.group(1)} has no type"


def test_no_wildcard_actions_in_allow_statements():
    for path in TF.rglob("*.tf"):
        text = path.read_text()
        for m in re.finditer(r"actions\s*=\s*\[([^\]]*)\]", text):
            if "*" not in m.group(1):
                continue
            statement = text[max(0, m.start() - 300) : m.start()]
            assert re.search(r'effect\s*=\s*"Deny"', statement), f"{path}: wildcard action {m.group(1)}"
    for path in TF.rglob("*.tf"):  # no AWS-managed *FullAccess / AdministratorAccess policy attached
        assert not re.search(r"policy/\w*(FullAccess|AdministratorAccess)\b", path.read_text()), path


def test_offline_copy_changes_only_the_module_source_and_provider_constraint():
    root = terraform.generate()
    original = (TF / "modules" / "function" / "main.tf").read_text()
    offline = (root / "modules" / "function" / "main.tf").read_text()
    assert "terraform-aws-modules/lambda/aws" in original and "terraform-aws-modules/lambda/aws" not in offline
    assert 'source = "../lambda_standin"' in offline
    assert top_level_arguments(block_body(original, 'module "lambda"')) - {"version"} == top_level_arguments(
        block_body(offline, 'module "lambda"')
    )


def test_validate_and_terraform_test_with_mock_provider():
    root = terraform.generate()
    terraform.init(root)
    env = {"TF_CLI_CONFIG_FILE": "/dev/null"}
    assert "Success" in terraform.run(["validate", "-no-color"], root, env=env, capture=True)
    out = terraform.run(["test", "-no-color"], root, env=env, capture=True)
    assert re.search(r"Success! \d+ passed, 0 failed", out), out


def test_bootstrap_root_validates():
    root = terraform.generate() / "bootstrap"
    env = {"TF_CLI_CONFIG_FILE": "/dev/null"}
    terraform.run(
        ["init", "-input=false", "-backend=false", f"-plugin-dir={terraform.plugin_dir()}"], root, env=env, capture=True
    )
    assert "Success" in terraform.run(["validate", "-no-color"], root, env=env, capture=True)
