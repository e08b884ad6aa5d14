# One entry point for everything a newcomer runs. Every target bootstraps the virtual environment first,
# so `make test` (or `make demo`) on a fresh clone needs nothing installed but Python 3.11+.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt constraints.txt provider/requirements.txt | cksum | cut -d' ' -f1)
PORT ?= 4599
EVENT ?= samples/events/create.json
TEMPLATES := template.yaml $(wildcard samples/*.yaml)

.PHONY: help venv test coverage lint format validate emulator demo invoke build deploy bench lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt constraints.txt provider/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned dev dependencies (boto3, moto, aws-sam-cli, cfn-lint, pytest, ruff: about 250 packages) into $(VENV)."
	@echo "A first install takes 1-2 minutes; later ones happen only when requirements-dev.txt, constraints.txt or provider/requirements.txt change."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP) ## Create .venv with the pinned dev dependencies

test: lint validate ## Lint, validate the templates and run the whole test suite
	$(BIN)/python -m pytest

coverage: $(STAMP) ## Run the test suite with line and branch coverage of provider/ (fails under 95 %)
	$(BIN)/python -m pytest --cov --cov-report=term-missing

lint: $(STAMP) ## ruff check + ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

validate: $(STAMP) ## cfn-lint and sam validate --lint on every template (offline)
	$(BIN)/cfn-lint $(TEMPLATES)
	@for t in $(TEMPLATES); do \
	  echo "sam validate --lint $$t"; \
	  AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --template-file $$t || exit 1; \
	done

emulator: $(STAMP) ## Serve the Connect emulator on 127.0.0.1:$(PORT) until interrupted
	$(BIN)/python -m local_aws.connect.server --port $(PORT)

demo: $(STAMP) ## Run the whole CloudFormation lifecycle against the embedded emulator
	$(BIN)/python -m local_aws.demo

invoke: $(STAMP) ## Invoke the provider with EVENT (sam local invoke if Docker runs, else the Docker-free runner)
	$(BIN)/python -m local_aws.invoke --event $(EVENT)

build: $(STAMP) ## sam build
	@python3.13 -c "" 2>/dev/null || { echo "sam build needs python3.13 on PATH: it is the function's runtime (template.yaml). Install it, or build in a container with 'sam build --use-container'."; exit 1; }
	SAM_CLI_TELEMETRY=0 $(BIN)/sam build

deploy: build ## sam deploy --guided
	SAM_CLI_TELEMETRY=0 $(BIN)/sam deploy --guided

bench: $(STAMP) ## Measure completion lag, throughput under quota, cold start and artifact size
	$(BIN)/python -m benchmarks

lock: ## Re-resolve constraints.txt from requirements-dev.txt in a scratch venv
	rm -rf /tmp/lock-venv && $(PYTHON) -m venv /tmp/lock-venv
	/tmp/lock-venv/bin/pip install --quiet -r requirements-dev.txt
	(echo '# Full transitive lock of the dev environment (pip freeze). Regenerate with `make lock`.'; /tmp/lock-venv/bin/pip freeze) > constraints.txt

clean: ## Remove the venv, build output and caches
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache .hypothesis .coverage .coverage.*
