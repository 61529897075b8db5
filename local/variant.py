"""A second, small root next to the generated offline copy: the sticky-queue pattern again,
with FIFO pool queues, under its own name prefix, applied to the same emulator as the main root.

One emulator then serves both sticky queue types, so the test session needs one deployment
instead of one per type, and the two applies run side by side. The root is built only from
the project's own modules (bucket, table, sticky_queue, alarms) and the root's own
``variables.tf`` and ``providers.tf``, so the FIFO pattern is deployed exactly as the real
root deploys it; only ``queue_type`` and the name prefix differ.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from local import terraform

VARIANT_DIR = terraform.OFFLINE_ROOT / "sticky_fifo"
MAIN_TF = """\
terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100"
    }
  }
  backend "local" {}
}

locals {
  name_prefix = "${var.project}-${var.environment}-fifo"
  context = {
    name_prefix        = local.name_prefix
    code_root          = "${path.root}/.."
    artifacts_dir      = var.artifacts_dir
    metrics_namespace  = "QueuePatterns"
    log_retention_days = var.log_retention_days
    tags               = {}
  }
  tags = {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  }
}

module "documents" {
  source        = "./modules/bucket"
  name          = "${local.name_prefix}-documents"
  force_destroy = true
}

__STICKY_QUEUE__

module "alarms" {
  source                   = "./modules/alarms"
  name_prefix              = local.name_prefix
  region                   = var.region
  key_deletion_window_days = 7
  queues                   = module.sticky_queue.monitored.queues
  functions                = module.sticky_queue.monitored.functions
  max_message_age_seconds  = var.alarms.max_message_age_seconds
  alarm_emails             = []
}

output "document_bucket" {
  value = module.documents.name
}

output "sticky_queue" {
  value = {
    ingester_function_name    = module.sticky_queue.ingester_function_name
    dispatcher_function_names = module.sticky_queue.dispatcher_function_names
    pool_queues               = module.sticky_queue.pool_queues
    url_store_queue_url       = module.sticky_queue.url_store_queue_url
    assignment_table_name     = module.sticky_queue.assignment_table_name
  }
}
"""


def sticky_queue_block(main_tf: str) -> str:
    """The real root's ``module "sticky_queue"`` call, with ``queue_type = "fifo"``: the variant
    deploys the pattern with exactly the root's inputs, so the two cannot drift apart."""
    match = re.search(r'^module "sticky_queue" \{\n.*?^\}\n', main_tf, flags=re.M | re.S)
    if match is None:
        raise RuntimeError('terraform/main.tf has no module "sticky_queue" block')
    block, n = re.subn(r"(queue_type\s*=\s*)var\.sticky\.queue_type", r'\1"fifo"', match.group(0))
    if n != 1:
        raise RuntimeError("the sticky_queue block no longer sets queue_type = var.sticky.queue_type")
    return block


def generate() -> Path:
    """Write the variant root from the generated offline copy (call after ``terraform.generate``)."""
    source = terraform.OFFLINE_ROOT / "terraform"
    VARIANT_DIR.mkdir(parents=True, exist_ok=True)
    keep = {".terraform", ".terraform.lock.hcl"}
    for child in VARIANT_DIR.iterdir():
        if child.name not in keep:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    # its own copy of the modules: the main apply regenerates its copy while this one runs
    shutil.copytree(source / "modules", VARIANT_DIR / "modules")
    shutil.copytree(source / "environments", VARIANT_DIR / "environments")
    for name in ("variables.tf", "providers.tf"):
        shutil.copy2(source / name, VARIANT_DIR / name)
    main_tf = MAIN_TF.replace("__STICKY_QUEUE__", sticky_queue_block((source / "main.tf").read_text()))
    (VARIANT_DIR / "main.tf").write_text(main_tf)
    return VARIANT_DIR


def apply(
    env: dict[str, str],
    state_file: Path,
    extra_vars: dict[str, str] | None = None,
    var_file: str = "environments/local.tfvars",
) -> dict:
    """Init and apply the variant root (generated beforehand); return its outputs."""
    root = VARIANT_DIR
    terraform.init(root)
    # zips and the shared dependency cache of the main copy
    var_args = terraform.var_args(terraform.OFFLINE_ROOT / "terraform", var_file, extra_vars)
    terraform.run(
        ["apply", "-input=false", "-auto-approve", "-parallelism=20", f"-state={state_file}", *var_args],
        root,
        env=env,
        capture=True,
    )
    out = terraform.run(["output", "-json", f"-state={state_file}"], root, env=env, capture=True)
    return {k: v["value"] for k, v in json.loads(out).items()}
