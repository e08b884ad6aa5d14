# One entry point for everything a newcomer runs. Every target bootstraps the virtual environment first,
# so `make test` (or `make demo`) on a fresh clone needs nothing installed but Python (MIN_PYTHON or later).
SHELL := /bin/bash
PYTHON ?= python3
# The oldest Python the project installs on, from one place: pyproject.toml's requires-python (">=X.Y").
# tests/test_pins.py checks that every pinned package admits it.
MIN_PYTHON := $(shell sed -n 's/^requires-python = ">=\([0-9.]*\)"$$/\1/p' pyproject.toml)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt constraints.txt provider/requirements.txt cfn-lint-rules/pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= 4599
EVENT ?= samples/events/create.json
EXPECT ?= SUCCESS
ENV_VARS ?= samples/env.json
WORLD ?= samples/world.json
HOST ?= 127.0.0.1
TEMPLATES := template.yaml $(wildcard samples/*.yaml)
# The templates SAM transforms (Transform: AWS::Serverless-2016-10-31), which sam validate checks beyond
# cfn-lint. On a plain CloudFormation template sam validate --lint is cfn-lint alone, which make validate has
# already run on every template.
SAM_TEMPLATES := $(shell grep -l '^Transform:' $(TEMPLATES))
# cfn-lint rules for Custom::PhoneNumberAssignment: the package in cfn-lint-rules/, enabled by module name as
# users do (cfn-lint-rules/README.md); .cfnlintrc names it too, for cfn-lint and `sam validate --lint` run from
# this directory. The venv has it installed (editable, requirements-dev.txt); PYTHONPATH makes sure the rules
# are this checkout's even where the venv is shared with another checkout.
CFN_LINT_RULES := cfn_lint_phone_number_assignment.rules
RULES_ON_PATH := PYTHONPATH=$(CURDIR)/cfn-lint-rules/src$(if $(PYTHONPATH),:$(PYTHONPATH))
ARCH ?= x86_64
# make status, make export and make plan run with boto3 and PyYAML alone (tools/requirements.txt) in their own environment, so an
# operator's machine needs neither SAM CLI nor the test tools.
TOOLS_VENV := .venv-tools
TOOLS_BIN := $(TOOLS_VENV)/bin
TOOLS_STAMP := $(TOOLS_VENV)/.installed-$(shell cat tools/requirements.txt | cksum | cut -d' ' -f1)
BUILD_DIR := .aws-sam/build
BUILD_STAMP := $(BUILD_DIR)/.built-$(ARCH)
BUILD_INPUTS := template.yaml provider/Makefile provider/requirements.txt \
    $(wildcard provider/phone_number_assignment/*.py) \
    drift_check/Makefile drift_check/requirements.txt tools/requirements.txt $(wildcard drift_check/*.py tools/*.py)

.PHONY: help venv tools-venv test coverage lint format validate lint-template cfn-lint-minimum export status plan emulator emulator-stack demo invoke runtime build deploy publish publish-preflight acceptance bench simulate lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt constraints.txt provider/requirements.txt cfn-lint-rules/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < tuple(map(int, sys.argv[1].split("."))))' $(MIN_PYTHON) || { \
	  echo "Python $(MIN_PYTHON) or later is required (pyproject.toml's requires-python); PYTHON=$(PYTHON) is $$($(PYTHON) -V 2>&1 || echo 'not found')."; \
	  echo "Choose another with PYTHON=, e.g. PYTHON=python3.13 make $(MAKECMDGOALS)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned dev dependencies (boto3, moto, aws-sam-cli, cfn-lint, pytest, ruff: about 250 packages) into $(VENV)."
	@echo "A first install takes 1-2 minutes; later ones happen only when requirements-dev.txt, constraints.txt or provider/requirements.txt change."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP) ## Create .venv with the pinned dev dependencies

$(TOOLS_STAMP): tools/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(TOOLS_BIN)/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_BIN)/python -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	rm -f $(TOOLS_VENV)/.installed-* && touch $@

tools-venv: $(TOOLS_STAMP) ## Create .venv-tools with boto3 and PyYAML alone (tools/requirements.txt), for make status, export and plan

# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE): each pytest worker
# would otherwise compile, and rewrite the asserts of, every test module and our own code again on every run
# (about 4 s of CPU per worker). __pycache__ is ignored by git.
PYTEST := env -u PYTHONDONTWRITEBYTECODE ARCH=$(ARCH) $(BIN)/python -m pytest

# The template validation (mostly SAM CLI starting up, eight times) runs beside pytest, whose workers leave
# part of the two cores idle while they wait on sockets and subprocesses; its output follows pytest's, and
# either failing fails the target.
test: lint build runtime ## Lint, validate the templates, build for ARCH and run the whole test suite (incl. the built function)
	@validation=$$(mktemp); \
	$(MAKE) --no-print-directory validate > $$validation 2>&1 & validating=$$!; \
	$(PYTEST); tests=$$?; \
	wait $$validating; validated=$$?; \
	echo "--- make validate (ran beside pytest) ---"; cat $$validation; rm -f $$validation; \
	[ $$validated -eq 0 ] || echo "make validate failed: see above"; \
	[ $$tests -eq 0 ] && [ $$validated -eq 0 ]

coverage: $(STAMP) ## Run the test suite with line and branch coverage of provider/ (fails under 95 %)
	$(PYTEST) --cov --cov-report=term-missing

lint: $(STAMP) ## ruff check + ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The sam validate runs are independent and each mostly starts SAM CLI: they run side by side (half the time on
# two cores), each into its own log, shown in order; any failure fails the target.
validate: $(STAMP) ## cfn-lint (with the project's rules) on every template and sam validate --lint on the SAM ones (offline)
	$(RULES_ON_PATH) $(BIN)/cfn-lint --append-rules $(CFN_LINT_RULES) -- $(TEMPLATES)
	@logs=$$(mktemp -d); pids=""; i=0; \
	for t in $(SAM_TEMPLATES); do \
	  i=$$((i+1)); \
	  (echo "sam validate --lint $$t"; AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(RULES_ON_PATH) \
	    $(BIN)/sam validate --lint --template-file $$t) > $$logs/$$i 2>&1 & pids="$$pids $$!"; \
	done; \
	failed=0; i=0; for p in $$pids; do i=$$((i+1)); wait $$p || failed=1; cat $$logs/$$i; done; \
	rm -rf $$logs; exit $$failed

lint-template: $(STAMP) ## cfn-lint TEMPLATE=path with the Custom::PhoneNumberAssignment rules (LINT_ARGS="--regions ...")
	@test -n "$(TEMPLATE)" || { echo "usage: make lint-template TEMPLATE=path/to/template.yaml [LINT_ARGS='--regions eu-west-2']"; exit 2; }
	$(RULES_ON_PATH) $(BIN)/cfn-lint --append-rules $(CFN_LINT_RULES) $(LINT_ARGS) -- $(TEMPLATE)

# The oldest cfn-lint the rules package declares (cfn-lint-rules/pyproject.toml's "cfn-lint>=X"), tested: a scratch
# venv with that cfn-lint, the rules package and pytest only, then the rules' tests (tests/cfn_lint_rules/test_rules.py,
# without the suite's conftest, which needs the whole dev environment). A fresh pip install each time, so not part
# of make test; run it when the rules use more of cfn-lint's API, and raise the declared minimum if it fails.
CFN_LINT_MINIMUM = $(shell sed -n 's/^dependencies = \["cfn-lint>=\([0-9.]*\),.*/\1/p' cfn-lint-rules/pyproject.toml)
CFN_LINT_MINIMUM_VENV := .aws-sam/cfn-lint-minimum
cfn-lint-minimum: ## Run the cfn-lint rules' tests against the oldest cfn-lint cfn-lint-rules/pyproject.toml declares (slow: a scratch venv)
	@test -n "$(CFN_LINT_MINIMUM)" || { echo "no cfn-lint>=X in cfn-lint-rules/pyproject.toml's dependencies"; exit 1; }
	rm -rf $(CFN_LINT_MINIMUM_VENV) && $(PYTHON) -m venv $(CFN_LINT_MINIMUM_VENV)
	$(CFN_LINT_MINIMUM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
	  "cfn-lint==$(CFN_LINT_MINIMUM)" "$$(grep '^pytest==' requirements-dev.txt)" "$$(grep '^botocore==' constraints.txt)"
	$(CFN_LINT_MINIMUM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps ./cfn-lint-rules
	$(CFN_LINT_MINIMUM_VENV)/bin/python -c 'import importlib.metadata as m; print("cfn-lint", m.version("cfn-lint"))'
	$(CFN_LINT_MINIMUM_VENV)/bin/python -m pytest tests/cfn_lint_rules/test_rules.py --noconftest -q \
	  -o addopts="-p no:cacheprovider"

# stdout carries only the template (`make export TARGET=... > estate.yaml`): the venv's bootstrap goes to stderr.
export: ## Print a template adopting the numbers on TARGET (instance or TDG ARN; read-only; PREFIX=+1206 filters; STYLE=resources: one resource per number)
	@$(MAKE) --no-print-directory -s tools-venv >&2
	@test -n "$(TARGET)" || { echo "usage: make export TARGET=<instance or traffic distribution group ARN> [PREFIX=+1206] [STYLE=foreach|resources]" >&2; exit 2; }
	@PYTHONPATH=provider $(TOOLS_BIN)/python -m tools.export $(TARGET) $(if $(PREFIX),--prefix $(PREFIX)) $(if $(STYLE),--style $(STYLE))

# Read-only, like export; stdout carries only the table, JSON or CSV (`make status FORMAT=json | jq ...`): the
# venv's bootstrap, the progress line and any error go to stderr. The tool's exit status (0 clean, 3 flagged,
# 1 not all checked) becomes make's 0 or 2: a schedule that needs the difference runs `tools/run status ...`.
status: ## Show every number, its owner, drift and anything stuck (read-only; TARGET=arn or NUMBER=id|arn|+E164, FORMAT=json|csv)
	@$(MAKE) --no-print-directory -s tools-venv >&2
	@PYTHONPATH=provider $(TOOLS_BIN)/python -m tools.status $(if $(TARGET),--target $(TARGET)) $(if $(NUMBER),--number $(NUMBER)) $(if $(FORMAT),--format $(FORMAT))

# Read-only, like status: what deploying a change set or a template would do to each number. stdout carries
# only the table, JSON or CSV. Exit status 0 nothing refused, 3 something would be refused, 1 not all checked,
# 2 usage (make turns non-zero into 2: `tools/run plan ...` keeps the difference).
plan: ## Preview a deployment per number (CHANGE_SET=name STACK=stack, or TEMPLATE=file PARAMS="K=V ..." [STACK=]; FORMAT=json|csv)
	@$(MAKE) --no-print-directory -s tools-venv >&2
	@test -n "$(CHANGE_SET)$(TEMPLATE)" || { echo 'usage: make plan STACK=<stack> CHANGE_SET=<change set> | make plan TEMPLATE=<file> [PARAMS="Key=Value ..."] [STACK=<stack>] [FORMAT=json|csv]' >&2; exit 2; }
	@PYTHONPATH=provider $(TOOLS_BIN)/python -m tools.plan $(if $(STACK),--stack $(STACK)) \
	  $(if $(CHANGE_SET),--change-set $(CHANGE_SET)) $(if $(TEMPLATE),--template $(TEMPLATE)) \
	  $(foreach p,$(PARAMS),--param $(p)) $(if $(FORMAT),--format $(FORMAT))

emulator: $(STAMP) ## Serve the Connect emulator on 127.0.0.1:$(PORT), seeded with WORLD (samples/world.json; WORLD= for none)
	$(BIN)/python -m local_aws.connect.server --host $(HOST) --port $(PORT) $(if $(WORLD),--seed $(WORLD))

# A stack on a running `make emulator` (another terminal, same PORT): TEMPLATE's Custom::PhoneNumberAssignment
# resources deployed through the provider's handler, CloudFormation played as in the tests, so that make status,
# make plan and drift can be tried without an account. samples/stack.yaml (the default) gets the seeded world's
# number +15555550100 and instance contact-center-secondary unless PARAMS says otherwise.
SAMPLE_STACK_PARAMS := PhoneNumberId=e6b2a8d4-3c1f-4e9a-b7d0-2a5c8f1e6d93 \
    TargetArn=arn:aws:connect:us-east-1:012345678912:instance/8e4f2d6a-1b9c-4f7e-a3d5-c02e7b91f846
EMULATOR_TEMPLATE = $(or $(TEMPLATE),samples/stack.yaml)
emulator-stack: $(STAMP) ## Deploy TEMPLATE (samples/stack.yaml) as STACK (emulator-stack) on a running make emulator; PARAMS="K=V ...", DELETE=1
	$(BIN)/python -m local_aws.emulator_stack --endpoint-url http://$(HOST):$(PORT) --template $(EMULATOR_TEMPLATE) \
	  --stack $(or $(STACK),emulator-stack) $(if $(DELETE),--delete) \
	  $(foreach p,$(if $(filter samples/stack.yaml,$(EMULATOR_TEMPLATE)),$(SAMPLE_STACK_PARAMS)) $(PARAMS),--param $(p))

demo: $(STAMP) ## Run the whole CloudFormation lifecycle against the embedded emulator (in-process, for speed)
	$(BIN)/python -m local_aws.demo

# EVENT may name several files, run in order against one emulator: EVENT="samples/events/create.json samples/events/delete.json";
# EXPECT one Status for all of them, or one per event (EXPECT="SUCCESS FAILED").
ifeq ($(DOCKER),1)
invoke: build ## Invoke the built function with EVENT under Lambda's runtime emulator, expecting EXPECT (SUCCESS|FAILED); DOCKER=1: sam local invoke
	$(BIN)/python -m local_aws.invoke --docker always --template $(BUILD_DIR)/template.yaml \
	  --env-vars $(ENV_VARS) $(foreach e,$(EVENT),--event $(e))
else
# Without Docker, --env-vars only when ENV_VARS is given: samples/env.json points at `make emulator`'s port.
invoke: build runtime
	$(BIN)/python -m local_aws.invoke --docker never --template $(BUILD_DIR)/template.yaml $(foreach x,$(EXPECT),--expect $(x)) \
	  $(if $(filter command line environment,$(origin ENV_VARS)),--env-vars $(ENV_VARS)) $(foreach e,$(EVENT),--event $(e))
endif

# Lambda's runtime without a container (local_aws/lambda_runtime.py): SAM CLI's Runtime Interface Emulator and
# awslambdaric, installed (pinned, cached in .venv) for the Python that runs the function: a 3.13 from
# RUNTIME_PYTHON, PATH or pyenv, else the best 3.11+.
runtime: $(STAMP) ## Say which Python runs the function under the Runtime Interface Emulator; install awslambdaric for it
	@$(BIN)/python -m local_aws.lambda_runtime

build: $(BUILD_STAMP) ## sam build for ARCH (x86_64 or arm64) with any Python 3.11+, no Docker; reused while its inputs are unchanged

# SAM hands its environment to provider/Makefile, which installs the wheels for Lambda's Python 3.13 on
# ARCH with the venv's pip. The stamp names the architecture, so switching ARCH rebuilds.
$(BUILD_STAMP): $(STAMP) $(BUILD_INPUTS)
	@case "$(ARCH)" in x86_64|arm64) ;; *) echo "ARCH must be x86_64 or arm64, not '$(ARCH)'"; exit 1;; esac
	rm -f $(BUILD_DIR)/.built-*
	ARCH=$(ARCH) INSTALLER=$(abspath $(BIN)/python) SAM_CLI_TELEMETRY=0 \
	  $(BIN)/sam build --parameter-overrides Architecture=$(ARCH)
	$(BIN)/python -m local_aws.artifact --arch $(ARCH) $(BUILD_DIR)/ProviderFunction
	touch $@

deploy: build ## sam deploy with samconfig.toml (stack phone-number-assignment) for ARCH; needs AWS credentials
	SAM_CLI_TELEMETRY=0 $(BIN)/sam deploy --parameter-overrides Architecture=$(ARCH) $(DEPLOY_FLAGS)

# The project's one version number (RELEASING.md); the template's SemanticVersion must equal it.
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
PACKAGED := .aws-sam/packaged.yaml

publish: publish-preflight build ## sam package + sam publish VERSION to the Serverless Application Repository; needs BUCKET and credentials
	SAM_CLI_TELEMETRY=0 $(BIN)/sam package --template-file $(BUILD_DIR)/template.yaml --s3-bucket $(BUCKET) --output-template-file $(PACKAGED)
	SAM_CLI_TELEMETRY=0 $(BIN)/sam publish --template $(PACKAGED) --semantic-version $(VERSION)

publish-preflight: $(STAMP)
	@test -n "$(BUCKET)" || { echo "make publish needs BUCKET=<an S3 bucket in the publishing Region that the Serverless Application Repository may read> and AWS credentials (RELEASING.md)"; exit 1; }
	@$(BIN)/python -c 'import boto3, sys; sys.exit(boto3.session.Session().get_credentials() is None)' || { echo "make publish needs AWS credentials (AWS_PROFILE or the usual variables); none found"; exit 1; }

acceptance: $(STAMP) ## The acceptance scenario in a real AWS account (skipped, saying what it needs, without ACCEPTANCE_* variables)
	@if [ -n "$$ACCEPTANCE_PHONE_NUMBER_ID" ]; then $(MAKE) --no-print-directory build ARCH=$(ARCH) || exit 1; fi
	@ARCH=$(ARCH) $(BIN)/python -m acceptance

bench: $(STAMP) ## Measure completion lag, throughput under quota, cold start and artifact size
	$(BIN)/python -m benchmarks

# SIMULATE_ARGS="--scenario cancelled-create --bound 3", or --replay "Schedule(...)" to run one schedule step by step.
simulate: $(STAMP) ## Explore the interleavings of small stack operations in the deterministic simulation; prints schedules and violations
	PYTHONPATH=provider $(BIN)/python -m local_aws.simulation $(SIMULATE_ARGS)

lock: ## Re-resolve constraints.txt from requirements-dev.txt in a scratch venv
	rm -rf /tmp/lock-venv && $(PYTHON) -m venv /tmp/lock-venv
	/tmp/lock-venv/bin/pip install --quiet -r requirements-dev.txt
	# The rules package is this repository's own (an editable path, which a constraints file cannot hold).
	(echo '# Full transitive lock of the dev environment (pip freeze). Regenerate with `make lock`.'; \
	  /tmp/lock-venv/bin/pip freeze --exclude cfn-lint-phone-number-assignment) > constraints.txt

clean: ## Remove the venv, build output and caches
	rm -rf $(VENV) $(TOOLS_VENV) .aws-sam .pytest_cache .ruff_cache .hypothesis .coverage .coverage.*
