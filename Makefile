# frontdesk — every target installs into .venv when needed, from the lock file uv.lock.
# `make run` installs the library and the server extra only; test/lint/bench add the dev tools.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
UV := .uv/bin/uv
# uv: the lock's exact versions only (--locked fails when pyproject.toml changed: run `make lock`),
# this interpreter, never a downloaded one
SYNC := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(UV) sync --locked --quiet --compile-bytecode --python $(PYTHON)
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.run-installed

.PHONY: run test test-slow test-model mutation lint fmt bench lock clean

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-warn-script-location --target .uv uv==$(UV_VERSION)

# dev: everything (the server extra, test and lint tools)
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(SYNC) --extra dev
	touch $(STAMP) $(RUN_STAMP)

# run: the library and the server extra (--inexact keeps dev tools a previous `make test` installed)
$(RUN_STAMP): pyproject.toml uv.lock | $(UV)
	$(SYNC) --inexact --extra server
	touch $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/frontdesk migrate
	$(BIN)/frontdesk serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Fuzzing, races, faults and several processes (tests/reliability, marked slow; a few minutes),
# then the build smoke test (sdist and wheel into fresh venvs).
test-slow: $(STAMP)
	FRONTDESK_TEST_SLOW=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m slow tests/reliability tests/packaging $(PYTEST_ARGS)

# The contract's state machine (tests/model), longer than in `make test`: random seeds, more runs.
test-model: $(STAMP)
	FRONTDESK_MODEL_LONG=1 $(BIN)/python -m pytest -q -p no:cacheprovider -o timeout=3600 tests/model $(PYTEST_ARGS)

# Mutation testing of the rule modules (cosmic-ray, one worker; slow, never part of `make test`):
# the score per module goes to docs/mutation-report.md, the surviving mutants to build/mutation/.
# `make mutation GROUPS="crypto nextpath"` runs some groups (names in tests/mutation/run.py).
mutation: $(STAMP)
	$(BIN)/python -m tests.mutation.run $(GROUPS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench examples
	$(BIN)/ruff format src tests bench examples

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# After changing dependencies in pyproject.toml: re-resolve uv.lock (commit it).
lock: | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) lock --python $(PYTHON)

clean:
	rm -rf $(VENV) .uv .pytest_cache .mypy_cache .ruff_cache frontdesk.db
