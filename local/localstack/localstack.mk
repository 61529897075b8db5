# LocalStack target (local/localstack, docs/localstack.md). Included from the Makefile:
#   include local/localstack/localstack.mk
# `make localstack-test` picks Docker when a Docker engine answers (docker-compose.yml,
# localstack/localstack:4.14.0 running the functions itself), host mode otherwise (LocalStack
# installed on first use into .build/localstack, functions run by our host-process executor).
LOCALSTACK_PORT     ?= 4566
LOCALSTACK_DOCKER   := $(shell docker info >/dev/null 2>&1 && echo yes)
LOCALSTACK_PYTEST   ?= -q
LOCALSTACK_PIDFILE  := .build/localstack/launcher.pid

.PHONY: localstack-install localstack-up localstack-down localstack-test

localstack-install: $(VENV)/.installed ## host mode: LocalStack venv, DynamoDB Local, executor plugin (once)
ifneq ($(LOCALSTACK_DOCKER),yes)
	$(PY) -m local.localstack.install
endif

localstack-up: localstack-install ## LocalStack on 127.0.0.1:4566, or LOCALSTACK_PORT (host mode: in the foreground)
ifeq ($(LOCALSTACK_DOCKER),yes)
	docker compose up -d --wait
else
	LOCALSTACK_PORT=$(LOCALSTACK_PORT) $(PY) -m local.localstack.launcher
endif

localstack-down: ## stop what localstack-up started
ifeq ($(LOCALSTACK_DOCKER),yes)
	docker compose down
else
	@test -f $(LOCALSTACK_PIDFILE) && kill -TERM $$(cat $(LOCALSTACK_PIDFILE)) || echo "no host-mode LocalStack running"
endif

localstack-test: localstack-install ## the scenarios (tests/test_localstack.py) on LocalStack, then clean up
ifeq ($(LOCALSTACK_DOCKER),yes)
	docker compose up -d --wait
	LOCALSTACK_ENDPOINT=http://127.0.0.1:4566 TARGET=localstack $(PY) -m pytest $(LOCALSTACK_PYTEST) tests/test_localstack.py; \
	  status=$$?; docker compose down; exit $$status
else
	TARGET=localstack $(PY) -m pytest $(LOCALSTACK_PYTEST) tests/test_localstack.py
endif
