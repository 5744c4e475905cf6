# The two commands of the project: `make run` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-pg lint install lock messages clean example

## The locked dependencies (every transitive one, with hashes), then the project itself.
$(BIN)/.installed: requirements/dev.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/.installed

## Regenerate the lock files after changing the dependencies in pyproject.toml (pins already in
## a lock file are kept; `make lock LOCK_ARGS=--upgrade` moves every transitive pin to the latest).
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet pip-tools==7.6.2
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_FLAGS) -o requirements/main.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_FLAGS) --extra dev -o requirements/dev.lock pyproject.toml

## Install, migrate the embedded SQLite database, load the demo data if empty, serve on :8000.
run: install
	$(BIN)/campusid db upgrade
	$(BIN)/campusid demo
	$(BIN)/campusid serve --host 127.0.0.1 --port 8000

## The example relying party 班级圈 (examples/banjiquan): campusid on :8000, the app on :8001.
example: install
	$(BIN)/campusid db upgrade
	$(BIN)/campusid demo
	$(BIN)/campusid oidc register-client --name 班级圈 --first-party --reuse \
		--redirect-uri http://127.0.0.1:8001/callback --post-logout-uri http://127.0.0.1:8001/ \
		--backchannel-logout-uri http://127.0.0.1:8001/backchannel-logout \
		--write examples/banjiquan/client.json
	$(BIN)/campusid serve --host 127.0.0.1 --port 8000 & trap "kill $$!" EXIT INT TERM; \
		$(BIN)/python examples/banjiquan/app.py

## Lint, type-check and run the whole suite (SQLite), on two pytest-xdist workers; each
## worker has its own database. PYTEST_ARGS= runs it in one process.
PYTEST_ARGS ?= -n 2 --dist loadscope
test: install lint
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## The same suite against PostgreSQL (CI runs this too).
test-pg: install
	CAMPUSID_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest $(PYTEST_ARGS)

## Refresh the translation template and the English catalog after changing texts.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -o src/campusid/locale/messages.pot .
	$(BIN)/pybabel update -i src/campusid/locale/messages.pot -d src/campusid/locale -l en \
		--no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
