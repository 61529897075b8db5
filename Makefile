# Two commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
SHELL          := /bin/bash
PYTHON         ?= python3
VENV           := .venv
PY             := $(VENV)/bin/python
TF_PLUGIN_DIR  ?= /opt/tf-plugins
ENV            ?= local
export TF_PLUGIN_DIR
export PYTHONPATH := $(CURDIR)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

TF             := terraform -chdir=terraform
CHECKOV_VENV   := .venv-checkov
CHECKOV        := checkov==3.3.30
ENVIRONMENTS   := local dev stg prod

.PHONY: demo test unit e2e lint security fmt clean plan apply check-env redrive bench

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

demo: $(VENV)/.installed ## emulator + terraform apply + sample traffic + summary
	$(PY) -m tests.harness.demo

$(CHECKOV_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check '$(CHECKOV)'
	touch $@

security: $(CHECKOV_VENV)/.installed ## checkov over terraform/: zero failures; every skip is justified inline
	$(CHECKOV_VENV)/bin/checkov -d terraform --framework terraform --quiet --compact --skip-download

test: lint security ## every test: lint, security scan, terraform checks, unit, end-to-end
	$(PY) -m pytest -q

lint: $(VENV)/.installed ## ruff, mypy, terraform fmt
	$(VENV)/bin/ruff check shared functions tests
	$(VENV)/bin/ruff format --check shared functions tests
	$(VENV)/bin/mypy shared tests/harness
	@for f in functions/*/app.py; do $(VENV)/bin/mypy --no-error-summary $$f || exit 1; done  # one app.py per run
	terraform fmt -check -recursive terraform

unit: $(VENV)/.installed
	$(PY) -m pytest -q -m "not e2e"

e2e: $(VENV)/.installed
	$(PY) -m pytest -q -m e2e

check-env:
	@[[ " $(ENVIRONMENTS) " == *" $(ENV) "* ]] || { echo "ENV must be one of: $(ENVIRONMENTS)" >&2; exit 2; }

# Per environment: local = the embedded emulator; dev/stg/prod = AWS with the S3 backend.
# `apply` applies exactly the plan file `plan` wrote (same packages in terraform/builds).
LOCAL_DEPS     = $(if $(filter local,$(ENV)),$(VENV)/.installed)

plan: check-env $(LOCAL_DEPS) ## terraform plan for ENV (default local)
ifeq ($(ENV),local)
	$(PY) -m tests.harness.local_env plan
else
	$(TF) init -input=false -reconfigure -backend-config=environments/$(ENV).s3.tfbackend
	$(TF) plan -input=false -var-file=environments/$(ENV).tfvars -out=$(ENV).tfplan
endif

apply: check-env $(LOCAL_DEPS) ## apply ENV's saved plan (local: apply to the emulator and serve it)
ifeq ($(ENV),local)
	$(PY) -m tests.harness.local_env apply
else
	@test -f terraform/$(ENV).tfplan || { echo "run 'make plan ENV=$(ENV)' first" >&2; exit 2; }
	$(TF) apply -input=false $(ENV).tfplan
endif

bench: $(VENV)/.installed ## AWS requests per message, ours vs the seeds; zip sizes, import times (not a test)
	$(PY) -m tests.bench.run

redrive: $(VENV)/.installed ## move DLQ messages back to their source queue: make redrive DLQ=<dlq url> [MAX=n]
	@test -n "$(DLQ)" || { echo "usage: make redrive DLQ=<dlq url> [MAX=n]" >&2; exit 2; }
	$(PY) -m shared.redrive "$(DLQ)" $(if $(MAX),--max $(MAX))

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff format shared functions tests
	terraform fmt -recursive terraform

clean:
	rm -rf .build .pytest_cache
