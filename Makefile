# Two commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
# `make` alone lists every target.
SHELL          := /bin/bash
# The Python that creates .venv: 3.12, the Lambda runtime's (checked before the venv is made).
PYTHON         ?= $(shell command -v python3.12 || echo python3)
VENV           := .venv
PY             := $(VENV)/bin/python
# Offline provider mirror; when the directory does not exist, terraform init uses the registry.
TF_PLUGIN_DIR  ?= /opt/tf-plugins
ENV            ?= local
# How long plan and apply wait for the state lock another plan or apply holds (a PR plan
# beside a deploy) before failing.
LOCK_TIMEOUT   ?= 10m
PORT           ?=
# Which stack `make test` proves: embedded (default: moto + the local runner) or localstack.
TARGET         ?= embedded
# IAM on the embedded emulator (local/iam.py): each function runs as its execution role and
# every call it (or its SQS poller) makes is authorised against that role. enforce (default):
# a call the role does not allow fails with AccessDenied; report: logged, then allowed; off.
IAM            ?= enforce
# Remote state bucket of ENV (dev/stg/prod): the account id makes the global name unique.
STATE_BUCKET   ?= qp-terraform-state-$(ENV)-$(shell aws sts get-caller-identity --query Account --output text)
export TF_PLUGIN_DIR
export IAM
export PYTHONPATH := $(CURDIR)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

TF             := terraform -chdir=terraform
CHECKOV_VENV   := .venv-checkov
CHECKOV        := checkov==3.3.30
ENVIRONMENTS   := local dev stg prod
LOCAL          := $(PY) -m local.local_env
# Unit tests run in this many processes (pytest-xdist).
UNIT_WORKERS   ?= 2

.DEFAULT_GOAL  := help
.PHONY: help demo test unit e2e plans static-unit-plans lint security fmt clean plan apply check-env check-credentials check-build-host check-aws-target outputs \
        redrive bench invoke logs deploy document queues lock check-python

help: ## list the targets (this is the default goal)
	@echo "Usage: make <target> [VAR=value]   (see README.md, 'Two commands')"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# One line naming the Python found and the override, instead of a venv on another version.
define check_python
@found=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
  [ "$$found" = 3.12 ] || { echo "error: Python 3.12 is needed; PYTHON=$(PYTHON) is $${found:-not a Python that runs}: install python3.12 or run make PYTHON=/path/to/python3.12" >&2; exit 2; }
endef

check-python:
	$(check_python)

$(VENV)/.installed: requirements.txt
	$(check_python)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# --- the two commands --------------------------------------------------------------------

demo: $(VENV)/.installed ## emulator + terraform apply + sample traffic + summary
	$(PY) -m local.demo

# Two lanes side by side: the end-to-end tests (they mostly wait on queues), and the rest
# one after another (lint + security scan, unit, plans: they mostly compute). Each pytest run
# prints its 15 slowest tests (pyproject.toml).
# TARGET=localstack runs the scenarios against LocalStack instead (local/localstack/localstack.mk).
ifeq ($(TARGET),embedded)
test: $(VENV)/.installed ## every test: lint, security scan, terraform checks, unit, end-to-end [TARGET=embedded|localstack|aws]
	@$(MAKE) --no-print-directory -j2 --output-sync=target e2e static-unit-plans
else ifeq ($(TARGET),localstack)
test: localstack-test
else ifeq ($(TARGET),aws)
test: check-aws-target check-credentials
	TARGET=aws ENV=$(ENV) $(PY) -m pytest -q tests/test_localstack.py
else
test:
	@echo "TARGET must be embedded, localstack or aws" >&2; exit 2
endif

check-aws-target:
	@[[ " dev stg " == *" $(ENV) "* ]] || { echo "TARGET=aws runs the scenarios against a deployed environment: set ENV=dev or ENV=stg (never prod)" >&2; exit 2; }

unit: $(VENV)/.installed ## unit tests only (no stack), in parallel processes [UNIT_WORKERS=2]
	$(PY) -m pytest -q -n $(UNIT_WORKERS) -m "not e2e and not plans"

e2e: $(VENV)/.installed ## end-to-end tests only: emulator + terraform apply + local runner
	$(PY) -m pytest -q -m e2e

plans: $(VENV)/.installed ## terraform checks over every environment's plan, validate, packaging on python3.12
	$(PY) -m pytest -q -m plans

static-unit-plans:  # make test's second lane
	@$(MAKE) --no-print-directory --output-sync=target lint security
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory plans

lint: $(VENV)/.installed ## ruff, mypy, terraform fmt, actionlint (with shellcheck) over .github/workflows
	$(VENV)/bin/ruff check shared functions tests local bench ops terraform
	$(VENV)/bin/ruff format --check shared functions tests local bench ops terraform
	$(VENV)/bin/mypy shared local bench ops tests/harness terraform/modules/function/build.py
	@for f in functions/*/app.py; do $(VENV)/bin/mypy --no-error-summary $$f || exit 1; done  # one app.py per run
	terraform fmt -check -recursive terraform
	$(VENV)/bin/actionlint -no-color -oneline -shellcheck=$(VENV)/bin/shellcheck -pyflakes= .github/workflows/*.yml

$(CHECKOV_VENV)/.installed: Makefile
	$(check_python)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check '$(CHECKOV)'
	touch $@

security: $(CHECKOV_VENV)/.installed ## checkov over terraform/: zero failures; every skip is justified inline
	$(CHECKOV_VENV)/bin/checkov -d terraform --framework terraform --quiet --compact --skip-download

# --- environments: local = the embedded emulator; dev/stg/prod = AWS with the S3 backend ----
# `apply` applies exactly the plan file `plan` wrote (same packages in terraform/builds).
# Other targets (e.g. TARGET=localstack) hook in here: a LOCAL_TARGET_<name> recipe.

check-env:
	@[[ " $(ENVIRONMENTS) " == *" $(ENV) "* ]] || { echo "ENV must be one of: $(ENVIRONMENTS)" >&2; exit 2; }

check-credentials: $(VENV)/.installed
	@$(PY) -c 'import boto3, sys; sys.exit(boto3.Session().get_credentials() is None)' || { \
	  echo "no AWS credentials for ENV=$(ENV): set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)" >&2; exit 2; }

LOCAL_DEPS     = $(if $(filter local,$(ENV)),$(VENV)/.installed,check-credentials check-build-host)

# The zips are built by terraform/modules/function/build.py: manylinux x86_64 wheels fetched by
# pip whatever the host, bytecode compiled by the runtime's Python, so python3.12 must be on PATH.
check-build-host:
	@command -v python3.12 >/dev/null || { \
	  echo "ENV=$(ENV) builds Lambda zips with python3.12 (their bytecode is the runtime's): put python3.12 on PATH" >&2; exit 2; }

plan: check-env $(LOCAL_DEPS) ## terraform plan for ENV (default local)
ifeq ($(ENV),local)
	$(LOCAL) plan
else
	$(TF) init -input=false -reconfigure -backend-config=environments/$(ENV).s3.tfbackend -backend-config=bucket=$(STATE_BUCKET)
	@# the module hashes the source folders to name each zip: bytecode a local run left there would rename it
	find functions shared -name __pycache__ -type d -prune -exec rm -rf {} +
	$(TF) plan -input=false -lock-timeout=$(LOCK_TIMEOUT) -var-file=environments/$(ENV).tfvars -out=$(ENV).tfplan
endif

outputs: check-env check-credentials ## ENV=dev|stg|prod: the deployed root's outputs -> .build/outputs-<env>.json (read by TARGET=aws)
	@test "$(ENV)" != local || { echo "outputs reads a deployed AWS environment: set ENV=dev, stg or prod" >&2; exit 2; }
	$(TF) init -input=false -reconfigure -backend-config=environments/$(ENV).s3.tfbackend -backend-config=bucket=$(STATE_BUCKET)
	@mkdir -p .build && $(TF) output -json > .build/outputs-$(ENV).json && echo "wrote .build/outputs-$(ENV).json"

apply: check-env $(LOCAL_DEPS) ## ENV=local: apply to the emulator and serve it [PORT=4566]; else apply ENV's saved plan
ifeq ($(ENV),local)
	@$(LOCAL) apply $(if $(PORT),--port $(PORT))
else
	@test -f terraform/$(ENV).tfplan || { echo "run 'make plan ENV=$(ENV)' first" >&2; exit 2; }
	$(TF) apply -input=false -lock-timeout=$(LOCK_TIMEOUT) $(ENV).tfplan
endif

# --- against the running local stack (`make apply` in another shell), found by its record -----

invoke: $(VENV)/.installed ## invoke a function: make invoke FN=sticky_ingester EVENT=events/sticky_ingester.json
	@test -n "$(FN)" || { echo "usage: make invoke FN=<function folder or name> [EVENT=events/<file>.json]" >&2; exit 2; }
	@$(LOCAL) invoke "$(FN)" $(or $(EVENT),$(wildcard events/$(FN).json))

logs: $(VENV)/.installed ## follow a function's log (CloudWatch Logs): make logs FN=sticky_dispatcher
	@test -n "$(FN)" || { echo "usage: make logs FN=<function folder or name>" >&2; exit 2; }
	@$(LOCAL) logs "$(FN)"

deploy: $(VENV)/.installed ## redeploy one changed function into the running stack: make deploy FN=fanout_worker
	@test -n "$(FN)" || { echo "usage: make deploy FN=<function folder or name>" >&2; exit 2; }
	@$(LOCAL) deploy "$(FN)"

document: $(VENV)/.installed ## print a user's sticky document: make document USER_ID=user-1
	@test -n "$(USER_ID)" || { echo "usage: make document USER_ID=<user id>" >&2; exit 2; }
	@$(LOCAL) document "$(USER_ID)"

queues: $(VENV)/.installed ## list every queue with its depth (waiting, in flight, delayed)
	@$(LOCAL) queues

REDRIVE_ARGS = "$(DLQ)" $(if $(MAX),--max $(MAX)) $(if $(RATE),--rate $(RATE))

redrive: check-env $(VENV)/.installed ## move DLQ messages back to their source: make redrive DLQ=<dlq url> [MAX=n | RATE=per-second] [ENV=dev|stg|prod]
	@test -n "$(DLQ)" || { echo "usage: make redrive DLQ=<dlq url> [MAX=n (at most n messages) | RATE=n (all, n per second)] [ENV=dev|stg|prod]" >&2; exit 2; }
ifeq ($(ENV),local)
	@$(LOCAL) redrive $(REDRIVE_ARGS)
else
	@$(PY) -m ops.redrive $(REDRIVE_ARGS)
endif

# --- other -------------------------------------------------------------------------------

bench: $(VENV)/.installed ## AWS requests per message, ours vs the seeds; zip sizes, import times (not a test)
	$(PY) -m bench.run

# Each function's requirements.in lists what it imports; its requirements.txt pins every package
# that needs, with hashes, for the python3.12 x86_64 runtime. Pins already there are kept unless
# UPGRADE=1 (then the newest versions the inputs allow).
lock: $(VENV)/.installed ## pin each function's requirements.txt (hashes) from its requirements.in [UPGRADE=1]
	@for f in functions/*/requirements.in; do \
	  $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.12 --python-platform x86_64-manylinux_2_17 \
	    --custom-compile-command "make lock" $(if $(filter 1,$(UPGRADE)),--upgrade) -o "$${f%.in}.txt" "$$f" || exit 1; \
	  echo "$${f%.in}.txt"; done

fmt: $(VENV)/.installed ## format Python and Terraform
	$(VENV)/bin/ruff format shared functions tests local bench ops terraform
	terraform fmt -recursive terraform

clean: ## remove build output (.build, caches)
	rm -rf .build .pytest_cache

include local/localstack/localstack.mk
