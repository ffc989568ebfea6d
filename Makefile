# Liaison — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test coverage lint format bench screenshots clean

# The environment is rebuilt whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Set up, migrate, load the sample district into an empty database, start the service.
run: install
	$(BIN)/liaison db upgrade
	$(BIN)/liaison demo --if-empty
	@$(BIN)/liaison console url
	$(BIN)/liaison serve

test: install
	$(BIN)/pytest -n auto --require-all-templates --durations=10

# The same suite measuring which lines it runs (about half as slow again).
coverage: install
	$(BIN)/pytest -n auto --require-all-templates --cov --cov-report=term:skip-covered

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m benchmarks

# The README's pictures of the console, taken by its browser tests.
screenshots: install
	mkdir -p docs/screenshots
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest -q tests/test_console_browser.py tests/test_console_desk_browser.py tests/test_console_notices_browser.py tests/test_console_reports_browser.py tests/test_year_report.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
