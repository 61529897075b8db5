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

.PHONY: demo test unit e2e lint fmt tf-check clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

demo: $(VENV)/.installed ## emulator + terraform apply + sample traffic + summary
	$(PY) -m tests.harness.demo

test: $(VENV)/.installed ## every test: lint, terraform checks, unit, end-to-end
	$(VENV)/bin/ruff check shared functions tests
	terraform fmt -check -recursive terraform
	$(PY) -m pytest -q

unit: $(VENV)/.installed
	$(PY) -m pytest -q -m "not e2e"

e2e: $(VENV)/.installed
	$(PY) -m pytest -q -m e2e

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff format shared functions tests
	terraform fmt -recursive terraform

clean:
	rm -rf .build .pytest_cache
