"""Terraform: interface of the registry module, static rules, validate and `terraform test`."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from local import terraform

REPO = Path(__file__).resolve().parents[1]
TF = REPO / "terraform"
REFERENCE = REPO / "tests" / "reference"  # facts about terraform-aws-modules/lambda 8.8.1, copied into the repo
STANDIN = REPO / "local" / "lambda_standin"  # the offline stand-in: local platform, not a production module
FUNCTION = TF / "modules" / "function" / "main.tf"


def reference_rows(name: str) -> list[dict[str, str]]:
    lines = (REFERENCE / f"terraform-aws-lambda-8.8.1-{name}").read_text().splitlines()
    return list(csv.DictReader([line for line in lines if not line.startswith("#")], delimiter="\t"))


def reference_header(name: str) -> list[str]:
    lines = (REFERENCE / f"terraform-aws-lambda-8.8.1-{name}").read_text().splitlines()
    return [line[2:] for line in lines if line.startswith("# ")]


def registry_variables() -> dict[str, str]:
    return {row["name"]: row["type"].split("#")[0].strip() for row in reference_rows("variables.tsv")}


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


def test_every_argument_we_pass_is_a_variable_of_the_real_module():
    calls = module_calls_of_registry_module()
    assert calls, "the registry module is not called anywhere"
    known = registry_variables()
    for path, body in calls:
        passed = top_level_arguments(body) - {"source", "version", "providers", "count", "for_each", "depends_on"}
        unknown = passed - known.keys()
        assert not unknown, f"{path}: not variables of terraform-aws-modules/lambda 8.8.1: {sorted(unknown)}"
        assert {"function_name", "source_path", "event_source_mapping"} <= passed


def test_stand_in_has_the_real_modules_variable_names_and_types():
    known = registry_variables()
    text = (STANDIN / "variables.tf").read_text()
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
    assert re.search(r'version\s*=\s*"8\.8\.1"', body)  # exactly the version tests/reference describes
    assert re.search(r'version\s*=\s*"~> 6\.28"', (TF / "versions.tf").read_text())  # bounded


def test_every_variable_has_a_description_and_a_type():
    for path in [*TF.rglob("variables.tf"), STANDIN / "variables.tf"]:
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
    # the stand-in lives with the local platform and enters only the copy
    assert not (TF / "modules" / "lambda_standin").exists()
    for src in STANDIN.glob("*.*"):  # as terraform/'s own files: only the aws constraint differs
        copied = (root / "modules" / "lambda_standin" / src.name).read_text()
        assert copied == terraform.PROVIDER_CONSTRAINT.sub(r'\1">= 5.100"', src.read_text())
    assert top_level_arguments(block_body(original, 'module "lambda"')) - {"version"} == top_level_arguments(
        block_body(offline, 'module "lambda"')
    )


@pytest.mark.plans
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


# --- the stand-in is a claim about the real module: prove it against tests/reference ----------

# Stand-in resources that replace a real one of another type (same name and condition).
SUBSTITUTES = {("resource", "terraform_data", "archive"): ("resource", "null_resource", "archive")}
# Real resources the stand-in folds into a substitute (created by the real module, not by the stand-in).
FOLDED = {("resource", "local_file", "archive_plan")}


def normalise(expr: str) -> str:
    return re.sub(r"\s+", " ", expr).strip()


def reference_resources() -> dict[tuple[str, str, str], str]:
    return {(r["kind"], r["type"], r["name"]): normalise(r["condition"] or "") for r in reference_rows("resources.tsv")}


def reference_locals() -> dict[str, str]:
    (line,) = [h for h in reference_header("resources.tsv") if h.startswith("locals:")]
    return {
        name.strip(): normalise(expr)
        for name, expr in (part.split("=", 1) for part in line.removeprefix("locals:").split(";"))
    }


def creation_condition(body: str) -> str:
    """The block's own count / for_each expression ('' when it has none)."""
    depth = 0
    for line in body.splitlines():
        if depth == 0:
            m = re.match(r"\s*(count|for_each)\s*=\s*(.+)$", line)
            if m:
                return normalise(f"{m.group(1)} = {m.group(2)}")
        depth += line.count("{") + line.count("[") + line.count("(")
        depth -= line.count("}") + line.count("]") + line.count(")")
    return ""


def standin_blocks() -> dict[tuple[str, str, str], str]:
    blocks = {}
    for path in sorted(STANDIN.glob("*.tf")):
        text = path.read_text()
        for m in re.finditer(r'^(resource|data)\s+"([^"]+)"\s+"([^"]+)"\s*\{', text, re.M):
            blocks[(m.group(1), m.group(2), m.group(3))] = creation_condition(block_body(text, m.group(0)))
    return blocks


def test_every_stand_in_resource_has_the_real_modules_type_name_and_condition():
    real = reference_resources()
    blocks = standin_blocks()
    assert ("resource", "aws_lambda_event_source_mapping", "this") in blocks
    for key, condition in blocks.items():
        counterpart = SUBSTITUTES.get(key, key)
        address = f"{key[0]} {key[1]}.{key[2]}"
        assert counterpart in real, f"stand-in {address} has no counterpart in terraform-aws-lambda 8.8.1"
        assert condition == real[counterpart], (
            f"stand-in {address}: condition {condition!r} != real {real[counterpart]!r}"
        )


def test_stand_in_locals_and_switches_are_the_real_modules():
    text = (STANDIN / "main.tf").read_text()
    for name, expr in reference_locals().items():
        m = re.search(rf"^\s*{name}\s*=\s*(.+)$", text, re.M)
        assert m and normalise(m.group(1)) == expr, f"stand-in local.{name} differs from the real module's: {expr}"
    defaults = {r["name"]: r["default"] for r in reference_rows("variables.tsv")}
    variables = (STANDIN / "variables.tf").read_text()
    read = {v for c in standin_blocks().values() for v in re.findall(r"var\.(\w+)", c)}
    read |= {v for e in reference_locals().values() for v in re.findall(r"var\.(\w+)", e)}
    for name in sorted(read):
        m = re.search(rf'variable\s+"{name}"\s*\{{', variables)
        assert m, f"stand-in does not declare var.{name}, which a creation condition reads"
        body = block_body(variables, m.group(0))
        default = re.search(r"^\s*default\s*=\s*(.+)$", body, re.M)
        assert default and normalise(default.group(1)) == defaults[name], (
            f"var.{name}: default != real {defaults[name]}"
        )


def function_module_arguments() -> dict[str, str]:
    body = block_body(FUNCTION.read_text(), 'module "lambda"')
    args, depth = {}, 0
    for line in body.splitlines():
        if depth == 0:
            m = re.match(r"\s*([A-Za-z_]\w*)\s*=\s*(.+)$", line)
            if m:
                args[m.group(1)] = m.group(2).strip()
        depth += line.count("{") + line.count("[") + line.count("(")
        depth -= line.count("}") + line.count("]") + line.count(")")
    return args


class NotALiteral(Exception):
    pass


def literal(value: str):
    value = value.split("#")[0].strip()
    if value in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[value]
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r'"[^"$]*"', value):
        return value[1:-1]
    if value in ("{}", "[]"):
        return {} if value == "{}" else []
    raise NotALiteral(value)


def created_by_real_module(condition: str, passed: dict[str, str]) -> bool:
    """Evaluate a real creation condition with what modules/function passes (else the real default).

    Raises NotALiteral when a switch the condition reads is passed as an expression: then no
    offline check can say what the real module creates, which is itself the defect.
    """
    defaults = {r["name"]: r["default"] for r in reference_rows("variables.tsv")}
    if not condition:
        return True
    expr = condition.split("=", 1)[1].strip()
    m = re.match(r"\{ for k, v in (\S+) : k => v if (.+) \}$", expr)
    if m:
        collection, expr = m.groups()
        try:
            if collection.startswith("var.") and literal(passed.get(collection[4:], defaults[collection[4:]])) in (
                {},
                [],
            ):
                return False  # an empty map: nothing is created
        except NotALiteral:
            pass  # a map we fill: the condition decides
    else:
        m = re.match(r"(.+?) \? (.+) : (.+)$", expr)
        assert m, condition
        expr = f"(({m.group(2)}) if ({m.group(1)}) else ({m.group(3)}))"
    locals_ = reference_locals()
    for _ in range(3):  # locals may read locals
        expr = re.sub(r"local\.(\w+)", lambda m: f"({locals_[m.group(1)]})", expr)

    def var(match: re.Match) -> str:
        name = match.group(1)
        return repr(literal(passed.get(name, defaults[name])))

    expr = re.sub(r"var\.(\w+)", var, expr)
    expr = expr.replace("&&", " and ").replace("||", " or ").replace("!=", " NE ").replace("!", " not ")
    expr = expr.replace(" NE ", " != ").replace("null", "None")
    return bool(eval(expr, {"v": "qualifier"}))  # noqa: S307 - our own reference facts, not input


def test_our_module_call_makes_the_real_module_create_the_sqs_mapping():
    """Defect 1: in 8.8.1 the mapping needs create_unqualified_alias_allowed_triggers (a literal true)."""
    real = reference_resources()
    passed = function_module_arguments()
    esm = real[("resource", "aws_lambda_event_source_mapping", "this")]
    try:
        assert created_by_real_module(esm, passed), f"the real module would create no event source mapping: {esm}"
    except NotALiteral as exc:
        pytest.fail(f"a switch of the mapping's condition is an expression ({exc}); the real module may skip it")


def test_everything_the_real_module_would_create_the_stand_in_creates_too():
    """The stand-in may omit a resource only if the real module, called our way, would not create it."""
    real, blocks = reference_resources(), standin_blocks()
    mine = {SUBSTITUTES.get(k, k) for k in blocks}
    passed = function_module_arguments()
    for key, condition in real.items():
        if key[0] == "data" or key in mine or key in FOLDED:
            continue
        assert not created_by_real_module(condition, passed), (
            f"the real module creates {key[1]}.{key[2]} ({condition}) but the stand-in has no counterpart"
        )


# Arguments 8.8.1 sets that the stand-in leaves out: `region` needs aws >= 6 (the offline mirror has 5.100).
OFFLINE_OMITTED_ARGUMENTS = {"region"}


def test_stand_in_recursion_config_sets_what_the_real_module_sets():
    header = reference_header("resources.tsv")
    (line,) = [h for h in header if h.startswith("aws_lambda_function_recursion_config.this")]
    real = {k.strip(): normalise(v) for k, v in (part.split("=", 1) for part in line.split(":", 1)[1].split(";"))}
    body = block_body((STANDIN / "main.tf").read_text(), 'resource "aws_lambda_function_recursion_config" "this"')
    mine = {k: normalise(v) for k, v in re.findall(r"^\s*(\w+)\s*=\s*(.+)$", body, re.M) if k != "count"}
    assert mine == {k: v for k, v in real.items() if k not in OFFLINE_OMITTED_ARGUMENTS}


def test_recursive_loop_allow_and_only_allow_makes_the_real_module_create_the_recursion_config():
    """modules/function passes its variable on; 8.8.1 creates the config for "Allow" only."""
    passed = function_module_arguments()
    assert passed["recursive_loop"] == "var.recursive_loop"
    condition = reference_resources()[("resource", "aws_lambda_function_recursion_config", "this")]
    assert created_by_real_module(condition, {**passed, "recursive_loop": '"Allow"'})
    assert not created_by_real_module(condition, {**passed, "recursive_loop": '"Terminate"'})
    assert not created_by_real_module(condition, {**passed, "recursive_loop": "null"})
    variables = (FUNCTION.parent / "variables.tf").read_text()
    body = block_body(variables, 'variable "recursive_loop"')
    assert re.search(r"^\s*default\s*=\s*null\s*$", body, re.M), "functions other than the relay keep AWS's default"


def test_mapping_keys_we_pass_are_read_by_the_real_module():
    (line,) = [h for h in reference_header("resources.tsv") if "event_source_mapping entry" in h]
    real_keys = set(line.split(":", 1)[1].split())
    text = FUNCTION.read_text()
    start = text.index("event_source_mapping = var.sqs_trigger")
    body = text[start : text.index("trigger_statements", start)]
    keys, depth = set(), 0
    for line in body.splitlines():
        if depth == 2:  # inside one of merge()'s object literals: {sqs = merge({ <here> }, ...)}
            m = re.match(r"\s*([A-Za-z_]\w*)\s*=", line)
            if m:
                keys.add(m.group(1))
        depth += line.count("{") - line.count("}")
    assert {"event_source_arn", "batch_size", "function_response_types"} <= keys, keys
    assert keys <= real_keys, f"keys the real module ignores: {sorted(keys - real_keys)}"
    esm = block_body((STANDIN / "main.tf").read_text(), 'resource "aws_lambda_event_source_mapping" "this"')
    standin_keys = set(re.findall(r"each\.value\.(\w+)", esm))
    assert standin_keys <= real_keys, f"the stand-in reads keys the real module does not: {standin_keys - real_keys}"


def test_stand_in_outputs_are_real_outputs():
    real = {line.strip() for line in (REFERENCE / "terraform-aws-lambda-8.8.1-outputs.txt").read_text().splitlines()}
    mine = re.findall(r'output\s+"([^"]+)"', (STANDIN / "outputs.tf").read_text())
    assert set(mine) <= real, set(mine) - real


# --- one declaration per setting: the context shape, the defaults, the FIFO variant -------

VARIANT = TF / "variants" / "sticky_fifo"


def module_calls() -> list[tuple[Path, Path, dict[str, str]]]:
    """Every call of a project module in the tree: (calling file, module folder, {argument: expression})."""
    calls = []
    for path in sorted(TF.rglob("*.tf")):
        text = path.read_text()
        for m in re.finditer(r'^\s*module\s+"([^"]+)"\s*\{', text, re.M):
            body = block_body(text, m.group(0).strip())
            source = re.search(r'^\s*source\s*=\s*"(\.[^"]*)"', body, re.M)
            if source is None:
                continue
            args = {}
            for name in top_level_arguments(body) - {"source", "count", "for_each", "depends_on", "providers"}:
                value = re.search(rf"^\s*{name}\s*=\s*(.*)$", body, re.M)
                assert value is not None, f"{path}: {name}"
                args[name] = value.group(1).strip()
            calls.append((path, (path.parent / source.group(1)).resolve(), args))
    return calls


def variable_defaults(module: Path) -> dict[str, bool]:
    """Each variable of the module -> whether it declares a default."""
    text = (module / "variables.tf").read_text()
    return {
        m.group(1): "default" in top_level_arguments(block_body(text, m.group(0)))
        for m in re.finditer(r'variable\s+"([^"]+)"\s*\{', text)
    }


def test_the_context_shape_is_declared_once_in_modules_context():
    shape = [p for p in TF.rglob("*.tf") if re.search(r"^\s*metrics_namespace\s*=", p.read_text(), re.M)]
    assert shape == [TF / "modules" / "context" / "main.tf"]
    readers = {p.parent for p in (TF / "modules").rglob("*.tf") if "var.context." in p.read_text()}
    assert readers, "no module reads the context"
    for module in readers:
        text = (module / "variables.tf").read_text()
        body = block_body(text, 'variable "context"')
        assert re.search(r"^\s*type\s*=\s*any\s*$", body, re.M), f"{module.name}: context is typed again"
    # each root builds it with the module, and passes only that module's output
    for root in (TF, VARIANT):
        main = (root / "main.tf").read_text()
        assert re.search(r"^\s*context\s*=\s*module\.context\.value\s*$", main, re.M), root
    for path, _, args in module_calls():
        if "context" in args:
            assert args["context"] in ("local.context", "var.context"), f"{path}: context = {args['context']}"


def test_a_module_default_is_one_some_caller_leaves_to_the_module():
    """Where every caller sets a variable, a default in the module would be a second default for
    that setting (the root's is the one applied): such variables are required."""
    callers: dict[Path, list[set[str]]] = {}
    for _, module, args in module_calls():
        callers.setdefault(module, []).append(set(args))
    for module, arg_sets in callers.items():
        for name, has_default in variable_defaults(module).items():
            if has_default:
                assert any(name not in args for args in arg_sets), f"{module.name}.{name}: every caller sets it"


def test_the_fifo_variant_deploys_the_sticky_pattern_as_the_main_root_does():
    # the variant takes the main root's variables, provider and versions, not copies of them
    for name in ("variables.tf", "providers.tf", "versions.tf"):
        assert (VARIANT / name).resolve() == (TF / name).resolve(), name
    sticky = (TF / "modules" / "sticky_queue").resolve()
    calls = {path: args for path, module, args in module_calls() if module == sticky}
    main_args, fifo_args = calls.pop(TF / "main.tf"), calls.pop(VARIANT / "main.tf")
    assert not calls, f"other callers of sticky_queue: {sorted(calls)}"
    assert main_args.pop("queue_type") == "var.sticky.queue_type"
    assert fifo_args.pop("queue_type") == '"fifo"'
    assert main_args == fifo_args  # every other input as the main root passes it


def test_the_offline_copy_holds_the_fifo_variant_as_a_root_of_its_own():
    root = terraform.generate()
    variant = root / terraform.FIFO_VARIANT_ROOT
    for name in ("variables.tf", "providers.tf", "versions.tf"):
        assert (variant / name).read_text() == (root / name).read_text(), name
        assert not (variant / name).is_symlink()
    assert (variant / "backend_override.tf").read_text() == terraform.BACKEND_OVERRIDE
    env = {"TF_CLI_CONFIG_FILE": "/dev/null"}
    terraform.init(variant)
    assert "Success" in terraform.run(["validate", "-no-color"], variant, env=env, capture=True)
