# kops-iam: every entry point a developer, CI or a newcomer needs.
# Only Python 3.11+, Node.js and make are assumed; everything else is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

# The CDK CLI and jsii: offline, quiet, no phoning home.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_HOME := $(CURDIR)/.cdk-home
export AWS_EC2_METADATA_DISABLED := true

.PHONY: help install demo test lint typecheck docs unit golden synth bootstrap diff deploy destroy reliability reliability-long mutation bench catalogue docs-tables clean

help:
	@echo "make demo         run the whole flow on an embedded AWS emulator"
	@echo "make test         lint, type-check and run the whole test suite"
	@echo "make golden       rewrite the golden files (tests/golden/) from today's output"
	@echo "make docs         build the documentation site (docs/, mkdocs.yml) into build/site"
	@echo "make synth        synthesize the CDK stack offline"
	@echo "make diff | deploy | destroy [CONTEXT='-c kops-iam:KEY=VALUE ...']  against AWS"
	@echo "make reliability  fuzzing, fault injection, races, privilege (fast mode)"
	@echo "make mutation    mutation testing of the core, incremental (not part of the tests)"
	@echo "make bench        benchmark suite (not part of the tests)"

$(STAMP): pyproject.toml functions/requirements.txt tools/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(STAMP)
	$(BIN)/kops-iam demo

lint: $(STAMP)
	$(BIN)/ruff check functions tools infra tests bench scripts app.py
	$(BIN)/ruff format --check functions tools infra tests bench scripts app.py

# mypy --strict over functions/kops_iam, tools/kops_iam_tools and bench/ (pyproject.toml, [tool.mypy])
typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck docs $(NODE_STAMP)
	$(BIN)/python -m pytest -n 2 tests

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

# Golden files (tests/golden/README.md): rewrite them from today's output, then review the
# diff of tests/golden/ before committing it.
golden: $(STAMP)
	KOPS_IAM_GOLDEN=update $(BIN)/python -m pytest -q tests/golden
	@git status --short -- tests/golden || true

# The CDK CLI, offline and quiet; cdk.json's app command runs .venv/bin/python itself.
CDK := npx --no-install cdk
CDK_FLAGS := --no-notices --no-version-reporting
# Stack settings for synth/diff/deploy/destroy, e.g.
#   make deploy CONTEXT='-c kops-iam:permissionsBoundaryArn=arn:aws:iam::111122223333:policy/kops-boundary'
CONTEXT ?=

synth: $(STAMP) $(NODE_STAMP)
	$(CDK) synth $(CDK_FLAGS) $(CONTEXT) --quiet > /dev/null
	$(BIN)/cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json
	@echo "synthesized to cdk.out/ (cdk-nag and cfn-lint passed)"

# Against a real AWS account (credentials and region from the usual AWS environment).
bootstrap: $(STAMP) $(NODE_STAMP)
	$(CDK) bootstrap $(CDK_FLAGS)

diff: $(STAMP) $(NODE_STAMP)
	$(CDK) diff $(CDK_FLAGS) $(CONTEXT)

deploy: $(STAMP) $(NODE_STAMP)
	$(CDK) deploy $(CDK_FLAGS) $(CONTEXT) $(DEPLOY_FLAGS)

destroy: $(STAMP) $(NODE_STAMP)
	$(CDK) destroy $(CDK_FLAGS) $(CONTEXT) $(DESTROY_FLAGS)

# Reliability suite (tests/reliability, docs/reliability.md): fast mode is also part of
# `make test`; the figures of a run go to build/reliability/ and into docs/reliability.md.
RELIABILITY_OUT := build/reliability

reliability: $(STAMP)
	rm -f $(RELIABILITY_OUT)/summary-fast.json*
	KOPS_IAM_RELIABILITY=fast KOPS_IAM_RELIABILITY_SUMMARY=$(RELIABILITY_OUT)/summary-fast.json \
		$(BIN)/python -m pytest -n 2 --dist loadfile tests/reliability; status=$$?; \
	$(BIN)/python tests/reliability/report.py $(RELIABILITY_OUT)/summary-fast.json \
		--update docs/reliability.md && exit $$status

reliability-long: $(STAMP)
	rm -f $(RELIABILITY_OUT)/summary-long.json*
	KOPS_IAM_RELIABILITY=long KOPS_IAM_RELIABILITY_SUMMARY=$(RELIABILITY_OUT)/summary-long.json \
		$(BIN)/python -m pytest -n 2 --dist loadfile tests/reliability; status=$$?; \
	$(BIN)/python tests/reliability/report.py $(RELIABILITY_OUT)/summary-long.json \
		--update docs/reliability.md && exit $$status

# Mutation testing of the core (tests/mutation, docs/adr/0120): mutmut 3, one target per
# module with the tests that target it; incremental (build/mutation/ keeps the verdicts).
# Not part of `make test`. MUTATION='policy spec' runs some targets; MUTATION_FLAGS=--fresh
# starts over; MUTATION_FLAGS='--update docs/reliability.md' records the figures.
MUTATION ?=
MUTATION_FLAGS ?=

mutation: $(STAMP)
	nice -n 10 $(BIN)/python tests/mutation/run.py $(MUTATION_FLAGS) $(MUTATION)

bench: $(STAMP)
	$(BIN)/python -m bench

# The documentation site (mkdocs.yml, ADR 55): --strict, so a broken link or anchor fails
# `make test`; offline (no web fonts, no plugin that downloads at build time).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Docs generated from code (the settings table); a test fails when they are stale.
DOCS_WITH_TABLES := docs/settings.md

docs-tables: $(STAMP)
	$(BIN)/python -m kops_iam_tools.docs $(DOCS_WITH_TABLES)

catalogue: $(STAMP)
	$(BIN)/python scripts/build_catalogue.py

clean:
	rm -rf $(VENV) node_modules cdk.out .cdk-home .mypy_cache .ruff_cache .hypothesis
